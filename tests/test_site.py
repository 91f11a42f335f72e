"""The static site (`labkit site`): every notebook as a page with its outputs, an index, the documents; all offline.

The builds here run with every non-local connection refused (tests/offline.py), so they also show that building
the site needs no network. The whole kit is built once, with `--no-execute`, through the command line: that is
the build CI runs on every push, so the site cannot rot.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import nbformat
import pytest

from labkit.cli import main
from labkit.errors import LabkitError
from labkit.viz.site import (
    MATHJAX_SCRIPT,
    PROGRESS_NOTE,
    build_site,
    descriptions_from_readme,
    heading_anchor,
    notebook_html,
    rewrite_links,
)
from labkit.viz.slides import WIDGET_NOTE, WIDGET_VIEW, RemoteReferenceError, remote_references
from tests.test_slides import LOCAL_REFERENCE

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# a 1 x 1 PNG, the saved output of the figure cell below (so the unexecuted build has a figure to embed)
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIA"
                         "X8jx0gAAAABJRU5ErkJggg==")
MATHS = "$$\\mathcal{L} = -\\log p(x)$$"


def small_notebooks(folder: Path) -> Path:
    """Two notebooks, as saved: one with maths, a figure and links; one with a widget (state saved too)."""
    folder.mkdir(parents=True, exist_ok=True)
    figure = nbformat.v4.new_code_cell("from labkit import viz\nviz.bar_chart(['a', 'b'], [1.0, 2.0], title='bars')")
    figure.outputs = [nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(PIXEL).decode(),
                                                                    "text/plain": "<Figure>"})]
    first = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 01 · Maths and a figure\n\nThe loss, and a bar chart.\n\n" + MATHS + "\n\n"
                                      "See [perplexity](../docs/glossary.md#perplexity) and [the widget]"
                                      "(02_widget.ipynb), or [the paper](https://arxiv.org/abs/1706.03762)."),
        figure])
    widget = nbformat.v4.new_code_cell("import ipywidgets\nipywidgets.IntSlider()")
    view = {"model_id": "0123456789abcdef", "version_major": 2, "version_minor": 0}
    widget.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "IntSlider(value=0)",
                                                                      WIDGET_VIEW: view}, execution_count=1)]
    progress = nbformat.v4.new_code_cell("ipywidgets.FloatProgress(value=1, max=3)")
    progress.outputs = [nbformat.v4.new_output("execute_result", data={
        "text/plain": "FloatProgress(value=1.0, max=3.0)", WIDGET_VIEW: {**view, "model_id": "fedcba9876543210"}},
        execution_count=2)]
    second = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 02 · A widget\n\nA slider to move."),
                                             widget, progress])
    second.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2,
                                                                                  "version_minor": 0}}
    nbformat.write(first, folder / "01_maths.ipynb")
    nbformat.write(second, folder / "02_widget.ipynb")
    (folder.parent / "docs").mkdir(exist_ok=True)
    (folder.parent / "docs" / "glossary.md").write_text(
        "# Glossary\n\n### Perplexity\n\nexp of the mean loss, $e^{\\mathcal{L}}$.\n\n"
        "*Taught in [01](../notebooks/01_maths.ipynb).*\n\n### [CLS] and [SEP]\n\nSpecial tokens.\n")
    return folder


def check_offline_pages(out: Path, names: list[str]) -> dict[str, str]:
    """Every page named exists, loads nothing remote, and every local file it loads was copied; the pages' text."""
    pages = {}
    for name in names:
        page = (out / name).read_text(encoding="utf-8")
        assert remote_references(page) == [], name
        for forbidden in ("unpkg.com", "cdnjs.cloudflare.com", "cdn.jsdelivr.net", "MathJax.Hub", "widget-state"):
            assert forbidden not in page, f"{name} still mentions {forbidden}"
        assert f'<script src="{MATHJAX_SCRIPT}"></script>' in page, f"{name}: maths is not typeset by the local MathJax"
        for reference in LOCAL_REFERENCE.findall(page):
            if not reference.startswith("data:"):
                assert (out / reference).is_file(), f"{name} loads {reference}, which was not copied"
        pages[name] = page
    return pages


@pytest.mark.parametrize("execute", [False, True], ids=["saved outputs", "executed"])
def test_two_small_notebooks_make_a_site_that_reads_offline(tmp_path: Path, execute: bool) -> None:
    folder = small_notebooks(tmp_path / "notebooks")
    out = tmp_path / "site"
    written = build_site([folder], out, execute=execute, readme=None, documents=[tmp_path / "docs" / "glossary.md"])
    assert [path.name for path in written] == ["01_maths.html", "02_widget.html", "glossary.html", "index.html"]
    pages = check_offline_pages(out, [path.name for path in written])
    first, second, index = pages["01_maths.html"], pages["02_widget.html"], pages["index.html"]
    # the index lists the notebooks in order, with their titles and one-line descriptions, and links the glossary
    assert re.findall(r'<li><a href="([^"]+)">', index) == ["01_maths.html", "02_widget.html"]
    assert "01 · Maths and a figure</a><br>The loss, and a bar chart." in index and "A slider to move." in index
    assert 'href="glossary.html"' in index
    # maths is left for MathJax, the figure is embedded, the widget is a note, links point into the site
    assert MATHS.replace("<", "&lt;") in first
    images = re.findall(r'<img [^>]*src="data:image/png;base64,([^"]+)"', first)
    assert len(images) == 1 and (execute or base64.b64decode(images[0]) == PIXEL)
    assert WIDGET_NOTE in second and PROGRESS_NOTE in second and "IntSlider(value=0)" not in second
    assert 'href="glossary.html#perplexity"' in first and 'href="02_widget.html"' in first
    assert 'href="https://arxiv.org/abs/1706.03762"' in first  # a hyperlink a reader may follow stays
    assert 'href="01_maths.html"' in pages["glossary.html"]
    assert 'id="perplexity"' in pages["glossary.html"] and 'id="cls-and-sep"' in pages["glossary.html"]
    assert 'href="02_widget.html"' in first and 'href="01_maths.html"' in second  # previous / next
    assert (out / "_assets" / "require.js").is_file() and (out / "_assets" / "mathjax" / "LICENSE").is_file()


def test_nbconverts_own_page_is_what_the_check_catches(tmp_path: Path) -> None:
    """Without labkit's template the same notebook loads require.js, MathJax and the widget manager from CDNs."""
    from nbconvert.exporters import HTMLExporter

    notebook = nbformat.read(small_notebooks(tmp_path / "notebooks") / "02_widget.ipynb", as_version=4)
    page, _ = HTMLExporter().from_notebook_node(notebook)
    found = " ".join(remote_references(page)).lower()
    for library in ("require", "mathjax", "html-manager"):
        assert library in found, f"{library} not reported in {found}"
    assert remote_references(notebook_html(notebook, "02 · A widget")) == []


def test_a_page_that_would_load_a_remote_file_is_refused() -> None:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("![logo](https://example.org/logo.png)")])
    with pytest.raises(RemoteReferenceError, match="would load from the network"):
        notebook_html(notebook, "remote")


def test_a_failing_notebook_stops_the_build_with_its_name(tmp_path: Path) -> None:
    source = tmp_path / "03_broken.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")]), source)
    with pytest.raises(LabkitError, match="03_broken.ipynb stopped with an error.*ZeroDivisionError"):
        build_site([source], tmp_path / "site", execute=True, readme=None, documents=[])
    assert not (tmp_path / "site" / "index.html").exists()


def test_links_are_rewritten_only_when_they_point_at_a_page_of_the_site() -> None:
    links = {"05_fine_tuning.ipynb": "05_fine_tuning.html", "glossary.md": "glossary.html"}
    page = ('<a href="05_fine_tuning.ipynb">a</a> <a href="../notebooks/05_fine_tuning.ipynb#part-2">b</a> '
            '<a href="../docs/glossary.md#lora">c</a> <a href="#local">d</a> <a href="other.ipynb">e</a> '
            '<a href="https://example.org/glossary.md">f</a>')
    assert rewrite_links(page, links) == (
        '<a href="05_fine_tuning.html">a</a> <a href="05_fine_tuning.html#part-2">b</a> '
        '<a href="glossary.html#lora">c</a> <a href="#local">d</a> <a href="other.ipynb">e</a> '
        '<a href="https://example.org/glossary.md">f</a>')


def test_the_whole_kit_builds_offline_without_execution(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`labkit site --no-execute`: the build CI runs, of every notebook, the glossary and the instructor guide."""
    assert main(["site", "--no-execute", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    names = [f"{path.stem}.html" for path in NOTEBOOKS]
    documents = [path for path in (ROOT / "docs" / "glossary.md", ROOT / "docs" / "instructor_guide.md")
                 if path.is_file()]
    pages = check_offline_pages(tmp_path, [*names, *(f"{path.stem}.html" for path in documents), "index.html"])
    assert all(name in printed for name in names)
    index = pages["index.html"]
    assert re.findall(r'<li><a href="([^"]+)">', index) == names  # every notebook, in order
    descriptions = descriptions_from_readme(ROOT / "README.md")
    for path in NOTEBOOKS:
        title = nbformat.read(path, as_version=4).cells[0].source.splitlines()[0].lstrip("#").strip()
        assert f">{title}</a>" in index.replace("&#x27;", "'"), f"{path.name}: its title is not in the index"
        if path.name in descriptions:  # README's one-line description, rendered
            assert descriptions[path.name].split("`")[0].strip()[:40] in index, f"{path.name}: no description"
    for name in names:  # the quiz shown as its questions, not its code; glossary links lead to the glossary's page
        page = pages[name]
        assert page.count('class="labkit-quiz"') == 1 and "digest=" not in page and "sealed:" not in page, name
        assert "glossary.html#" in page and "glossary.md" not in re.sub(r"<code>.*?</code>", "", page), name
    for document in documents:
        assert f'href="{document.stem}.html"' in index
        page = pages[f"{document.stem}.html"]
        for heading in re.findall(r"^#{1,6} (.+)$", document.read_text(encoding="utf-8"), re.MULTILINE):
            assert f'id="{heading_anchor(heading)}"' in page, f"{document.name}: no anchor for {heading!r}"
        assert ".ipynb" not in re.sub(r"<code>.*?</code>", "", page), f"{document.name}: a link to a notebook file"
    assert main(["site", str(tmp_path / "nothing.txt"), "--no-execute", "--out", str(tmp_path)]) == 2
