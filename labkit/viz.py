"""Every figure in the kit, in one style.

Rules every function here follows (teachers reuse these figures in slides):

* it returns a matplotlib ``Figure`` and never calls ``plt.show()``;
* it takes an optional ``ax`` to draw into (then it returns ``ax.figure``);
* it draws inside ``kit_style()``, so fonts, colours and grid are the same everywhere;
* it builds a ``matplotlib.figure.Figure`` directly rather than through pyplot, so nothing is left
  open in pyplot's global state and a notebook shows the figure exactly once (as a cell's value);
* ``save_for_slides(fig, "name.svg")`` exports it at slide size (SVG or PNG).
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


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str = "",
              xlabel: str = "", ax: Axes | None = None, color: str = PALETTE[0],
              value_format: str = "{:.2f}") -> Figure:
    """Horizontal bars with their values written at the end: the kit's default for comparisons."""
    if len(labels) != len(values):
        raise ValueError(f"{len(labels)} labels but {len(values)} values")
    with kit_style():
        figure, ax = new_axes(ax)
        positions = range(len(labels))
        ax.barh(list(positions), list(values), color=color)
        ax.set_yticks(list(positions), labels=list(labels))
        ax.invert_yaxis()
        ax.grid(axis="y", visible=False)
        for position, value in zip(positions, values):
            ax.annotate(value_format.format(value), (value, position), xytext=(3, 0),
                        textcoords="offset points", va="center", fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_title(title)
    return figure


def grouped_bars(values: dict[str, dict[str, float]], *, title: str = "", ylabel: str = "",
                 ax: Axes | None = None, value_format: str | None = None) -> Figure:
    """Vertical bars grouped by category, one colour per series: ``{series: {category: value}}``.

    Categories appear in first-seen order. ``value_format`` (e.g. ``"{:.2f}"``) writes each value above
    its bar.
    """
    if not values:
        raise ValueError("grouped_bars needs at least one series")
    categories = list(dict.fromkeys(name for per_series in values.values() for name in per_series))
    with kit_style():
        figure, ax = new_axes(ax)
        width = 0.8 / len(values)
        for index, (series, per_series) in enumerate(values.items()):
            offsets = [c + index * width - 0.4 + width / 2 for c in range(len(categories))]
            heights = [per_series.get(name, 0) for name in categories]
            bars = ax.bar(offsets, heights, width=width, label=series)
            if value_format:
                ax.bar_label(bars, labels=[value_format.format(h) for h in heights], fontsize=8, padding=2)
        rotate = len(categories) > 4
        ax.set_xticks(range(len(categories)), labels=categories, rotation=45 if rotate else 0,
                      ha="right" if rotate else "center")
        ax.grid(axis="x", visible=False)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend()
    return figure


def class_balance(counts: dict[str, dict[str, int]], *, title: str = "Examples per class",
                  ax: Axes | None = None) -> Figure:
    """Grouped bars of examples per class for each split: ``{split: {class name: count}}``."""
    if not counts:
        raise ValueError("class_balance needs at least one split")
    ordered = {split: dict(sorted(per_split.items())) for split, per_split in counts.items()}
    return grouped_bars(ordered, title=title, ylabel="examples", ax=ax)


def line_chart(series: dict[str, tuple[Sequence[float], Sequence[float]]], *, title: str = "",
               xlabel: str = "", ylabel: str = "", ax: Axes | None = None, markers: bool = True,
               reference: float | None = None, reference_label: str = "",
               bands: dict[str, tuple[Sequence[float], Sequence[float]]] | None = None,
               log_x: bool = False) -> Figure:
    """One line per named series, ``{name: (x values, y values)}``: learning and training curves.

    ``reference`` draws a dashed horizontal line (chance level, a baseline's score...). ``bands`` maps
    a series name to ``(low, high)`` values at the same x (a confidence interval), drawn as a shaded
    band in the series' colour. ``log_x`` puts x on a log scale (training-set sizes).
    """
    if not series:
        raise ValueError("line_chart needs at least one series")
    unknown = set(bands or {}) - set(series)
    if unknown:
        raise ValueError(f"bands for series that are not plotted: {sorted(unknown)}")
    with kit_style():
        figure, ax = new_axes(ax)
        for name, (x, y) in series.items():
            if len(x) != len(y):
                raise ValueError(f"series {name!r} has {len(x)} x values but {len(y)} y values")
            (line,) = ax.plot(list(x), list(y), marker="o" if markers else None, markersize=3, label=name)
            if bands and name in bands:
                low, high = bands[name]
                if not len(low) == len(high) == len(x):
                    raise ValueError(f"band of {name!r} needs {len(x)} low and high values")
                ax.fill_between(list(x), list(low), list(high), color=line.get_color(), alpha=0.15, linewidth=0)
        if log_x:
            ax.set_xscale("log")
        if reference is not None:
            ax.axhline(reference, color="grey", linestyle="--", linewidth=1, label=reference_label or None)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend()
    return figure


# --- attention figures ---


def _as_matrix_stack(values: object) -> object:
    """A torch tensor, NumPy array or nested list as a float NumPy array (detached, on the CPU)."""
    import numpy as np

    if hasattr(values, "detach"):
        values = values.detach().float().cpu().numpy()
    return np.asarray(values, dtype=float)


def attention_heatmap(weights: object, tokens: Sequence[str], *, query_tokens: Sequence[str] | None = None,
                      title: str = "", ax: Axes | None = None, annotate: bool | None = None,
                      vmax: float | None = 1.0, colorbar: bool = True, cmap: str = SEQUENTIAL_CMAP,
                      value_label: str = "attention weight") -> Figure:
    """One head's attention weights as a heatmap: rows are queries (who looks), columns keys (at whom).

    ``weights`` has shape ``(Lq, Lk)`` (tensor or array). ``tokens`` label the keys (and the queries too
    unless ``query_tokens`` is given); if there are fewer labels than positions the matrix is cropped to
    them, so passing only the real tokens hides padding. ``annotate`` writes each weight in its cell
    (default: when the matrix is at most 12 x 12). ``vmax=None`` scales the colours to the data.
    """
    matrix = _as_matrix_stack(weights)
    if matrix.ndim != 2:
        raise ValueError(f"attention_heatmap takes one head's weights of shape (Lq, Lk), got shape {matrix.shape}")
    query_tokens = list(tokens) if query_tokens is None else list(query_tokens)
    tokens = list(tokens)
    if len(query_tokens) > matrix.shape[0] or len(tokens) > matrix.shape[1]:
        raise ValueError(f"{len(query_tokens)} query / {len(tokens)} key labels for weights of shape {matrix.shape}")
    matrix = matrix[: len(query_tokens), : len(tokens)]
    if annotate is None:
        annotate = max(matrix.shape) <= 12
    with kit_style():
        size = (max(3.5, 0.45 * len(tokens) + 2.0), max(3.0, 0.4 * len(query_tokens) + 1.5))
        figure, ax = new_axes(ax, figsize=size)
        image = ax.imshow(matrix, cmap=cmap, vmin=0.0, vmax=vmax, aspect="auto", interpolation="nearest")
        ax.set_xticks(range(len(tokens)), labels=tokens, rotation=60, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(len(query_tokens)), labels=query_tokens)
        ax.grid(False)
        ax.set_xlabel("key (attended to)")
        ax.set_ylabel("query (attending)")
        ax.set_title(title)
        if annotate:
            top = vmax if vmax is not None else (matrix.max() if matrix.size else 1.0)
            for (row, column), value in _enumerate_cells(matrix):
                ax.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=8,
                        color="black" if value > 0.6 * top else "white")
        if colorbar:
            figure.colorbar(image, ax=ax, shrink=0.8, label=value_label)
    return figure


def _enumerate_cells(matrix: object) -> Iterator[tuple[tuple[int, int], float]]:
    rows, columns = matrix.shape
    for row in range(rows):
        for column in range(columns):
            yield (row, column), float(matrix[row, column])


def attention_grid(attentions: object, tokens: Sequence[str], *, layers: Sequence[int] | None = None,
                   heads: Sequence[int] | None = None, example: int = 0, title: str = "",
                   cell_size: Sequence[float] = (1.7, 1.7), show_tokens: bool | None = None) -> Figure:
    """A grid of attention heatmaps: one row per layer, one column per head.

    ``attentions`` is what a model returns with ``output_attentions=True`` (a tuple of ``num_layers``
    tensors ``(B, H, L, L)``; ``example`` picks the batch row) or an array ``(layers, heads, L, L)``.
    ``layers``/``heads`` choose a subset (default: all). The matrices are cropped to ``len(tokens)``, so
    passing only the real tokens hides padding. Token labels are drawn on the outer axes when the
    sequence is short (``show_tokens``; default: at most 16 tokens).
    """
    import numpy as np

    if isinstance(attentions, (tuple, list)):
        stack = np.stack([_as_matrix_stack(layer) for layer in attentions])
    else:
        stack = _as_matrix_stack(attentions)
    if stack.ndim == 5:
        stack = stack[:, example]
    if stack.ndim != 4 or stack.shape[-1] != stack.shape[-2]:
        raise ValueError("attention_grid takes per-layer weights (B, H, L, L) or an array (layers, heads, L, L), "
                         f"got shape {stack.shape}")
    layers = list(range(stack.shape[0])) if layers is None else list(layers)
    heads = list(range(stack.shape[1])) if heads is None else list(heads)
    tokens = list(tokens)
    if len(tokens) > stack.shape[-1]:
        raise ValueError(f"{len(tokens)} token labels for sequences of length {stack.shape[-1]}")
    show_tokens = len(tokens) <= 16 if show_tokens is None else show_tokens
    with kit_style():
        figure, axes = new_grid(len(layers), len(heads), cell_size=cell_size)
        n = len(tokens)
        for row, layer in enumerate(layers):
            for column, head in enumerate(heads):
                ax = axes[row, column]
                ax.imshow(stack[layer, head, :n, :n], cmap=SEQUENTIAL_CMAP, vmin=0.0, vmax=1.0,
                          interpolation="nearest")
                ax.grid(False)
                ax.set_xticks([])
                ax.set_yticks([])
                if row == 0:
                    ax.set_title(f"head {head}", fontsize=9)
                if column == 0:
                    ax.set_ylabel(f"layer {layer}", fontsize=9)
                if show_tokens and row == len(layers) - 1:
                    ax.set_xticks(range(n), labels=tokens, rotation=90, fontsize=6)
                if show_tokens and column == 0:
                    ax.set_yticks(range(n), labels=tokens, fontsize=6)
        if title:
            figure.suptitle(title, fontweight="bold")
    return figure


def attention_masks(masks: dict[str, object], tokens: Sequence[str], *, title: str = "",
                    cell_size: Sequence[float] = (3.4, 3.4)) -> Figure:
    """Boolean attention masks side by side (``{name: (L, L) mask}``): filled = may attend.

    For example BERT's bidirectional mask next to GPT's causal mask for the same tokens.
    """
    if not masks:
        raise ValueError("attention_masks needs at least one mask")
    with kit_style():
        figure, axes = new_grid(1, len(masks), cell_size=cell_size)
        for ax, (name, mask) in zip(axes[0], masks.items()):
            attention_heatmap(_as_matrix_stack(mask), tokens, title=name, ax=ax, annotate=False,
                              colorbar=False, cmap="Blues")
        if title:
            figure.suptitle(title, fontweight="bold")
    return figure


# --- evaluation figures ---


def confusion_matrix_figure(matrix: Sequence[Sequence[float]], labels: Sequence[str] | None = None, *,
                            normalize: bool = False, title: str = "Confusion matrix",
                            ax: Axes | None = None, cmap: str = SEQUENTIAL_CMAP, annotate: bool | None = None,
                            colorbar: bool = True) -> Figure:
    """A confusion matrix ``(k, k)`` of counts (rows: true class, columns: predicted class) as a heatmap.

    ``matrix`` is e.g. ``labkit.evaluation.confusion_matrix(y_true, y_pred)``; ``labels`` names the
    classes in its order. ``normalize=True`` colours and labels each row by the fraction of that class
    (rows become recalls; a class with no examples stays 0). Cells are annotated with their value when
    there are at most 12 classes (``annotate`` overrides).
    """
    import numpy as np

    counts = np.asarray(matrix, dtype=float)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise ValueError(f"a confusion matrix must be square (k, k) with k >= 1, got shape {counts.shape}")
    k = counts.shape[0]
    if labels is None:
        labels = [str(i) for i in range(k)]
    if len(labels) != k:
        raise ValueError(f"{len(labels)} labels for a {k}x{k} confusion matrix")
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    else:
        values = counts
    annotate = k <= 12 if annotate is None else annotate
    with kit_style():
        figure, ax = new_axes(ax, figsize=(max(3.5, 0.6 * k + 2.5), max(3.0, 0.6 * k + 1.8)))
        image = ax.imshow(values, cmap=cmap, vmin=0, vmax=1 if normalize else max(values.max(), 1))
        ax.grid(False)
        ax.set_xticks(range(k), labels=[str(label) for label in labels], rotation=45 if k > 4 else 0,
                      ha="right" if k > 4 else "center")
        ax.set_yticks(range(k), labels=[str(label) for label in labels])
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        if annotate:
            threshold = image.norm(values).mean() if values.size else 0.5
            for i in range(k):
                for j in range(k):
                    text = f"{values[i, j]:.2f}" if normalize else f"{int(round(values[i, j])):d}"
                    shade = image.norm(values[i, j])
                    ax.text(j, i, text, ha="center", va="center", fontsize=9,
                            color="white" if shade < max(threshold, 0.5) else "black")
        if colorbar:
            figure.colorbar(image, ax=ax, shrink=0.8, label="fraction of true class" if normalize else "examples")
        ax.set_title(title)
    return figure


def reliability_diagram(y_true: Sequence | None = None, y_prob: Sequence | None = None, *,
                        calibration: object | None = None, n_bins: int = 10,
                        labels: Sequence | None = None, kind: str = "top_label", title: str | None = None,
                        ax: Axes | None = None, show_counts: bool = True) -> Figure:
    """Reliability diagram: accuracy against confidence per equal-width bin, with the diagonal that a
    perfectly calibrated model would follow and the ECE in the title.

    Give ``y_true`` ``(n_examples,)`` and ``y_prob`` ``(n_examples, n_classes)`` (or binary
    ``(n_examples,)``), binned by ``labkit.evaluation.calibration_bins`` (``n_bins``, ``labels``,
    ``kind``), or an already computed ``calibration=`` (a ``CalibrationBins``). Bars below the diagonal
    mean over-confidence. With ``show_counts`` each bar is labelled with its number of examples.
    """
    import numpy as np

    if calibration is None:
        if y_true is None or y_prob is None:
            raise ValueError("reliability_diagram needs y_true and y_prob, or calibration=")
        from labkit.evaluation import calibration_bins

        calibration = calibration_bins(y_true, y_prob, n_bins=n_bins, labels=labels, kind=kind)
    edges = np.asarray(calibration.bin_edges)
    centres = (edges[:-1] + edges[1:]) / 2
    widths = np.diff(edges)
    filled = np.asarray(calibration.bin_count) > 0
    accuracy = np.where(filled, calibration.bin_accuracy, 0.0)
    confidence = np.where(filled, calibration.bin_confidence, centres)
    positive = calibration.kind == "positive"
    with kit_style():
        figure, ax = new_axes(ax, figsize=(4.8, 4.4))
        ax.plot([0, 1], [0, 1], linestyle="--", color="0.4", linewidth=1, label="perfectly calibrated")
        ax.bar(centres[filled], accuracy[filled], width=widths[filled] * 0.95, color=PALETTE[0],
               edgecolor="white", label="fraction positive" if positive else "accuracy")
        gap_bottom = np.minimum(accuracy, confidence)[filled]
        gap_height = np.abs(confidence - accuracy)[filled]
        ax.bar(centres[filled], gap_height, bottom=gap_bottom, width=widths[filled] * 0.95, color=PALETTE[3],
               alpha=0.3, edgecolor=PALETTE[3], hatch="//", label="gap to confidence")
        if show_counts:
            for x, y, count in zip(centres[filled], accuracy[filled], np.asarray(calibration.bin_count)[filled]):
                ax.annotate(str(int(count)), (x, y), xytext=(0, 2), textcoords="offset points",
                            ha="center", va="bottom", fontsize=7, color="0.3")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("predicted probability of the positive class" if positive else "confidence (top probability)")
        ax.set_ylabel("fraction positive" if positive else "accuracy")
        ax.set_title(title if title is not None else f"Reliability (ECE = {calibration.ece:.3f})")
        ax.legend(loc="upper left", fontsize=9)
    return figure


def metric_forest_plot(intervals: dict[str, object], *, metric: str = "", title: str = "",
                       reference: float | None = None, ax: Axes | None = None,
                       value_format: str = "{:.3f}") -> Figure:
    """Several models' metric with confidence intervals, one row each (a forest plot).

    ``intervals`` maps a model name to a ``labkit.evaluation.BootstrapCI`` (or anything with
    ``estimate``, ``low``, ``high``), a ``PairedBootstrapResult`` (its ``difference``) or a tuple
    ``(estimate, low, high)``. ``reference`` draws a vertical line (0 for differences, chance level for a
    metric).
    """
    if not intervals:
        raise ValueError("metric_forest_plot needs at least one interval")
    rows = []
    for name, interval in intervals.items():
        if isinstance(interval, (tuple, list)):
            if len(interval) != 3:
                raise ValueError(f"{name}: give (estimate, low, high), got {len(interval)} values")
            estimate, low, high = (float(v) for v in interval)
        else:
            estimate = float(getattr(interval, "estimate", getattr(interval, "difference", float("nan"))))
            low, high = float(interval.low), float(interval.high)
        if not low <= estimate <= high:
            raise ValueError(f"{name}: the estimate {estimate} lies outside its interval [{low}, {high}]")
        rows.append((str(name), estimate, low, high))
    with kit_style():
        figure, ax = new_axes(ax, figsize=(6.4, 1.0 + 0.45 * len(rows)))
        for position, (name, estimate, low, high) in enumerate(rows):
            color = PALETTE[position % len(PALETTE)]
            ax.errorbar([estimate], [position], xerr=[[estimate - low], [high - estimate]], fmt="o",
                        color=color, capsize=4, markersize=6)
            ax.annotate(f"{value_format.format(estimate)} [{value_format.format(low)}, "
                        f"{value_format.format(high)}]", (high, position), xytext=(6, 0),
                        textcoords="offset points", va="center", fontsize=9)
        if reference is not None:
            ax.axvline(reference, color="0.4", linestyle="--", linewidth=1)
        ax.set_yticks(range(len(rows)), labels=[row[0] for row in rows])
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.grid(axis="y", visible=False)
        ax.margins(x=0.25)
        ax.set_xlabel(metric)
        ax.set_title(title)
    return figure


# --- selection figures ---


def pareto_scatter(names: Sequence[str], cost: Sequence[float], quality: Sequence[float],
                   optimal: Sequence[bool], *, sizes: Sequence[float] | None = None,
                   intervals: Sequence[Sequence[float]] | None = None, baseline: float | None = None,
                   baseline_label: str = "majority class", cost_label: str = "latency per example (ms)",
                   quality_label: str = "test accuracy", log_cost: bool = True, title: str = "Quality vs cost",
                   ax: Axes | None = None) -> Figure:
    """Candidates as points (cost on x, quality on y); Pareto-optimal ones joined by a step line.

    ``sizes`` (e.g. parameter counts) scales the markers' areas; ``intervals`` gives each point's
    ``(low, high)`` confidence interval on quality, drawn as a vertical bar; ``baseline`` draws a
    horizontal line (the majority-class rate). Upper-left is better. The legend sits outside the
    axes and the labels stay inside them, so neither can cover a point or be cut at the edge.
    """
    if not (len(names) == len(cost) == len(quality) == len(optimal)):
        raise ValueError("names, cost, quality and optimal must have the same length")
    if len(names) == 0:
        raise ValueError("pareto_scatter needs at least one candidate")
    if intervals is not None and len(intervals) != len(names):
        raise ValueError("intervals must give one (low, high) pair per candidate")
    import numpy as np

    with kit_style():
        figure, ax = new_axes(ax)
        cost, quality, optimal = np.asarray(cost, float), np.asarray(quality, float), np.asarray(optimal, bool)
        if sizes is None:
            areas = np.full(len(names), 60.0)
        else:
            relative = np.sqrt(np.asarray(sizes, float) / max(float(np.max(sizes)), 1e-12))
            areas = 30 + 400 * relative
        if intervals is not None:
            bounds = np.asarray(intervals, float)
            ax.errorbar(cost, quality, yerr=[quality - bounds[:, 0], bounds[:, 1] - quality], fmt="none",
                        ecolor="0.45", elinewidth=1, capsize=3, label="95% CI", zorder=1)
        ax.scatter(cost[~optimal], quality[~optimal], s=areas[~optimal], color=PALETTE[7], alpha=0.35,
                   label="dominated", zorder=2)
        ax.scatter(cost[optimal], quality[optimal], s=areas[optimal], color=PALETTE[0], alpha=0.8,
                   label="Pareto-optimal", zorder=2)
        order = np.argsort(cost[optimal])
        ax.step(cost[optimal][order], quality[optimal][order], where="post", color=PALETTE[0], linewidth=1)
        if baseline is not None:
            ax.axhline(baseline, color="0.4", linestyle="--", linewidth=1, label=baseline_label)
        rightmost = float(np.max(cost))
        for name, x, y in zip(names, cost, quality):
            # the rightmost point's label goes to its left, so it is never cut at the right edge
            left = x == rightmost and len(names) > 1
            ax.annotate(name, (x, y), xytext=(-6 if left else 6, 5), textcoords="offset points", fontsize=8,
                        ha="right" if left else "left")
        if log_cost:
            from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter

            ax.set_xscale("log")
            # plain numbers at 1-2-5 steps; matplotlib's default labels minor ticks as 2x10^0 etc.,
            # which collide when the axis spans less than a decade or two
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.margins(x=0.25, y=0.15)  # room for the labels inside the axes
        ax.set_xlabel(cost_label)
        ax.set_ylabel(quality_label)
        ax.set_title(title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=9)
    return figure


def learning_curves(curve: object, *, metric: str = "accuracy", candidates: Sequence[str] | None = None,
                    title: str = "", xlabel: str = "labelled training examples (log scale)",
                    reference: float | None = None, reference_label: str = "", ax: Axes | None = None) -> Figure:
    """Quality against training-set size, one line per candidate, with its confidence band.

    ``curve`` is a table (a ``pandas.DataFrame``, e.g. from ``selection.load_learning_curve``) with the
    columns ``candidate``, ``train_examples``, ``metric`` and, when present, ``metric_low`` /
    ``metric_high`` (drawn as shaded bands). ``candidates`` picks and orders the lines (default: all).
    """
    missing = [c for c in ("candidate", "train_examples", metric) if c not in curve.columns]
    if missing:
        raise ValueError(f"the curve table has no column(s) {missing}")
    names = list(candidates) if candidates is not None else sorted(curve["candidate"].unique())
    unknown = sorted(set(names) - set(curve["candidate"]))
    if unknown:
        raise ValueError(f"no rows for candidate(s) {unknown}")
    has_band = f"{metric}_low" in curve.columns and f"{metric}_high" in curve.columns
    series, bands = {}, {}
    for name in names:
        rows = curve[curve["candidate"] == name].sort_values("train_examples")
        series[name] = (rows["train_examples"].tolist(), rows[metric].tolist())
        if has_band:
            bands[name] = (rows[f"{metric}_low"].tolist(), rows[f"{metric}_high"].tolist())
    return line_chart(series, bands=bands or None, log_x=True, title=title, xlabel=xlabel,
                      ylabel=f"test {metric}", reference=reference, reference_label=reference_label, ax=ax)


# --- pretraining figures ---


def pretraining_curves(log: Sequence[dict[str, float]], *, title: str = "", x: str = "step",
                       cell_size: Sequence[float] = (4.2, 3.2)) -> Figure:
    """How a pretraining run's held-out metrics grew, from its log (``training_log.csv`` rows).

    One panel per quantity present in the rows: MLM accuracy and NSP accuracy (with chance at 0.5),
    MLM perplexity (log scale) for a BERT log; perplexity for a GPT log; training loss when logged.
    ``x`` is the column on the horizontal axis (``step``, ``tokens`` or ``seconds``).
    """
    if not log:
        raise ValueError("pretraining_curves needs at least one logged row")
    panels = [
        ("held-out accuracy", ["val_mlm_accuracy", "val_nsp_accuracy", "val_next_token_accuracy"], False),
        ("held-out perplexity", ["val_mlm_perplexity", "val_perplexity"], True),
        ("training loss", ["train_loss", "train_mlm_loss", "train_nsp_loss"], False),
    ]
    panels = [(name, [key for key in keys if any(key in row for row in log)], logy) for name, keys, logy in panels]
    panels = [panel for panel in panels if panel[1]]
    if not panels:
        raise ValueError("no known metric columns in the log (expected val_mlm_accuracy, val_perplexity...)")
    labels = {"val_mlm_accuracy": "MLM accuracy", "val_nsp_accuracy": "NSP accuracy",
              "val_next_token_accuracy": "next-token accuracy", "val_mlm_perplexity": "MLM perplexity",
              "val_perplexity": "perplexity", "train_loss": "total", "train_mlm_loss": "MLM",
              "train_nsp_loss": "NSP"}
    with kit_style():
        figure, axes = new_grid(1, len(panels), cell_size=cell_size)
        for ax, (name, keys, logy) in zip(axes[0], panels):
            series = {}
            for key in keys:
                rows = [row for row in log if key in row and x in row]
                series[labels.get(key, key)] = ([row[x] for row in rows], [row[key] for row in rows])
            nsp = "val_nsp_accuracy" in keys
            line_chart(series, xlabel=x, ax=ax, markers=False, reference=0.5 if nsp else None,
                       reference_label="NSP chance" if nsp else "")
            if logy:
                ax.set_yscale("log")
            ax.set_title(name, fontsize=10)
            ax.legend(fontsize=8)
        if title:
            figure.suptitle(title, fontweight="bold")
    return figure
