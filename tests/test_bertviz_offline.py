"""labkit.viz.bertviz_offline: bertviz's views as HTML that needs no network and no module loader.

What "no remote URL" means here, precisely: no tag carries a ``src`` or ``href`` (or any other URL
attribute), there is no ``require.config``/``requirejs`` left to fetch anything, and every ``http(s)://``
in the page is one of a short list of known texts that are not fetched: the XML namespace names d3
passes to ``createElementNS``, d3's licence banner and bertviz's credit comment. The vendored files
are compared byte for byte with the recorded SHA-256 (hard-coded below, not read from vendor.json).
The browser check, tests/browser/check_bertviz_views.py, shows the views really drawing.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import shutil
import tomllib
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch

from labkit import viz
from labkit.viz import bertviz_offline

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "labkit" / "viz" / "vendor"
SHA256 = {
    "jquery.min.js": "fc9a93dd241f6b045cbff0481cf4e1901becd0e12fb45166a8f17f95823f0b1a",
    "d3.min.js": "bdad5585ef9a965ff25458738309b006058c55f2c78d794d25fbecae35014609",
}
NOT_FETCHED = {  # every absolute URL allowed in the page, and the text it must stand in
    "http://www.w3.org/1999/xhtml": '"http://www.w3.org/1999/xhtml"',  # d3's namespace table (string literals)
    "http://www.w3.org/2000/svg": '"http://www.w3.org/2000/svg"',
    "http://www.w3.org/1999/xlink": '"http://www.w3.org/1999/xlink"',
    "http://www.w3.org/XML/1998/namespace": '"http://www.w3.org/XML/1998/namespace"',
    "http://www.w3.org/2000/xmlns/": '"http://www.w3.org/2000/xmlns/"',
    "https://d3js.org": "// https://d3js.org v5.7.0 Copyright 2018 Mike Bostock\n",  # d3's licence banner
    "https://github.com/tensorflow/tensor2tensor/blob/master/tensor2tensor/visualization/attention.js":
        " Based on: https://github.com/tensorflow/tensor2tensor/blob/master/tensor2tensor/visualization/attention.js\n",
}


class Tags(HTMLParser):
    """Start tags with their attributes, and the text of each <script> (the parser keeps scripts as raw text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def tags_of(html: str) -> Tags:
    parser = Tags()
    parser.feed(html)
    parser.close()
    return parser


def softmax_attentions(layers: int, heads: int, seq: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.softmax(torch.randn(1, heads, seq, seq, generator=generator), dim=-1) for _ in range(layers))


def params_of(html: str) -> dict:
    """The parameters bertviz's script receives, read back from the page."""
    match = re.search(r"const params = (\{.*?\}); // HACK", html, re.DOTALL)
    assert match, "no params in the page"
    return json.loads(match[1])


def assert_self_contained(html: str) -> None:
    parsed = tags_of(html)
    for tag, attributes in parsed.tags:  # nothing to load: no URL attribute on any tag
        assert not {"src", "href", "data", "action", "srcset", "poster"} & set(attributes), (tag, attributes)
        assert tag not in {"link", "iframe", "img", "object", "embed", "base"}, tag
    assert [tag for tag, _ in parsed.tags if tag == "script"] == ["script"]  # one inline script
    assert "require.config" not in html and "requirejs(" not in html and "cdnjs" not in html
    assert "sourceMappingURL" not in html and "//cdn" not in html
    for url in re.findall(r"https?://[^\s\"'<>()]+", html):
        assert url in NOT_FETCHED, f"unexpected absolute URL in the page: {url}"
        assert html.count(url) == html.count(NOT_FETCHED[url]), f"{url} appears outside its known place"
    # bertviz's own code (the page less the two libraries and bertviz's header comment) mentions no URL
    rest = html
    for name in SHA256:
        rest = rest.replace((VENDOR / name).read_text(encoding="utf-8"), "")
    rest = re.sub(r"/\*\*\n \* @fileoverview.*?\*\*/", "", rest, flags=re.DOTALL)
    rest = re.sub(r"const params = \{.*?\}; // HACK", "const params = DATA; // HACK", rest, flags=re.DOTALL)  # data
    for needle in ("http", "src=", "href=", "url(", "@import", "require", "//cdn"):
        assert needle not in rest, needle


@pytest.fixture(scope="module")
def tiny_bert_example() -> tuple[tuple[torch.Tensor, ...], list[str]]:
    from labkit.models import load

    tokenizer, model = load("tiny-bert", task="sequence-classification", num_labels=2, attn_implementation="eager")
    batch = tokenizer("A gentle, funny film with a plot that never quite works.", return_tensors="pt")
    with torch.no_grad():
        attentions = model(**batch, output_attentions=True).attentions
    return attentions, tokenizer.convert_ids_to_tokens(batch["input_ids"][0])


@pytest.mark.parametrize("view", ["head", "model"])
def test_views_of_a_real_model_are_self_contained_and_carry_its_attention(tiny_bert_example: tuple, view: str) -> None:
    attentions, tokens = tiny_bert_example
    make = viz.head_view_html if view == "head" else viz.model_view_html
    html = make(attentions, tokens)
    assert isinstance(html, str) and html._repr_html_() == str(html)
    assert_self_contained(html)
    for name in SHA256:  # both libraries inlined, whole
        assert (VENDOR / name).read_text(encoding="utf-8") in html
    assert "/*! jQuery v3.7.1 |" in html and "// https://d3js.org v5.7.0" in html
    assert "draw(labkitJQuery, labkitD3)" in html  # bertviz's callback is called with them directly
    params = params_of(html)
    assert html.count('"left_text"') == 1  # the data once (bertviz writes it a second time in a comment)
    data = params["attention"][0]
    assert data["left_text"] == tokens and data["right_text"] == tokens
    expected = torch.stack([layer[0] for layer in attentions]).double().numpy()
    assert np.array(data["attn"]).shape == expected.shape
    assert np.allclose(np.array(data["attn"]), expected, atol=5.1e-5)  # rounded to 4 decimals
    assert html.count(params["root_div_id"]) >= 1 and f'<div id="{params["root_div_id"]}"' in html


def test_the_model_view_takes_its_options() -> None:
    attentions = softmax_attentions(layers=3, heads=4, seq=5)
    params = params_of(viz.model_view_html(attentions, list("abcde"), include_layers=[0, 2], include_heads=[1, 3],
                                           display_mode="dark"))
    assert params["display_mode"] == "dark" and params["include_layers"] == [0, 2]
    assert params["include_heads"] == [1, 3] and params["total_heads"] == 4
    assert np.array(params["attention"][0]["attn"]).shape == (2, 2, 5, 5)  # bertviz keeps only the heads shown
    head = params_of(viz.head_view_html(attentions, list("abcde"), layer=2, heads=[0]))
    assert head["layer"] == 2 and head["heads"] == [0]
    with pytest.raises(ValueError, match="'light' or 'dark'"):
        viz.model_view_html(attentions, list("abcde"), display_mode="grey")


def test_a_stacked_array_gives_the_same_view_data_as_the_per_layer_tuple() -> None:
    attentions = softmax_attentions(layers=2, heads=3, seq=4)
    stacked = torch.cat(attentions).numpy()  # (layers, heads, seq, seq)
    from_tuple = params_of(viz.head_view_html(attentions, list("abcd")))["attention"]
    from_stack = params_of(viz.head_view_html(stacked, list("abcd")))["attention"]
    assert from_tuple == from_stack


def test_hostile_tokens_cannot_break_out_of_the_script() -> None:
    tokens = ["[CLS]", "</script><img src=x onerror=alert(1)>", "<!--", "a&b", "[SEP]"]
    html = viz.head_view_html(softmax_attentions(layers=1, heads=2, seq=5), tokens)
    assert html.lower().count("</script") == 1 and "<img" not in html and "<!--" not in html.split("-->", 1)[1]
    assert params_of(html)["attention"][0]["left_text"] == tokens  # the browser reads the tokens back intact
    assert_self_contained(html)


@pytest.mark.parametrize(("attentions", "tokens", "message"), [
    (softmax_attentions(2, 2, 4), list("abc"), "3 tokens for attention over 4 positions"),
    ((torch.rand(1, 2, 3, 4),), list("abcd"), r"square \(seq, seq\), got \(3, 4\)"),
    (tuple(torch.rand(2, 2, 3, 3) for _ in range(2)), list("abc"), "one text at a time.*batch size 2"),
    ((), list("abc"), "attentions is empty"),
    ((torch.rand(1, 2, 3, 3), torch.rand(1, 4, 3, 3)), list("abc"), "same shape"),
    (torch.rand(2, 3, 3), list("abc"), r"\(layers, heads, seq, seq\), got shape \(2, 3, 3\)"),
    ((torch.full((1, 1, 2, 2), float("nan")),), list("ab"), "NaN"),
])
def test_bad_attentions_get_a_clear_error(attentions: object, tokens: list[str], message: str) -> None:
    for make in (viz.head_view_html, viz.model_view_html):
        with pytest.raises(ValueError, match=message):
            make(attentions, tokens)


def test_vendored_files_match_their_recorded_checksums_and_licences() -> None:
    recorded = json.loads((VENDOR / "vendor.json").read_text())
    assert {entry["file"] for entry in recorded.values()} == set(SHA256)
    for entry in recorded.values():
        digest = hashlib.sha256((VENDOR / entry["file"]).read_bytes()).hexdigest()
        assert digest == SHA256[entry["file"]] == entry["sha256"]
        licence = (VENDOR / entry["licence_file"]).read_text()
        marker = {"MIT": "Permission is hereby granted", "BSD-3-Clause": "Redistribution and use"}[entry["licence"]]
        assert marker in licence and "Copyright" in licence
        assert entry["version"] in (VENDOR / "README.md").read_text()
    assert recorded["jquery"]["version"] == "3.7.1" and recorded["d3"]["version"] == "5.7.0"
    assert set(viz.bertviz_offline.vendored_scripts()) == {"jquery", "d3"}


def test_a_damaged_vendored_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "vendor"
    shutil.copytree(VENDOR, copy)
    (copy / "d3.min.js").write_text((copy / "d3.min.js").read_text() + "\n// changed")
    monkeypatch.setattr(bertviz_offline, "VENDOR", copy)
    bertviz_offline._checked_vendor.cache_clear()
    bertviz_offline._library_source.cache_clear()
    try:
        with pytest.raises(ValueError, match="d3.min.js has SHA-256 .* but vendor.json records"):
            viz.head_view_html(softmax_attentions(1, 1, 2), ["a", "b"])
        (copy / "d3.min.js").unlink()
        bertviz_offline._checked_vendor.cache_clear()
        with pytest.raises(FileNotFoundError, match=r"d3 5\.7\.0\) is missing"):
            bertviz_offline.vendored_scripts()
    finally:
        bertviz_offline._checked_vendor.cache_clear()
        bertviz_offline._library_source.cache_clear()


def test_the_vendored_files_are_declared_as_package_data() -> None:
    """A wheel (and `pip install .`) carries only the data files pyproject.toml names: all of vendor/ must be."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["labkit.viz"]
    files = sorted(path.relative_to(VENDOR.parent).as_posix() for path in VENDOR.iterdir() if path.is_file())
    assert {"vendor/d3.min.js", "vendor/jquery.min.js", "vendor/vendor.json"} <= set(files)
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in declared), f"{name} is not declared package data"
