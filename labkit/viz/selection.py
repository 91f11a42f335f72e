"""Selection figures: candidates' quality against cost, with the Pareto front.

Returns a ``Figure``, takes an optional ``ax`` and never calls ``plt.show()``. The front itself is
computed by ``labkit.selection``.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from labkit.viz.style import PALETTE, kit_style, new_axes


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

    (More than eight parameters: past the four data sequences, all are keyword-only display options
    with defaults, as in matplotlib's own functions; a caller passes only the ones they change.)
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
        for name, x, y in zip(names, cost, quality, strict=True):
            # the rightmost point's label goes to its left, so it is never cut at the right edge
            left = x == rightmost and len(names) > 1
            ax.annotate(name, (x, y), xytext=(-6 if left else 6, 5), textcoords="offset points", fontsize=8,
                        ha="right" if left else "left")
        if log_cost:
            _plain_log_x(ax)
        ax.margins(x=0.25, y=0.15)  # room for the labels inside the axes
        ax.set_xlabel(cost_label)
        ax.set_ylabel(quality_label)
        ax.set_title(title)
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=9)
    return figure


def _plain_log_x(ax: Axes) -> None:
    """A log-scale x axis labelled with plain numbers at 1-2-5 steps.

    matplotlib's default labels minor ticks as 2x10^0 etc., which collide when the axis spans less than
    a decade or two.
    """
    from matplotlib.ticker import LogLocator, NullFormatter, StrMethodFormatter

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
