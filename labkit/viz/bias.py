"""Figures for bias measurements: a per-item association against a real-world share, with its spread."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from labkit.viz.style import PALETTE, kit_style, new_axes


def association_scatter(share: Sequence[float], association: Sequence[float], labels: Sequence[str], *,
                        low: Sequence[float] | None = None, high: Sequence[float] | None = None,
                        annotate: Sequence[str] = (), xlabel: str = "", ylabel: str = "", title: str = "",
                        ax: Axes | None = None) -> Figure:
    """One point per item (e.g. an occupation): its ``association`` ``(n,)`` against its ``share`` ``(n,)``.

    Everything after the labels is a keyword-only display option with a default, as in matplotlib.

    ``low`` / ``high`` ``(n,)`` draw a vertical bar per point (e.g. the spread across templates, min to
    max); ``annotate`` names the items to label (labelling all 40 occupations would be unreadable); a
    dashed line marks zero association and a grey line the least-squares fit.
    """
    x, y = np.asarray(share, dtype=float), np.asarray(association, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or len(labels) != len(x) or len(x) < 2:
        raise ValueError(f"share, association and labels must be equal-length 1-d sequences of at least two "
                         f"items, got {x.shape}, {y.shape} and {len(labels)} labels")
    if (low is None) != (high is None):
        raise ValueError("give both low and high, or neither")
    unknown = sorted(set(annotate) - set(labels))
    if unknown:
        raise ValueError(f"cannot annotate items that are not plotted: {unknown}")
    with kit_style():
        figure, ax = new_axes(ax)
        if low is not None:
            lower, upper = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
            if lower.shape != x.shape or upper.shape != x.shape or np.any(lower > y) or np.any(upper < y):
                raise ValueError("low and high must be one bound per item, with low <= association <= high")
            ax.vlines(x, lower, upper, color=PALETTE[0], alpha=0.35, linewidth=1.5, label="spread across templates")
        ax.scatter(x, y, color=PALETTE[0], s=22, zorder=3)
        slope, intercept = np.polyfit(x, y, 1)
        grid = np.linspace(x.min(), x.max(), 50)
        ax.plot(grid, slope * grid + intercept, color="0.45", linewidth=1.2, label="least-squares line")
        ax.axhline(0, color="0.4", linestyle="--", linewidth=1)
        for name in annotate:
            index = list(labels).index(name)
            ax.annotate(name, (x[index], y[index]), xytext=(4, 3), textcoords="offset points", fontsize=8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(loc="best", fontsize=8)
    return figure
