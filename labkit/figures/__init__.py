"""The figures the notebooks show, rebuilt from the kit's shipped data, for teachers' own slides.

``FIGURES`` maps a name ``"NN-topic"`` (``NN``: the notebook that shows it) to a function that builds
the figure with the same ``labkit.viz`` call and the same data as the notebook, and returns the
matplotlib ``Figure``. ``export_figures`` (``labkit figures --out DIR --dpi N``) writes each as
``NN-topic.png`` and ``NN-topic.svg``, in the kit's style, at the figure's own size.

The builders, by notebook: ``foundations`` (00 to 04), ``choosing`` (05, 06), ``inside`` (07);
``shared`` loads the data several of them use, once. Everything comes from ``data/`` (datasets,
checkpoints, shipped results) or is recomputed in seconds with a fixed seed; nothing is trained.
Left out on purpose: figures drawn ad hoc in a notebook rather than by a ``labkit.viz`` function, the
figure of a live training run (notebook 03 trains for a minute), a figure that shows an exercise's
answer, and bertviz's interactive views (HTML, not figures).
"""

from __future__ import annotations

from labkit.figures import choosing, foundations, inside  # noqa: F401  (importing them registers their figures)
from labkit.figures.registry import FIGURES, export_figures, figure

__all__ = ["FIGURES", "export_figures", "figure"]
