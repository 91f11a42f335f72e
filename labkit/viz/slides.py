"""The notebooks as reveal.js slide decks that work offline, with a sensible slide structure.

``jupyter nbconvert --to slides`` writes a page that loads reveal.js, jQuery, require.js, MathJax and
mermaid from CDNs (unpkg, cdnjs), so offline it shows unstyled text and raw ``$...$``. Here the same
exporter (nbconvert's ``SlidesExporter``, its ``reveal`` template) is pointed at copies shipped in
``labkit/viz/vendor/slides/`` (from their npm packages; versions, licences and SHA-256 in that folder's
``vendor.json``), which ``export_decks`` copies to ``<out>/_assets/`` beside the decks:

* reveal.js 5.2.1 (``dist/``, the ``white`` theme with its Source Sans Pro fonts, the speaker-notes plugin),
  through ``SlidesExporter.reveal_url_prefix``;
* require.js 2.3.8 (which loads reveal.js, as nbconvert's page does) and jQuery 3.7.1 (the copy
  ``labkit/viz/vendor/`` already ships for bertviz), through template blocks;
* MathJax 3.2.2's single-file ``tex-svg-full.js`` (every TeX extension and the SVG fonts in one file;
  its menu, which would fetch accessibility modules, is switched off), configured for ``$...$`` and
  ``$$...$$`` as in Jupyter, in place of nbconvert's MathJax 2 from cdnjs;
* mermaid is not shipped, since no notebook draws a mermaid diagram: its loader is left out, and a
  notebook with a mermaid block is refused with a message; ipywidgets' loader (from unpkg) is left out
  too, since a deck has no kernel (a widget's output becomes a one-line note).

nbconvert 7.17's slide template names no font-awesome file. After rendering, ``remote_references``
reads the page and the export fails if anything it would load (a script, style sheet, font, image,
frame, CSS ``@import`` or ``url()``, or a URL string in a script) is remote; hyperlinks a reader may
click and XML namespace names stay.

Slide structure, applied at export time (the notebooks carry no slide metadata): a markdown cell that
starts with a ``#`` or ``##`` heading opens a slide; one that starts with ``###`` (or deeper) opens a
sub-slide (reveal's vertical slides), and so does a markdown cell that follows a code cell (the next
step of the argument); every other cell continues the current slide. An exercise's solution cell
becomes a speaker note (``s`` opens the speaker view), so the audience sees the exercise and its
check, not the answer. A cell's own ``slideshow`` metadata, if it has any, wins. Tall slides scroll.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import html
import json
import re
import shutil
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path

import nbformat

from labkit.errors import LabkitError
from labkit.exercises.quiz import with_static_quizzes
from labkit.exercises.student import is_relative_path, is_solution_cell, notebook_paths

VENDOR = Path(__file__).resolve().parent / "vendor" / "slides"
JQUERY = Path(__file__).resolve().parent / "vendor" / "jquery.min.js"
ASSETS = "_assets"  # the folder beside the decks that holds the vendored files
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = "[an interactive widget: open the notebook in Jupyter to use it]"

TEMPLATE = r"""{%- extends 'index.html.j2' -%}
{%- block html_head_js_jquery -%}<script src="_assets/jquery.min.js"></script>{%- endblock html_head_js_jquery -%}
{%- block html_head_js_requirejs -%}<script src="_assets/require.js"></script>{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}
<script>
window.MathJax = {
  tex: {inlineMath: [['$', '$'], ['\\(', '\\)']], displayMath: [['$$', '$$'], ['\\[', '\\]']],
        processEscapes: true, processEnvironments: true, tags: 'ams'},
  svg: {fontCache: 'global'},
  options: {enableMenu: false}
};
</script>
<script src="_assets/mathjax/tex-svg-full.js"></script>
{%- endblock html_head_js_mathjax -%}
{% block footer_js %}
<script>
require({waitSeconds: 15},
  ["{{ resources.reveal.url_prefix }}/dist/reveal.js", "{{ resources.reveal.url_prefix }}/plugin/notes/notes.js"],
  function (Reveal, RevealNotes) {
    Reveal.initialize({
      controls: true, progress: true, history: true,
      transition: "{{ resources.reveal.transition | default('slide', true) }}",
      slideNumber: "{{ resources.reveal.number | default('', true) }}", plugins: [RevealNotes],
      width: {{ resources.reveal.width | default('960', true) }},
      height: {{ resources.reveal.height | default('700', true) }}
    });
    function scrollTallSlides() {
      var tallest = $('.reveal').height() * 0.95;
      $('section.present').find('section').filter(function () { return $(this).height() > tallest; })
        .css('height', 'calc(95vh)').css('overflow-y', 'scroll').css('margin-top', '20px');
    }
    Reveal.on('ready', scrollTallSlides);
    Reveal.on('slidechanged', scrollTallSlides);
  });
</script>
{% endblock footer_js %}
"""


class RemoteReferenceError(LabkitError, ValueError):
    """An exported deck would load something from the network."""


def slide_type(cell: nbformat.NotebookNode, previous: nbformat.NotebookNode | None) -> str:
    """The reveal.js role of ``cell`` by the module's rule: ``slide``, ``subslide``, ``-`` or ``notes``."""
    if cell.cell_type == "markdown":
        first_line = cell.source.lstrip().split("\n", 1)[0]
        if re.match(r"#{1,2}\s", first_line):
            return "slide"
        if re.match(r"#{3,6}\s", first_line) or (previous is not None and previous.cell_type == "code"):
            return "subslide"
        return "-"
    return "notes" if is_solution_cell(cell) else "-"


def with_slide_metadata(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``notebook`` whose cells carry ``metadata.slideshow.slide_type`` by the rule (own metadata kept)."""
    deck = copy.deepcopy(notebook)
    previous = None
    for cell in deck.cells:
        if not cell.metadata.get("slideshow", {}).get("slide_type"):
            cell.metadata.setdefault("slideshow", {})["slide_type"] = slide_type(cell, previous)
        previous = cell
    if deck.cells and deck.cells[0].metadata["slideshow"]["slide_type"] != "slide":
        deck.cells[0].metadata["slideshow"]["slide_type"] = "slide"  # a deck opens with a slide
    return deck


def vendored_slide_files() -> dict[str, dict[str, str]]:
    """The files in ``labkit/viz/vendor/slides/`` (path -> package, version, licence, sha256), each checked."""
    return dict(_checked_vendor())


@functools.cache
def _checked_vendor() -> tuple[tuple[str, dict[str, str]], ...]:
    index = VENDOR / "vendor.json"
    if not index.is_file():
        raise LabkitError(f"{index} is missing: labkit was installed without its slide assets")
    entries = json.loads(index.read_text(encoding="utf-8"))["files"]
    for relative, entry in entries.items():
        path = VENDOR / relative
        if not path.is_file():
            raise LabkitError(f"{path} ({entry['package']} {entry['version']}) is missing from {VENDOR}")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != entry["sha256"]:
            raise LabkitError(f"{path} has SHA-256 {digest}, but vendor.json records {entry['sha256']}")
    return tuple(entries.items())


def copy_assets(out_dir: Path) -> Path:
    """Copy the checked vendored files (and jQuery) to ``out_dir/_assets``; return that folder."""
    from labkit.viz.bertviz_offline import vendored_scripts

    vendored_scripts()  # checks jquery.min.js against labkit/viz/vendor/vendor.json
    assets = out_dir / ASSETS
    for relative in vendored_slide_files():
        target = assets / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(VENDOR / relative, target)
    shutil.copyfile(JQUERY, assets / "jquery.min.js")
    return assets


def export_decks(sources: Iterable[Path | str], out_dir: Path | str, *, execute: bool = False,
                 timeout: int = 600) -> list[Path]:
    """Export each notebook (a folder stands for its ``*.ipynb``) to ``out_dir/<name>.slides.html``.

    ``execute=True`` runs each notebook first (in its own folder, as a learner would), so the decks show
    every figure and table; otherwise they show the outputs saved in the notebook. The vendored files
    go to ``out_dir/_assets``, and ``out_dir/index.html`` links the decks. Returns the decks' paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    copy_assets(out_dir)
    decks = [export_deck(path, out_dir, execute=execute, timeout=timeout) for path in notebook_paths(sources)]
    links = "\n".join(f'<li><a href="{html.escape(deck.name)}">{html.escape(deck.name.removesuffix(".slides.html"))}'
                      "</a></li>" for deck in decks)
    (out_dir / "index.html").write_text(f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Slides'
                                        f'</title></head>\n<body><h1>Transformer Lab Kit: slides</h1>\n<ul>\n{links}\n'
                                        "</ul>\n</body></html>\n", encoding="utf-8")
    return decks


def export_deck(path: Path | str, out_dir: Path | str, *, execute: bool = False, timeout: int = 600) -> Path:
    """Export one notebook to ``out_dir/<name>.slides.html`` (its assets must be in ``out_dir/_assets``)."""
    path, out_dir = Path(path), Path(out_dir)
    notebook = nbformat.read(path, as_version=4)
    _refuse_mermaid(notebook, path)
    if execute:
        from nbclient import NotebookClient

        NotebookClient(notebook, timeout=timeout, kernel_name="python3", store_widget_state=True,
                       resources={"metadata": {"path": str(path.parent.resolve())}}).execute()
    page = deck_html(notebook, path.stem)
    target = out_dir / f"{path.stem}.slides.html"
    target.write_text(page, encoding="utf-8")
    return target


def without_widgets(notebook: nbformat.NotebookNode, progress_note: str = WIDGET_NOTE) -> nbformat.NotebookNode:
    """A copy of ``notebook`` for a page without a kernel: quizzes static, no widget state, and each widget output
    a one-line note (``WIDGET_NOTE``; tqdm's progress bars, widgets too, ``progress_note``)."""
    copied = with_static_quizzes(notebook)  # a quiz's questions, without its answers, instead of its code
    copied.metadata.pop("widgets", None)  # saved widget state would make the page load a widget manager from unpkg
    for cell in copied.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                is_progress_bar = "Progress(" in str(data.get("text/plain", ""))
                output["data"] = {"text/plain": progress_note if is_progress_bar else WIDGET_NOTE}
    return copied


def deck_html(notebook: nbformat.NotebookNode, name: str) -> str:
    """The reveal.js page of ``notebook`` (slide metadata by the rule), with every asset under ``_assets/``."""
    from jinja2 import DictLoader
    from nbconvert.exporters import SlidesExporter

    deck = with_slide_metadata(without_widgets(notebook))
    for cell in deck.cells:
        if cell.cell_type == "markdown":
            cell.source = deck_links(cell.source)
    exporter = SlidesExporter(extra_loaders=[DictLoader({"labkit_slides.html.j2": TEMPLATE})],
                              template_file="labkit_slides.html.j2", reveal_url_prefix=f"{ASSETS}/reveal.js",
                              reveal_theme="white", reveal_scroll=True)
    page, _ = exporter.from_notebook_node(deck, resources={"metadata": {"name": name}})
    problems = remote_references(page)
    if problems:
        raise RemoteReferenceError(f"the slides of {name} would load from the network: " + "; ".join(problems[:5]))
    return page


_MARKDOWN_LINK = re.compile(r"(!?)\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(([^)\s]+)\)")  # text may hold [CLS]


def deck_links(markdown: str) -> str:
    """``markdown`` with its links made right for a deck beside the other decks.

    A link to a notebook (``05_fine_tuning.ipynb#part``) leads to its deck (``05_fine_tuning.slides.html#part``);
    another relative link (the glossary, ``../docs/glossary.md#bert``) would lead nowhere from the decks' folder,
    so only its text stays. URLs, in-page anchors and images are kept.
    """
    def replace(match: re.Match[str]) -> str:
        image, text, target = match.groups()
        path, hash_, fragment = target.partition("#")
        if image or not is_relative_path(path):
            return match.group(0)
        if path.endswith(".ipynb") and "/" not in path:
            return f"[{text}]({path.removesuffix('.ipynb')}.slides.html{hash_}{fragment})"
        return text

    return _MARKDOWN_LINK.sub(replace, markdown)


def remote_references(page: str) -> list[str]:
    """Everything in an HTML page that would be loaded from a remote URL (empty: the page works offline).

    Checked: ``src``/``href``/``data``/``poster``/``srcset`` attributes of every element except a
    hyperlink's ``<a href>``; CSS ``url()`` and ``@import`` in ``<style>`` and ``style=""``; and URL
    strings in ``<script>`` (comments aside). ``http://www.w3.org/...`` names (XML namespaces) are not
    fetched and are allowed.
    """
    scanner = _RemoteScanner()
    scanner.feed(page)
    scanner.close()
    return scanner.problems


_REMOTE = re.compile(r"^\s*(?:https?:|ftp:)?//", re.IGNORECASE)
_CSS_URL = re.compile(r"""(?:url\(\s*|@import\s+)['"]?((?:https?:)?//[^'")\s;]+)""", re.IGNORECASE)
_JS_URL = re.compile(r"""["'`]((?:https?:)?//[^"'`\s]+)""", re.IGNORECASE)
_JS_COMMENT = re.compile(r"/\*.*?\*/|(?<![:\"'\\/])//[^\n]*", re.DOTALL)
_NAMESPACE = re.compile(r"^(?:https?:)?//www\.w3\.org/", re.IGNORECASE)
_LOADING = {"src", "href", "data", "poster", "srcset", "xlink:href", "background", "action", "formaction"}


class _RemoteScanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.raw: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if not value:
                continue
            if name == "style":
                self._css(value, f"<{tag} style>")
            elif name in _LOADING and not (tag == "a" and name == "href"):
                parts = value.split(",") if name == "srcset" else [value]
                self.problems += [f"<{tag} {name}={part.strip()!r}>" for part in parts
                                  if _REMOTE.match(part) and not _NAMESPACE.match(part.strip())]
        self.raw = tag if tag in ("script", "style") else None

    def handle_endtag(self, tag: str) -> None:
        self.raw = None

    def handle_data(self, data: str) -> None:
        if self.raw == "style":
            self._css(data, "<style>")
        elif self.raw == "script":
            code = _JS_COMMENT.sub("", data)
            self.problems += [f"<script> {url!r}" for url in _JS_URL.findall(code) if not _NAMESPACE.match(url)]

    def _css(self, text: str, where: str) -> None:
        self.problems += [f"{where} {url!r}" for url in _CSS_URL.findall(text) if not _NAMESPACE.match(url)]


def _refuse_mermaid(notebook: nbformat.NotebookNode, path: Path) -> None:
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "markdown" and re.search(r"^\s*```+\s*mermaid", cell.source, re.MULTILINE):
            raise LabkitError(f"{path.name}, cell {index}: a mermaid diagram; the kit does not ship mermaid (no "
                              "notebook needed it). Draw it as a figure, or vendor mermaid as "
                              "labkit/viz/vendor/slides/README.md explains")
