"""Slides: every notebook exports to a reveal.js deck that loads nothing from the network, with a sensible structure."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import nbformat
import pytest

from labkit.cli import main
from labkit.errors import LabkitError
from labkit.exercises import is_solution_cell
from labkit.viz.slides import (
    ASSETS,
    VENDOR,
    WIDGET_NOTE,
    deck_html,
    deck_links,
    export_decks,
    remote_references,
    slide_type,
    vendored_slide_files,
    with_slide_metadata,
)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LOCAL_REFERENCE = re.compile(r"""<(?:script|link|img)\b[^>]*?\b(?:src|href)="([^"]+)\"""")


@pytest.fixture(scope="module")
def decks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every notebook of the kit, exported as saved (not executed)."""
    out = tmp_path_factory.mktemp("slides")
    return {deck.name.removesuffix(".slides.html"): deck for deck in export_decks(NOTEBOOKS, out)}


def test_vendored_files_are_the_recorded_npm_files_with_their_licences() -> None:
    files = vendored_slide_files()
    recorded = json.loads((VENDOR / "vendor.json").read_text())["files"]
    assert set(files) == set(recorded) and len(files) == 14
    for relative, entry in recorded.items():
        assert hashlib.sha256((VENDOR / relative).read_bytes()).hexdigest() == entry["sha256"]
        assert (VENDOR / entry["licence_file"]).is_file(), f"{relative}: licence file missing"
        assert entry["npm_integrity"].startswith("sha512-") and entry["version"].count(".") == 2
    versions = {entry["package"]: entry["version"] for entry in recorded.values()}
    assert versions == {"reveal.js": "5.2.1", "requirejs": "2.3.8", "mathjax": "3.2.2"}


@pytest.mark.parametrize("name", [path.stem for path in NOTEBOOKS])
def test_every_notebook_exports_to_a_deck_that_loads_nothing_remote(decks: dict[str, Path], name: str) -> None:
    deck = decks[name]
    page = deck.read_text(encoding="utf-8")
    assert remote_references(page) == []
    for forbidden in ("unpkg.com", "cdnjs.cloudflare.com", "cdn.jsdelivr.net", "MathJax.Hub"):
        assert forbidden not in page, f"{deck.name} still mentions {forbidden}"
    assert page.count('class="labkit-quiz"') == 1 and "digest=" not in page, "the quiz as questions, not code"
    assert "glossary.md" not in page, "a link the deck's folder cannot follow"
    local = [reference for reference in LOCAL_REFERENCE.findall(page) if not reference.startswith("data:")]
    assert {f"{ASSETS}/jquery.min.js", f"{ASSETS}/require.js", f"{ASSETS}/mathjax/tex-svg-full.js",
            f"{ASSETS}/reveal.js/dist/reveal.css", f"{ASSETS}/reveal.js/dist/theme/white.css"} <= set(local)
    for reference in local:
        assert (deck.parent / reference).is_file(), f"{deck.name} refers to {reference}, which was not copied"
    for script in (f"{ASSETS}/reveal.js/dist/reveal.js", f"{ASSETS}/reveal.js/plugin/notes/notes.js"):
        assert f'"{script}"' in page and (deck.parent / script).is_file()  # loaded by require.js


@pytest.mark.parametrize("name", [path.stem for path in NOTEBOOKS])
def test_each_deck_is_a_deck_not_one_slide_per_cell(decks: dict[str, Path], name: str) -> None:
    notebook = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    page = decks[name].read_text(encoding="utf-8")
    headings = sum(cell.cell_type == "markdown" and bool(re.match(r"#{1,2}\s", cell.source.lstrip()))
                   for cell in notebook.cells)
    slides = page.count("<section")
    assert headings <= slides < len(notebook.cells) * 0.8, (headings, slides, len(notebook.cells))
    solutions = sum(is_solution_cell(cell) for cell in notebook.cells)
    assert page.count('<aside class="notes">') == solutions  # answers go to the speaker notes


def test_the_copied_style_sheets_import_nothing_remote(decks: dict[str, Path]) -> None:
    assets = next(iter(decks.values())).parent / ASSETS
    sheets = list(assets.rglob("*.css"))
    assert len(sheets) == 3
    for sheet in sheets:
        assert remote_references(f"<style>{sheet.read_text(encoding='utf-8')}</style>") == [], sheet
    index = (assets.parent / "index.html").read_text()
    assert all(f'href="{deck.name}"' in index for deck in decks.values())


def test_nbconverts_own_deck_is_what_the_check_catches() -> None:
    """Without labkit's template the same notebook loads reveal.js, require.js, jQuery and MathJax from CDNs."""
    from nbconvert.exporters import SlidesExporter

    page, _ = SlidesExporter().from_notebook_node(nbformat.read(NOTEBOOKS[0], as_version=4))
    found = " ".join(remote_references(page))
    for library in ("reveal.js", "require", "jquery", "mathjax"):
        assert library in found.lower(), f"{library} not reported in {found}"


def test_remote_references_finds_what_a_page_would_load_and_nothing_else() -> None:
    loads = ['<script src="https://cdn.example.org/x.js"></script>',
             '<link rel="stylesheet" href="//cdn.example.org/a.css">', '<img src="http://example.org/a.png">',
             '<style>@import url("https://fonts.example.com/f.css");</style>',
             '<div style="background: url(https://example.org/b.png)"></div>',
             "<script>require(['https://unpkg.com/reveal.js/dist/reveal.js'])</script>",
             '<script type="module">import m from "https://cdn.example.org/m.mjs";</script>']
    for html in loads:
        assert len(remote_references(html)) == 1, html
    harmless = ['<a href="https://arxiv.org/abs/1706.03762">paper</a>', '<svg xmlns="http://www.w3.org/2000/svg"></svg>',
                "<script>// https://d3js.org v5\nvar ns = 'http://www.w3.org/1999/xhtml';</script>",
                "<p>see https://example.org in the text</p>", '<script src="_assets/require.js"></script>',
                '<img src="data:image/png;base64,iVBORw0KGgo=">']
    for html in harmless:
        assert remote_references(html) == [], html


def test_the_slide_rule() -> None:
    cells = [nbformat.v4.new_markdown_cell("# Title\n\ntext"), nbformat.v4.new_code_cell("x = 1"),
             nbformat.v4.new_markdown_cell("## Part"), nbformat.v4.new_markdown_cell("more prose"),
             nbformat.v4.new_code_cell("y = 2"), nbformat.v4.new_markdown_cell("the next step"),
             nbformat.v4.new_markdown_cell("### Exercise"),
             nbformat.v4.new_code_cell("### BEGIN SOLUTION\nz = 3\n### END SOLUTION"),
             nbformat.v4.new_code_cell("check()"), nbformat.v4.new_markdown_cell("kept as the author said")]
    cells[-1].metadata["slideshow"] = {"slide_type": "skip"}
    deck = with_slide_metadata(nbformat.v4.new_notebook(cells=cells))
    assert [cell.metadata["slideshow"]["slide_type"] for cell in deck.cells] == \
        ["slide", "-", "slide", "-", "-", "subslide", "subslide", "notes", "-", "skip"]
    assert "slideshow" not in cells[0].metadata  # the notebook itself is not changed
    assert slide_type(nbformat.v4.new_markdown_cell("#hashtag, not a heading"), None) == "-"


def test_an_executed_deck_keeps_figures_and_maths_and_replaces_widgets(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A deck\n\nThe loss is $\\mathcal{L} = -\\log p$."),
        nbformat.v4.new_code_cell("from labkit import viz\nviz.bar_chart(['a', 'b'], [1.0, 2.0], title='bars')"),
        nbformat.v4.new_code_cell("import ipywidgets\nipywidgets.IntSlider()"),
    ])
    source = tmp_path / "deck.ipynb"
    nbformat.write(notebook, source)
    deck = export_decks([source], tmp_path / "out", execute=True)[0]
    page = deck.read_text(encoding="utf-8")
    assert re.search(r'<img [^>]*src="data:image/png;base64,', page), "the figure is not in the deck"
    assert "$\\mathcal{L} = -\\log p$" in page and WIDGET_NOTE in page
    assert "widget-state" not in page and remote_references(page) == []


def test_a_notebook_that_would_need_a_remote_file_is_refused() -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("![logo](https://example.org/logo.png)")])
    with pytest.raises(LabkitError, match="would load from the network"):
        deck_html(notebook, "remote")


def test_a_mermaid_diagram_is_refused_with_a_message(tmp_path: Path) -> None:
    source = tmp_path / "m.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("```mermaid\ngraph TD; A-->B\n```")]),
                   source)
    with pytest.raises(LabkitError, match="mermaid"):
        export_decks([source], tmp_path / "out")


def test_labkit_slides_command(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["slides", str(NOTEBOOKS[0]), "--no-execute", "--out", str(tmp_path)]) == 0
    assert (tmp_path / f"{NOTEBOOKS[0].stem}.slides.html").is_file() and (tmp_path / "index.html").is_file()
    assert f"{NOTEBOOKS[0].stem}.slides.html" in capsys.readouterr().out
    assert main(["slides", str(tmp_path / "nothing.txt"), "--no-execute", "--out", str(tmp_path)]) == 2


# ---------------------------------------------------------------- figures for teachers' slides

def test_every_figure_is_named_by_its_notebook_and_topic() -> None:
    from labkit.figures import FIGURES

    numbers = {path.name[:2] for path in NOTEBOOKS}
    assert len(FIGURES) >= 25
    for name in FIGURES:
        assert re.fullmatch(r"\d\d-[a-z0-9]+(-[a-z0-9]+)*", name), name
        assert name[:2] in numbers, f"{name}: no notebook {name[:2]}"
    assert {name[:2] for name in FIGURES} >= {f"{n:02d}" for n in range(8)}  # every notebook 00-07 has figures


def test_labkit_figures_writes_png_and_svg_at_the_chosen_dpi(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from PIL import Image

    names = ["02-gelu-vs-relu", "04-bidirectional-vs-causal"]
    assert main(["figures", *names, "--out", str(tmp_path), "--dpi", "72"]) == 0
    for name in names:
        svg = (tmp_path / f"{name}.svg").read_text()
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg
        with Image.open(tmp_path / f"{name}.png") as image:
            assert round(image.info["dpi"][0]) == 72
            small = image.size
        assert main(["figures", name, "--out", str(tmp_path / "big"), "--dpi", "144"]) == 0
        with Image.open(tmp_path / "big" / f"{name}.png") as image:
            assert abs(image.size[0] / small[0] - 2) < 0.1  # twice the dpi, twice the pixels
    assert "02-gelu-vs-relu.png" in capsys.readouterr().out
    assert main(["figures", "99-nothing", "--out", str(tmp_path)]) == 2
    assert "unknown figure" in capsys.readouterr().err
    assert main(["figures", "--out", str(tmp_path), "--dpi", "5"]) == 2
    assert main(["figures", "--list"]) == 0 and "07-deletion-curves" in capsys.readouterr().out


def test_deck_links_lead_to_decks_or_become_text() -> None:
    markdown = ("[the glossary](../docs/glossary.md#bert), [notebook 05](05_fine_tuning.ipynb#part-2), "
                "[a paper](https://arxiv.org/abs/1810.04805), [above](#setup), ![a figure](figures/a.png)")
    assert deck_links("[`[UNK]`](../docs/glossary.md#unk) and [`[CLS]`](../docs/glossary.md#cls-and-sep)") == \
        "`[UNK]` and `[CLS]`"
    assert deck_links(markdown) == (
        "the glossary, [notebook 05](05_fine_tuning.slides.html#part-2), [a paper](https://arxiv.org/abs/1810.04805), "
        "[above](#setup), ![a figure](figures/a.png)")
