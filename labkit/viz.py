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


def class_balance(counts: dict[str, dict[str, int]], *, title: str = "Examples per class",
                  ax: Axes | None = None) -> Figure:
    """Grouped bars of examples per class for each split: ``{split: {class name: count}}``."""
    if not counts:
        raise ValueError("class_balance needs at least one split")
    with kit_style():
        figure, ax = new_axes(ax)
        classes = sorted({name for per_split in counts.values() for name in per_split})
        width = 0.8 / len(counts)
        for index, (split, per_split) in enumerate(counts.items()):
            offsets = [c + index * width - 0.4 + width / 2 for c in range(len(classes))]
            ax.bar(offsets, [per_split.get(name, 0) for name in classes], width=width, label=split)
        ax.set_xticks(range(len(classes)), labels=classes, rotation=45 if len(classes) > 4 else 0,
                      ha="right" if len(classes) > 4 else "center")
        ax.grid(axis="x", visible=False)
        ax.set_ylabel("examples")
        ax.set_title(title)
        ax.legend()
    return figure

