"""Every figure in the kit, in one style, by subject.

* ``style``: the palette, ``kit_style()``, ``new_axes`` / ``new_grid``, ``save_for_slides``;
* ``charts``: ``bar_chart``, ``grouped_bars``, ``class_balance``, ``line_chart``;
* ``attention``: ``attention_heatmap``, ``attention_grid``, ``attention_masks``;
* ``curves``: ``learning_curves``, ``pretraining_curves``;
* ``evaluation``: ``confusion_matrix_figure``, ``reliability_diagram``, ``metric_forest_plot``;
* ``selection``: ``pareto_scatter``;
* ``bias``: ``association_scatter`` (an association against a real-world share, with its spread);
* ``graph``: ``corpus_graph_figure`` (a small TextGCN corpus graph, documents and words told apart);
* ``tokens``: ``token_highlight_html``, ``token_highlight_table`` (escaped HTML), ``token_highlight_figure``,
  ``attribution_bars``, ``rollout_heatmap``;
* ``bertviz_offline``: ``head_view_html``, ``model_view_html`` (bertviz's views with jQuery and d3 inlined from
  ``viz/vendor/``, so they draw offline, in JupyterLab too).

Everything is importable from ``labkit.viz`` directly (``from labkit.viz import bar_chart``).

Rules every function here follows (teachers reuse these figures in slides):

* it returns a matplotlib ``Figure`` and never calls ``plt.show()``;
* it takes an optional ``ax`` to draw into (then it returns ``ax.figure``), except the figures made
  of several panels (``attention_grid``, ``attention_masks``, ``pretraining_curves``), which make their
  own figure;
* it draws inside ``kit_style()``, so fonts, colours and grid are the same everywhere;
* it builds a ``matplotlib.figure.Figure`` directly rather than through pyplot, so nothing is left
  open in pyplot's global state and a notebook shows the figure exactly once (as a cell's value);
* ``save_for_slides(fig, "name.svg")`` exports it at slide size (SVG or PNG).
"""

from __future__ import annotations

from labkit.viz.attention import attention_grid, attention_heatmap, attention_masks
from labkit.viz.bertviz_offline import head_view_html, model_view_html
from labkit.viz.bias import association_scatter
from labkit.viz.charts import bar_chart, class_balance, grouped_bars, line_chart
from labkit.viz.curves import learning_curves, pretraining_curves
from labkit.viz.evaluation import confusion_matrix_figure, metric_forest_plot, reliability_diagram
from labkit.viz.graph import corpus_graph_figure
from labkit.viz.selection import pareto_scatter
from labkit.viz.style import (
    DEFAULT_SIZE,
    DIVERGING_CMAP,
    PALETTE,
    SEQUENTIAL_CMAP,
    SLIDE_SIZE,
    STYLE,
    kit_style,
    new_axes,
    new_grid,
    save_for_slides,
    use_kit_style,
)
from labkit.viz.style import _show_figures_in_notebooks as _show_figures_in_notebooks  # private; a test calls it
from labkit.viz.tokens import (
    attribution_bars,
    rollout_heatmap,
    token_highlight_figure,
    token_highlight_html,
    token_highlight_table,
)

__all__ = [
    "PALETTE",
    "SEQUENTIAL_CMAP",
    "DIVERGING_CMAP",
    "SLIDE_SIZE",
    "DEFAULT_SIZE",
    "STYLE",
    "kit_style",
    "use_kit_style",
    "new_axes",
    "new_grid",
    "save_for_slides",
    "association_scatter",
    "corpus_graph_figure",
    "bar_chart",
    "grouped_bars",
    "class_balance",
    "line_chart",
    "attention_heatmap",
    "attention_grid",
    "attention_masks",
    "confusion_matrix_figure",
    "reliability_diagram",
    "metric_forest_plot",
    "pareto_scatter",
    "learning_curves",
    "pretraining_curves",
    "token_highlight_html",
    "token_highlight_table",
    "token_highlight_figure",
    "attribution_bars",
    "rollout_heatmap",
    "head_view_html",
    "model_view_html",
]
