"""Curves of learning: held-out quality against training-set size, and a pretraining run's metrics.

Both draw with ``labkit.viz.charts.line_chart``; each returns a ``Figure`` and never calls
``plt.show()``. ``learning_curves`` takes an optional ``ax``; ``pretraining_curves`` builds one panel
per quantity, so it makes its own figure.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from labkit.viz.charts import line_chart
from labkit.viz.style import kit_style, new_grid


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
        for ax, (name, keys, logy) in zip(axes[0], panels, strict=True):
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
