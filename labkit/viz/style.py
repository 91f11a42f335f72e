"""The kit's one figure style, and the helpers every figure is built with.

``PALETTE`` and the colour maps, ``kit_style()`` (the rc settings every figure is drawn inside),
``new_axes`` / ``new_grid`` (a new pyplot-free ``Figure``, or the caller's ``ax``), and
``save_for_slides`` (export at 16:9 slide size). Importing this module also registers a PNG display
for ``Figure`` in IPython, so a figure returned as a notebook cell's value shows exactly once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

# A colour-blind-safe palette (Okabe & Ito), in the order series are drawn.
PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # green
    "#D55E00",  # vermillion
    "#CC79A7",  # purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
SEQUENTIAL_CMAP = "viridis"  # for weights and probabilities (attention heatmaps, confusion matrices)
DIVERGING_CMAP = "RdBu_r"  # for signed quantities (feature importance, differences)

SLIDE_SIZE = (10.0, 5.625)  # inches: 16:9
DEFAULT_SIZE = (6.4, 4.0)

STYLE: dict[str, object] = {
    "figure.figsize": DEFAULT_SIZE,
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "savefig.bbox": "tight",
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linestyle": "-",
    "legend.frameon": False,
    "image.cmap": SEQUENTIAL_CMAP,
    "axes.prop_cycle": matplotlib.cycler(color=list(PALETTE)),
}


def _show_figures_in_notebooks() -> None:
    """Make a ``Figure`` returned as a notebook cell's value display as a PNG, whatever the backend.

    Our figures are built without pyplot, so they would otherwise show only as text unless the
    notebook ran ``%matplotlib inline`` first.
    """
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure
    except ImportError:  # pragma: no cover - IPython comes with Jupyter
        return
    shell = get_ipython()
    if shell is None:
        return
    shell.display_formatter.formatters["image/png"].for_type(
        Figure, lambda figure: print_figure(figure, "png", bbox_inches="tight"))


_show_figures_in_notebooks()


@contextlib.contextmanager
def kit_style() -> Iterator[None]:
    """Context manager that applies the kit's one figure style."""
    with matplotlib.rc_context(STYLE):
        yield


def use_kit_style() -> None:
    """Apply the kit's style globally (for a notebook's own ad-hoc plots)."""
    matplotlib.rcParams.update(STYLE)


def new_axes(ax: Axes | None = None, figsize: Sequence[float] | None = None) -> tuple[Figure, Axes]:
    """Return ``(figure, axes)``: the given ``ax`` and its figure, or a new figure in the kit style.

    Call inside ``kit_style()`` so the new figure picks the style up.
    """
    if ax is not None:
        return ax.figure, ax
    figure = Figure(figsize=tuple(figsize) if figsize else DEFAULT_SIZE, layout="constrained")
    return figure, figure.add_subplot()


def new_grid(rows: int, columns: int, cell_size: Sequence[float] = (2.0, 2.0),
             **subplot_kwargs: object) -> tuple[Figure, object]:
    """A new figure with a ``rows x columns`` grid of axes (returned as a 2-D array)."""
    if rows < 1 or columns < 1:
        raise ValueError(f"a grid needs at least one row and column, got {rows}x{columns}")
    figure = Figure(figsize=(cell_size[0] * columns, cell_size[1] * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False, **subplot_kwargs)
    return figure, axes


def save_for_slides(figure: Figure, path: str | Path, size: Sequence[float] = SLIDE_SIZE) -> Path:
    """Save ``figure`` at slide size (16:9 by default) as SVG, PNG or PDF, chosen by the extension.

    The figure's own size is restored afterwards, so the notebook view does not change.
    """
    path = Path(path)
    if path.suffix.lower() not in {".svg", ".png", ".pdf"}:
        raise ValueError(f"save as .svg, .png or .pdf, not {path.suffix or 'no extension'!r}")
    original = figure.get_size_inches().copy()
    try:
        figure.set_size_inches(*size)
        with kit_style():
            figure.savefig(path)
    finally:
        figure.set_size_inches(*original)
    return path
