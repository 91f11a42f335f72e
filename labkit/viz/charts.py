"""General charts: horizontal bars, grouped bars, class balance, line charts with bands.

The building blocks the subject figures reuse (``learning_curves`` and ``pretraining_curves`` draw
with ``line_chart``). Each returns a ``Figure``, takes an optional ``ax`` and never calls ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from labkit.viz.style import PALETTE, kit_style, new_axes


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
        for position, value in zip(positions, values, strict=True):
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

    (More than eight parameters: past the data, all are keyword-only display options with defaults,
    as in matplotlib's own functions; a caller passes only the ones they change.)
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


