"""Token-level figures: one score per input token, as highlighted text (HTML or a figure), bars, a rollout map.

A *score* is signed: positive pushes the explained class's logit up, negative pushes it down (what
``labkit.interpret`` returns in a ``TokenAttribution``, which every function here accepts in place of
``tokens, scores``). Colours follow the kit's diverging map (``DIVERGING_CMAP``: red up, blue down) and
their strength is ``|score| / max |score|``, so each picture is read on its own scale, stated beside it.

The HTML escapes every piece of text with ``html.escape``: a review that contains ``<script>`` or
``<img onerror=...>`` shows as those characters, never as markup. (captum 0.9.0's ``visualize_text``
writes tokens into its HTML unescaped.) The HTML functions return an ``HTMLText``, a ``str`` that a
notebook displays as HTML when it is a cell's value.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from labkit.viz.attention import attention_heatmap
from labkit.viz.style import DEFAULT_SIZE, DIVERGING_CMAP, kit_style, new_axes

_FONT = "font-family: 'Helvetica Neue', Helvetica, Arial, sans-serif"
_WORD_START = ("▁", "Ġ")  # SentencePiece and byte-level BPE mark the start of a word instead of a continuation


class HTMLText(str):
    """A ``str`` of HTML that Jupyter shows rendered when it is a cell's value (``_repr_html_``).

    Its plain-text form in IPython is one short line, not the whole markup.
    """

    def _repr_html_(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer: object, cycle: bool) -> None:
        printer.text(f"<HTML, {len(self.encode()) / 1024:.0f} KB: a notebook shows it rendered>")


def _tokens_and_scores(tokens: object, scores: object | None) -> tuple[list[str], np.ndarray]:
    """``(tokens, scores)`` checked: a list of strings and a float array ``(seq,)`` of the same length.

    ``tokens`` may be a ``TokenAttribution`` (anything with ``.tokens`` and ``.scores``), then
    ``scores`` is left out.
    """
    if scores is None:
        if not (hasattr(tokens, "tokens") and hasattr(tokens, "scores")):
            raise TypeError("pass tokens and scores, or a TokenAttribution alone")
        tokens, scores = tokens.tokens, tokens.scores
    elif hasattr(tokens, "tokens") and hasattr(tokens, "scores"):
        raise TypeError("a TokenAttribution carries its own scores: pass it alone, without scores")
    if isinstance(tokens, str):
        raise TypeError("tokens is a list of token strings, not one string: split the text first")
    if hasattr(scores, "detach"):
        scores = scores.detach().float().cpu().numpy()
    values = np.asarray(scores, dtype=float)
    tokens = [str(token) for token in tokens]
    if values.ndim != 1:
        raise ValueError(f"scores must have shape (seq,), one per token, got shape {values.shape}")
    if len(tokens) != len(values):
        raise ValueError(f"{len(tokens)} tokens but {len(values)} scores: one score per token")
    if not tokens:
        raise ValueError("no tokens to show")
    if not np.isfinite(values).all():
        raise ValueError("scores contain NaN or infinite values")
    return tokens, values


def _default_title(tokens: object, scores: object | None) -> str | None:
    """A title naming what a ``TokenAttribution`` explains, e.g. ``occlusion: class 1 (p = 0.91)``."""
    if scores is not None or not hasattr(tokens, "method"):
        return None
    target = getattr(tokens, "target", None)
    probabilities = getattr(tokens, "probabilities", None)
    title = f"{tokens.method}: class {target}"
    if target is not None and probabilities is not None and len(probabilities) > target:
        title += f" (p = {float(probabilities[target]):.2f})"
    return title


def word_pieces(tokens: Sequence[str]) -> list[tuple[str, bool]]:
    """Each token as ``(text to show, starts a new word)``: WordPiece's ``##ing`` shows as ``ing`` joined on.

    With SentencePiece (``▁word``) or byte-level BPE (``Ġword``) tokens, the marker starts a word and
    is dropped. Nothing is merged: there is one entry per token, in order.
    """
    marks_starts = any(token.startswith(_WORD_START) for token in tokens)
    pieces = []
    for index, token in enumerate(tokens):
        if token.startswith("##") and len(token) > 2:
            pieces.append((token[2:], False))
        elif marks_starts:
            starts = token.startswith(_WORD_START)
            pieces.append((token[1:] if starts else token, starts and index > 0))
        else:
            pieces.append((token, index > 0))
    return pieces


def _scale(values: np.ndarray, max_abs: float | None) -> tuple[np.ndarray, float]:
    """Scores divided by ``max_abs`` (default: the largest ``|score|``), clipped to [-1, 1]."""
    top = float(np.abs(values).max()) if max_abs is None else float(max_abs)
    if top < 0:
        raise ValueError(f"max_abs must be positive, got {max_abs}")
    if top == 0:
        return np.zeros_like(values), 0.0
    return np.clip(values / top, -1.0, 1.0), top


def _colour(strength: float) -> tuple[str, str]:
    """(background, text) hex colours for a strength in [-1, 1] on the kit's diverging map."""
    import matplotlib
    from matplotlib.colors import to_hex

    background = to_hex(matplotlib.colormaps[DIVERGING_CMAP](0.5 + 0.5 * strength))
    return background, "#ffffff" if abs(strength) > 0.6 else "#000000"


def _spans(tokens: list[str], values: np.ndarray, max_abs: float | None) -> tuple[str, float]:
    """One escaped ``<span>`` per token, coloured by score with the score in its tooltip; and the scale used."""
    strengths, top = _scale(values, max_abs)
    parts = []
    for token, (text, new_word), value, strength in zip(tokens, word_pieces(tokens), values, strengths, strict=True):
        background, foreground = _colour(float(strength))
        tooltip = html.escape(f"{token}: {value:+.4g}", quote=True)
        parts.append((" " if new_word else "")
                     + f'<span title="{tooltip}" style="background-color:{background};color:{foreground};'
                       f'padding:1px 2px;border-radius:3px">{html.escape(text, quote=True)}</span>')
    return "".join(parts), top


def _legend(top: float | None) -> str:
    """The colour key under a highlight (``top``: the |score| drawn at full colour, if one scale is used)."""
    low, _ = _colour(-1.0)
    high, _ = _colour(1.0)
    scale = "" if top is None else f"full colour at |score| = {top:.3g}; "
    return (f'<div style="font-size:0.8em;color:#555;margin-top:4px">'
            f'<span style="color:{high}">&#9632;</span> raises the score, '
            f'<span style="color:{low}">&#9632;</span> lowers it; {scale}hover a token for its score</div>')


def token_highlight_html(tokens: object, scores: object | None = None, *, title: str | None = None,
                         max_abs: float | None = None) -> HTMLText:
    """Tokens as HTML text, each on a background coloured by its score (red up, blue down), score on hover.

    ``tokens``: the ``seq`` token strings and ``scores`` one float each (array, list or tensor ``(seq,)``),
    or a ``TokenAttribution`` alone. Colour strength is ``|score| / max_abs`` (default: the largest
    ``|score|``). Every text is escaped, so markup in a review shows as text. WordPiece continuations
    (``##ing``) are joined to the token before them; each token keeps its own span.
    """
    title = _default_title(tokens, scores) if title is None else title
    tokens, values = _tokens_and_scores(tokens, scores)
    spans, top = _spans(tokens, values, max_abs)
    heading = f'<div style="font-weight:bold;margin-bottom:4px">{html.escape(title)}</div>' if title else ""
    return HTMLText(f'<div class="labkit-token-highlight" style="{_FONT};line-height:1.9">'
                    f"{heading}<div>{spans}</div>{_legend(top)}</div>")


def token_highlight_table(rows: Mapping[str, object], *, title: str | None = None,
                          max_abs: float | None = None) -> HTMLText:
    """Several highlights in one HTML table, one row per name: ``{"occlusion": attribution, ...}``.

    Each value is a ``TokenAttribution`` or a ``(tokens, scores)`` pair. Methods score in different units,
    so each row is coloured on its own scale (its largest ``|score|``, shown in the row) unless
    ``max_abs`` sets one scale for all.
    """
    if not rows:
        raise ValueError("token_highlight_table needs at least one row")
    cells = []
    for name, row in rows.items():
        if isinstance(row, tuple) and len(row) == 2:
            tokens, values = _tokens_and_scores(*row)
        else:
            tokens, values = _tokens_and_scores(row, None)
        spans, top = _spans(tokens, values, max_abs)
        header = "text-align:right;vertical-align:top;padding:4px 8px;white-space:nowrap"
        cells.append(f'<tr><th style="{header}">{html.escape(str(name))}'
                     f'<div style="font-weight:normal;font-size:0.8em;color:#555">max |score| {top:.3g}</div></th>'
                     f'<td style="text-align:left;padding:4px 8px;line-height:1.9">{spans}</td></tr>')
    caption = f'<caption style="font-weight:bold;text-align:left">{html.escape(title)}</caption>' if title else ""
    return HTMLText(f'<div class="labkit-token-highlight" style="{_FONT}"><table style="border-collapse:collapse">'
                    f"{caption}{''.join(cells)}</table>{_legend(max_abs)}</div>")


def _plain_labels(tokens: Iterable[str]) -> list[str]:
    """Tokens as tick labels shown literally: ``$`` escaped, so ``$5 ... $10`` is not read as mathtext."""
    return [str(token).replace("$", r"\$") for token in tokens]


def _text_width(text: str, fontsize: float) -> float:
    """Width of ``text`` in points at ``fontsize`` (the glyphs' advance widths; no renderer needed)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    width, _, _ = text_to_path.get_text_width_height_descent(text, FontProperties(size=fontsize), ismath=False)
    return float(width)


def _layout(pieces: list[tuple[str, bool]], width: float, fontsize: float) -> list[tuple[float, int, float]]:
    """Left-to-right positions ``(x, line, box width)`` in points, wrapping before a word that would overflow."""
    pad = 0.25 * fontsize
    positions, x, line = [], 0.0, 0
    for text, new_word in pieces:
        box = _text_width(text, fontsize) + 2 * pad + 0.1 * fontsize  # a little over, for the pixel grid
        gap = 0.45 * fontsize if new_word else 0.08 * fontsize
        start = x + gap if positions else 0.0
        if positions and new_word and start + box > width:
            line, start = line + 1, 0.0
        positions.append((start, line, box))
        x = start + box
    return positions


def token_highlight_figure(tokens: object, scores: object | None = None, *, ax: Axes | None = None,
                           title: str | None = None, max_abs: float | None = None, fontsize: float = 12.0,
                           colorbar: bool = True) -> Figure:
    """The token highlight as a matplotlib figure (for slides): text boxes coloured by score, lines wrapped.

    Same inputs and colours as ``token_highlight_html``; a colour bar states the scale. A new figure is
    as wide as the kit's default and as tall as the wrapped lines need; with ``ax``, the text starts at
    that axes' top left corner and wraps at its width (spacing is in points, so it never stretches).
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.transforms import offset_copy

    title = _default_title(tokens, scores) if title is None else title
    tokens, values = _tokens_and_scores(tokens, scores)
    strengths, top = _scale(values, max_abs)
    pieces = word_pieces(tokens)
    with kit_style():
        if ax is not None:
            ax.figure.draw_without_rendering()  # lay the figure out first, so the axes' width is the one drawn
        width_inches = DEFAULT_SIZE[0] if ax is None else max(1.0, ax.get_position().width * ax.figure.get_figwidth())
        positions = _layout(pieces, width_inches * 72 * 0.95, fontsize)
        line_height = 2.0 * fontsize
        height = (positions[-1][1] + 1) * line_height / 72 + 0.45 + (0.8 if colorbar else 0.0)
        figure, ax = new_axes(ax, figsize=(width_inches, height))
        for (text, _), (x, line, _width), strength in zip(pieces, positions, strengths, strict=True):
            background, foreground = _colour(float(strength))
            place = offset_copy(ax.transAxes, fig=figure, x=x + 0.25 * fontsize, y=-(line + 0.5) * line_height,
                                units="points")
            ax.text(0.0, 1.0, text, transform=place, fontsize=fontsize, color=foreground, ha="left", va="center",
                    parse_math=False, bbox={"boxstyle": "round,pad=0.25", "facecolor": background, "edgecolor": "none"})
        ax.axis("off")
        if title:
            ax.set_title(title)
        if colorbar:
            scale = ScalarMappable(norm=Normalize(-top or -1.0, top or 1.0), cmap=DIVERGING_CMAP)
            figure.colorbar(scale, ax=ax, orientation="horizontal", fraction=0.15 / height, pad=0.02, aspect=40,
                            label="score (red raises the explained class, blue lowers it)")
    return figure


def attribution_bars(tokens: object, scores: object | None = None, *, ax: Axes | None = None,
                     top: int | None = None, title: str | None = None) -> Figure:
    """One horizontal bar per token, signed (red up, blue down), in text order from the top.

    With ``top=k`` only the ``k`` tokens with the largest ``|score|`` are drawn, largest first. Takes
    ``tokens, scores`` or a ``TokenAttribution``.
    """
    title = _default_title(tokens, scores) if title is None else title
    tokens, values = _tokens_and_scores(tokens, scores)
    order = np.arange(len(tokens))
    if top is not None:
        if top < 1:
            raise ValueError(f"top must be at least 1, got {top}")
        order = np.argsort(-np.abs(values), kind="stable")[:top]
    shown = values[order]
    up, _ = _colour(0.8)
    down, _ = _colour(-0.8)
    with kit_style():
        figure, ax = new_axes(ax, figsize=(DEFAULT_SIZE[0], max(2.5, 0.28 * len(order) + 1.2)))
        rows = np.arange(len(order))
        ax.barh(rows, shown, color=[up if value >= 0 else down for value in shown])
        ax.set_yticks(rows, labels=_plain_labels(tokens[index] for index in order))
        ax.invert_yaxis()
        ax.axvline(0.0, color="#333333", linewidth=0.8)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("score (toward the explained class)")
        if title:
            ax.set_title(title)
    return figure


def rollout_heatmap(matrix: object, tokens: Sequence[str], *, ax: Axes | None = None,
                    title: str = "attention rollout", vmax: float | None = None) -> Figure:
    """An attention-rollout matrix ``(seq, seq)`` (or ``(1, seq, seq)``) as a heatmap: row i = how much
    position i's final representation draws on each input token, through all layers.

    Rows sum to one; the colour scale runs from 0 to the largest value (``vmax=None``), since rollout
    spreads weight more thinly than one head does. Drawn by ``attention_heatmap``.
    """
    if hasattr(matrix, "detach"):
        matrix = matrix.detach().float().cpu().numpy()
    values = np.asarray(matrix, dtype=float)
    if values.ndim == 3 and values.shape[0] == 1:
        values = values[0]
    if values.ndim != 2 or values.shape[0] != values.shape[1]:
        raise ValueError(f"rollout_heatmap takes one square rollout matrix (seq, seq), got shape {values.shape}")
    return attention_heatmap(values, _plain_labels(tokens), title=title, ax=ax, vmax=vmax, value_label="rollout weight")
