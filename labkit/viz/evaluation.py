"""Evaluation figures: confusion matrices, reliability diagrams, forest plots of confidence intervals.

Each returns a ``Figure``, takes an optional ``ax`` and never calls ``plt.show()``. The numbers come
from ``labkit.evaluation`` (``confusion_matrix``, ``calibration_bins``, ``bootstrap_ci``...).
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from labkit.viz.style import PALETTE, SEQUENTIAL_CMAP, kit_style, new_axes


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

    (More than eight parameters: past the data, all are keyword-only display options with defaults,
    as in matplotlib's own functions; a caller passes only the ones they change.)
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
            counts = np.asarray(calibration.bin_count)[filled]
            for x, y, count in zip(centres[filled], accuracy[filled], counts, strict=True):
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
        for position, (_, estimate, low, high) in enumerate(rows):
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


