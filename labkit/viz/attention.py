"""Attention figures: one head as a heatmap, a layers x heads grid, boolean masks side by side.

Weights come as torch tensors, NumPy arrays or nested lists: one head ``(query_len, key_len)``, or
what a model returns with ``output_attentions=True`` (per layer ``(batch, heads, seq_len, seq_len)``).
Error messages shorten ``query_len`` / ``key_len`` to ``Lq`` / ``Lk``, as ``labkit.attention`` does.
Each function returns a ``Figure`` and never calls ``plt.show()``. ``attention_heatmap`` takes an ``ax``;
``attention_grid`` and ``attention_masks`` draw several panels, so they make their own figure.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from labkit.viz.style import SEQUENTIAL_CMAP, kit_style, new_axes, new_grid


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

    ``weights`` has shape ``(query_len, key_len)`` (tensor or array). ``tokens`` label the keys (and the
    queries too unless ``query_tokens`` is given); if there are fewer labels than positions the matrix is
    cropped to them, so passing only the real tokens hides padding. ``annotate`` writes each weight in its cell
    (default: when the matrix is at most 12 x 12). ``vmax=None`` scales the colours to the data.

    (More than eight parameters: past the data, all are keyword-only display options with defaults,
    as in matplotlib's own functions; a caller passes only the ones they change.)
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
    tensors ``(batch, heads, seq_len, seq_len)``; ``example`` picks the batch row) or an array
    ``(layers, heads, seq_len, seq_len)``.
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
        raise ValueError("attention_grid takes per-layer weights (batch, heads, seq_len, seq_len) or an array "
                         f"(layers, heads, seq_len, seq_len), got shape {stack.shape}")
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
        for ax, (name, mask) in zip(axes[0], masks.items(), strict=True):
            attention_heatmap(_as_matrix_stack(mask), tokens, title=name, ax=ax, annotate=False,
                              colorbar=False, cmap="Blues")
        if title:
            figure.suptitle(title, fontweight="bold")
    return figure


