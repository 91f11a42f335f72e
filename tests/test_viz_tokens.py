"""labkit.viz.tokens: token highlights (escaped HTML and a figure), attribution bars, rollout heatmaps."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure

from labkit import viz
from labkit.interpret.token_attribution import TokenAttribution

HOSTILE = ["[CLS]", "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "&", '"quoted"', "'single'",
           "a&amp;b", "[SEP]"]


class Collector(HTMLParser):
    """Every start tag with its attributes, and the text a browser would show (entities decoded)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(markup: str) -> Collector:
    collector = Collector()
    collector.feed(markup)
    collector.close()
    return collector


def token_spans(markup: str) -> list[dict[str, str | None]]:
    return [attrs for tag, attrs in parse(markup).tags if tag == "span" and attrs.get("title") is not None]


def span_texts(markup: str) -> list[str]:
    """The text inside each token span, in order (read with a regex, independently of the parser above)."""
    inners = re.findall(r'<span title="[^"]*"[^>]*>(.*?)</span>', markup)
    return [parse(inner).text[0] if inner else "" for inner in inners]


def test_hostile_text_comes_out_as_text_never_as_markup() -> None:
    scores = np.linspace(-1.0, 1.0, len(HOSTILE))
    markup = viz.token_highlight_html(HOSTILE, scores, title='<img src=x onerror=alert("title")>')
    parsed = parse(markup)
    assert {tag for tag, _ in parsed.tags} == {"div", "span"}  # no script, no img: only the kit's own tags
    assert not any(name.startswith("on") for _, attrs in parsed.tags for name in attrs)
    shown = "".join(parsed.text)
    for token in HOSTILE[1:-1]:
        assert token in shown  # visible, character for character
    assert '<img src=x onerror=alert("title")>' in shown
    assert "<script" not in markup and "<img" not in markup
    assert re.search(r"&(?!amp;|lt;|gt;|quot;|#x27;|#9632;)", markup) is None  # every & is an entity
    # the tooltip holds the raw token and its score, quotes and all, without breaking the attribute
    assert [attrs["title"] for attrs in token_spans(markup)] == [
        "[CLS]: -1", "<script>alert(1)</script>: -0.7143", "<img src=x onerror=alert(1)>: -0.4286", "&: -0.1429",
        '"quoted": +0.1429', "'single': +0.4286", "a&amp;b: +0.7143", "[SEP]: +1"]


def test_hostile_text_in_a_table_and_its_row_names_is_escaped() -> None:
    rows = {"<b>occlusion</b>": (HOSTILE, np.arange(len(HOSTILE)) - 3.0),
            "gradient": (HOSTILE, torch.ones(len(HOSTILE)))}
    markup = viz.token_highlight_table(rows, title="<script>x</script>")
    parsed = parse(markup)
    assert {tag for tag, _ in parsed.tags} <= {"div", "span", "table", "caption", "tr", "th", "td"}
    shown = "".join(parsed.text)
    assert "<b>occlusion</b>" in shown and "<script>x</script>" in shown and "<img src=x onerror=alert(1)>" in shown
    assert len(token_spans(markup)) == 2 * len(HOSTILE)


def test_one_span_per_token_and_wordpiece_continuations_join_the_word_before() -> None:
    tokens = ["[CLS]", "the", "act", "##ing", "was", "super", "##b", "[SEP]"]
    markup = viz.token_highlight_html(tokens, [0.0, 0.1, 0.2, 0.3, -0.4, 0.5, 0.6, 0.0])
    assert span_texts(markup) == ["[CLS]", "the", "act", "ing", "was", "super", "b", "[SEP]"]
    shown = "".join(parse(markup).text)
    assert "[CLS] the acting was superb [SEP]" in shown


def test_colours_follow_the_sign_and_size_of_the_score() -> None:
    cmap = matplotlib.colormaps["RdBu_r"]
    markup = viz.token_highlight_html(["up", "down", "half", "zero"], [2.0, -2.0, 1.0, 0.0])
    colours = [re.search(r"background-color:(#[0-9a-f]{6})", attrs["style"])[1] for attrs in token_spans(markup)]
    assert colours == [to_hex(cmap(1.0)), to_hex(cmap(0.0)), to_hex(cmap(0.75)), to_hex(cmap(0.5))]
    red, _, blue = to_rgb(colours[0])
    assert red > blue  # positive is red, negative blue
    assert "full colour at |score| = 2" in markup
    # a shared scale: max_abs=4 draws the score 2 at half strength
    shared = viz.token_highlight_html(["up"], [2.0], max_abs=4.0)
    assert to_hex(cmap(0.75)) in shared


def test_a_token_attribution_is_accepted_and_titled() -> None:
    tokens, scores = ["[CLS]", "great", "film", "[SEP]"], np.array([0.0, 0.9, 0.1, -0.2])
    attribution = TokenAttribution(tokens=tokens, scores=scores, target=1, probabilities=np.array([0.2, 0.8]),
                                   method="occlusion")
    markup = viz.token_highlight_html(attribution)
    assert "occlusion: class 1 (p = 0.80)" in markup
    assert token_spans(markup) == token_spans(viz.token_highlight_html(tokens, scores))
    figure = viz.token_highlight_figure(attribution)
    assert figure.axes[0].get_title() == "occlusion: class 1 (p = 0.80)"
    bars = viz.attribution_bars(attribution)
    assert [patch.get_width() for patch in bars.axes[0].patches] == pytest.approx(scores.tolist())
    table = viz.token_highlight_table({"occlusion": attribution, "by hand": (tokens, scores)})
    assert len(token_spans(table)) == 8
    assert isinstance(markup, str) and markup._repr_html_() == str(markup)  # a notebook shows it rendered
    from IPython.lib.pretty import pretty

    assert pretty(markup).startswith("<HTML, ") and "span" not in pretty(markup)  # not the markup as text


@pytest.mark.parametrize(("tokens", "scores", "error", "message"), [
    (["a", "b", "c"], [1.0, 2.0], ValueError, "3 tokens but 2 scores"),
    (["a", "b"], [[1.0, 2.0]], ValueError, r"shape \(seq,\)"),
    (["a", "b"], [1.0, float("nan")], ValueError, "NaN"),
    ([], [], ValueError, "no tokens"),
    ("a b", [1.0, 2.0], TypeError, "not one string"),
])
def test_bad_input_gets_a_clear_error(tokens: object, scores: object, error: type, message: str) -> None:
    for function in (viz.token_highlight_html, viz.token_highlight_figure, viz.attribution_bars):
        with pytest.raises(error, match=message):
            function(tokens, scores)


def test_a_token_attribution_with_scores_or_nothing_at_all_is_refused() -> None:
    attribution = TokenAttribution(tokens=["a"], scores=np.array([1.0]), target=0, probabilities=np.array([1.0]),
                                   method="m")
    with pytest.raises(TypeError, match="carries its own scores"):
        viz.token_highlight_html(attribution, [1.0])
    with pytest.raises(TypeError, match="TokenAttribution alone"):
        viz.token_highlight_html(["a"])
    with pytest.raises(ValueError, match="at least one row"):
        viz.token_highlight_table({})


def test_highlight_figure_draws_one_coloured_box_per_token() -> None:
    tokens = ["[CLS]", "a", "dull", "##ish", "film", "costing", "$5", "or", "$10", "[SEP]"]
    scores = [0.0, 0.1, -1.0, -0.5, 0.2, 0.0, 0.3, 0.0, 1.0, 0.0]
    figure = viz.token_highlight_figure(tokens, scores, title="slide")
    assert isinstance(figure, Figure)
    ax = figure.axes[0]
    texts = ax.texts
    assert [text.get_text() for text in texts] == ["[CLS]", "a", "dull", "ish", "film", "costing", "$5", "or", "$10",
                                                   "[SEP]"]
    assert not any(text.get_parse_math() for text in texts)  # "$5 or $10" stays money, not mathtext
    faces = [to_rgb(text.get_bbox_patch().get_facecolor()) for text in texts]
    assert faces[8][0] > faces[8][2] and faces[2][2] > faces[2][0]  # +1 red, -1 blue
    figure.draw_without_rendering()  # lay the figure out as it will be drawn
    boxes = [text.get_bbox_patch().get_window_extent() for text in texts]  # each coloured box, in pixels
    assert len({round((box.y0 + box.y1) / 2, 3) for box in boxes}) == 1  # ten short tokens fit on one line
    gaps = [later.x0 - earlier.x1 for earlier, later in zip(boxes, boxes[1:], strict=False)]
    assert min(gaps) > 0 and gaps[2] == min(gaps)  # left to right, "##ish" closest after "dull"
    assert len(figure.axes) == 2  # the text and its colour bar


def test_highlight_figure_wraps_long_text_and_draws_into_a_given_axes() -> None:
    tokens = ["word"] * 60
    figure = viz.token_highlight_figure(tokens, np.ones(60), colorbar=False)
    figure.draw_without_rendering()
    boxes = [text.get_window_extent() for text in figure.axes[0].texts]
    rows = sorted({round(box.y0, 3) for box in boxes}, reverse=True)
    assert len(rows) > 1 and sum(round(box.y0, 3) == rows[0] for box in boxes) < 60
    width = figure.get_figwidth() * figure.dpi
    assert all(0 <= box.x0 and box.x1 <= width for box in boxes)  # wrapped inside the figure
    assert all(box.y0 >= 0 for box in boxes)  # and the figure is tall enough for every line
    outer, axes = viz.new_grid(1, 2, cell_size=(4, 2))
    returned = viz.token_highlight_figure(["a", "b"], [1.0, -1.0], ax=axes[0, 1], colorbar=False)
    assert returned is outer and len(axes[0, 1].texts) == 2 and not axes[0, 0].texts


def test_attribution_bars_signed_in_order_or_top_k() -> None:
    tokens, scores = ["the", "film", "was", "awful"], [0.1, -0.3, 0.05, -2.0]
    figure = viz.attribution_bars(tokens, scores)
    ax = figure.axes[0]
    assert [patch.get_width() for patch in ax.patches] == pytest.approx(scores)
    assert [label.get_text() for label in ax.get_yticklabels()] == tokens
    colours = [to_rgb(patch.get_facecolor()) for patch in ax.patches]
    assert colours[0][0] > colours[0][2] and colours[1][2] > colours[1][0]
    top = viz.attribution_bars(tokens, scores, top=2).axes[0]
    assert [label.get_text() for label in top.get_yticklabels()] == ["awful", "film"]
    assert [patch.get_width() for patch in top.patches] == pytest.approx([-2.0, -0.3])
    outer, axes = viz.new_grid(1, 2)
    assert viz.attribution_bars(tokens, scores, ax=axes[0, 0]) is outer
    with pytest.raises(ValueError, match="top must be at least 1"):
        viz.attribution_bars(tokens, scores, top=0)


def test_rollout_heatmap_shows_the_matrix() -> None:
    matrix = torch.softmax(torch.randn(1, 5, 5), dim=-1)
    figure = viz.rollout_heatmap(matrix, list("abcde"))
    ax = figure.axes[0]
    assert np.allclose(ax.images[0].get_array(), matrix[0].numpy(), atol=1e-6)
    assert ax.get_title() == "attention rollout"
    assert ax.images[0].get_clim() == pytest.approx((0.0, float(matrix.max())))  # scaled to the data
    outer, axes = viz.new_grid(1, 2)
    assert viz.rollout_heatmap(matrix[0], list("abcde"), ax=axes[0, 1], title="r") is outer
    with pytest.raises(ValueError, match=r"square rollout matrix \(seq, seq\), got shape \(3, 4\)"):
        viz.rollout_heatmap(np.ones((3, 4)), list("abc"))
    with pytest.raises(ValueError, match="square"):
        viz.rollout_heatmap(np.ones((2, 3, 3)), list("abc"))
