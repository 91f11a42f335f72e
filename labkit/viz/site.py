"""The kit as a static site for readers who run nothing: every notebook run and rendered with all its outputs.

The notebooks are saved with few outputs (good for diffs), so a reader browsing the repository sees no
figures. ``labkit site --out DIR`` writes a readable copy: one HTML page per notebook of ``notebooks/``
(the instructor copies, not ``notebooks/student/``), each run first, in its own folder, as a learner would
(``--no-execute`` renders the outputs saved in the notebooks instead, for quick checks); ``index.html``
listing them in order, each with its title and its one-line description (from README's notebook table,
else the first paragraph of its title cell); and the glossary and the instructor guide (``docs/*.md``) as
pages. A markdown link to a kit notebook (``05_fine_tuning.ipynb``) or to one of those documents
(``../docs/glossary.md#perplexity``) points to its page in the site instead.

Offline at build time and at reading time. Each notebook page is nbconvert's ``HTMLExporter`` with its
``lab`` template, whose templates and style sheets ship inside nbconvert and are inlined into the page
(nothing is fetched while building; ``tests/test_site.py`` builds with every non-local connection
refused). The template's remote files are replaced by copies in ``DIR/_assets/``:

* MathJax 2.7.7 from cdnjs -> MathJax 3.2.2's single-file ``tex-svg-full.js`` (every TeX extension and
  its SVG fonts), the copy ``labkit.viz.slides`` ships in ``labkit/viz/vendor/slides/`` (checked against
  its SHA-256 before copying), configured as in the slides for ``$...$`` and ``$$...$$``, menu off;
* require.js from cdnjs -> the same vendored require.js 2.3.8 (an output that loads a script with
  ``require`` still works);
* ipywidgets' manager from unpkg -> nothing: a static page has no kernel, so a widget's output becomes
  a one-line note (a progress bar, as tqdm draws in a notebook, says so) and the saved widget state is
  dropped;
* mermaid from cdnjs -> nothing: a notebook with a mermaid block is refused, as for the slides.

Every page written (notebooks, documents, index) is read back with ``labkit.viz.slides.remote_references``,
and the build fails if anything on it would be loaded from the network.
"""

from __future__ import annotations

import html
import re
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import nbformat

from labkit.errors import LabkitError
from labkit.exercises.student import is_relative_path, notebook_paths
from labkit.paths import REPO_ROOT
from labkit.viz.slides import (
    ASSETS,
    VENDOR,
    RemoteReferenceError,
    _refuse_mermaid,
    remote_references,
    vendored_slide_files,
    without_widgets,
)

SITE_ASSETS = ("mathjax/tex-svg-full.js", "mathjax/LICENSE", "require.js")  # from labkit/viz/vendor/slides/
MATHJAX_SCRIPT = f"{ASSETS}/mathjax/tex-svg-full.js"
PROGRESS_NOTE = "[a progress bar: it shows while the notebook runs in Jupyter]"
DOCUMENTS = ("glossary.md", "instructor_guide.md")  # in docs/, rendered as pages when present
README = REPO_ROOT / "README.md"

MATHJAX = rf"""<script>
window.MathJax = {{
  tex: {{inlineMath: [['$', '$'], ['\\(', '\\)']], displayMath: [['$$', '$$'], ['\\[', '\\]']],
        processEscapes: true, processEnvironments: true, tags: 'ams'}},
  svg: {{fontCache: 'global'}},
  options: {{enableMenu: false}}
}};
</script>
<script src="{MATHJAX_SCRIPT}"></script>"""

STYLE = """<style>
.labkit-nav {font: 14px/1.6 system-ui, sans-serif; margin: 0.5em 0 1.5em; padding: 0.4em 0;
             border-bottom: 1px solid #ddd;}
.labkit-nav a {margin-right: 1.2em;}
.labkit-nav.bottom {border-top: 1px solid #ddd; border-bottom: none; margin-top: 2em;}
</style>"""

TEMPLATE = (r"""{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}<script src="_assets/require.js"></script>{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_js_mathjax -%}""" + MATHJAX + r"""{%- endblock html_head_js_mathjax -%}
{%- block extra_css -%}""" + STYLE + r"""{%- endblock extra_css -%}
{%- block body_header -%}{{ super() }}<nav class="labkit-nav">{{ resources.labkit_nav }}</nav>
{%- endblock body_header -%}
{%- block body_footer -%}<nav class="labkit-nav bottom">{{ resources.labkit_nav }}</nav>{{ super() }}
{%- endblock body_footer -%}
""")

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{title}</title>
{mathjax}
<style>
body {{font: 16px/1.6 system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 52em; margin: 2em auto;
       padding: 0 1em; color: #222;}}
h1, h2, h3 {{line-height: 1.25;}} code {{font-size: 90%; background: #f4f4f4; padding: 0 0.2em;}}
table {{border-collapse: collapse;}} th, td {{border: 1px solid #ccc; padding: 0.3em 0.6em; vertical-align: top;}}
a.anchor-link {{display: none;}} ol.notebooks li {{margin-bottom: 0.8em;}}
</style>
{style}
</head>
<body>
{body}
</body></html>
"""


@dataclass(frozen=True)
class SitePage:
    """One page of the site: its file name (in the site's folder), title and one-line description (HTML)."""

    file_name: str
    title: str
    description: str


def build_site(sources: Iterable[Path | str], out_dir: Path | str, *, execute: bool = True, timeout: int = 600,
               readme: Path | None = README, documents: Sequence[Path] | None = None,
               progress: Callable[[Path, float], None] | None = None) -> list[Path]:
    """Write the site to ``out_dir``: a page per notebook (a folder stands for its ``*.ipynb``), documents, index.

    ``execute=True`` runs each notebook first (a cell's ``timeout`` in seconds), so every figure and table
    is on its page; ``execute=False`` renders the outputs saved in the notebooks. ``readme`` gives the
    notebooks' descriptions (its notebook table; ``None``: the title cells'). ``documents`` are markdown
    files rendered as pages (default: the kit's ``docs/glossary.md`` and ``docs/instructor_guide.md``).
    ``progress(page, seconds)`` is called after each page. Returns the pages written, the index last.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    copy_site_assets(out_dir)
    paths = notebook_paths(sources)
    documents = default_documents() if documents is None else [Path(path) for path in documents]
    links = {path.name: f"{path.stem}.html" for path in [*paths, *documents]}
    if len(set(links.values()) | {"index.html"}) != len(paths) + len(documents) + 1:
        raise LabkitError("two of the files would make the same page (or one would replace index.html): "
                          + ", ".join(str(path) for path in [*paths, *documents]))
    descriptions = descriptions_from_readme(readme) if readme is not None else {}
    entries, written = [], []
    for index, path in enumerate(paths):
        start = time.perf_counter()
        notebook = nbformat.read(path, as_version=4)
        _refuse_mermaid(notebook, path)
        if execute:
            run_notebook(notebook, path, timeout)
        title, summary = title_and_summary(notebook, path.stem)
        neighbours = (paths[index - 1] if index else None, paths[index + 1] if index + 1 < len(paths) else None)
        page = notebook_html(notebook, title, links, navigation(neighbours, documents))
        written.append(_write(out_dir / links[path.name], page))
        description = descriptions.get(path.name) or summary
        entries.append(SitePage(links[path.name], title, _inline_markdown(description)))
        if progress:
            progress(written[-1], time.perf_counter() - start)
    document_nav = navigation((None, None), documents)
    for path in documents:
        written.append(_write(out_dir / links[path.name], document_html(path, links, document_nav)))
    document_pages = [SitePage(links[path.name], document_title(path), "") for path in documents]
    written.append(_write(out_dir / "index.html", index_html(entries, document_pages, executed=execute)))
    return written


def default_documents() -> list[Path]:
    """The kit's ``docs/`` pages the site renders (those of ``DOCUMENTS`` that exist)."""
    return [REPO_ROOT / "docs" / name for name in DOCUMENTS if (REPO_ROOT / "docs" / name).is_file()]


def copy_site_assets(out_dir: Path) -> Path:
    """Copy MathJax and require.js (checked against ``vendor.json``) to ``out_dir/_assets``; return that folder."""
    checked = vendored_slide_files()  # raises if a file is missing or its SHA-256 differs from vendor.json
    assets = out_dir / ASSETS
    for relative in SITE_ASSETS:
        if relative not in checked:
            raise LabkitError(f"{relative} is not among the vendored files recorded in {VENDOR / 'vendor.json'}")
        target = assets / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(VENDOR / relative, target)
    return assets


def run_notebook(notebook: nbformat.NotebookNode, path: Path, timeout: int) -> None:
    """Execute ``notebook`` in place, in ``path``'s folder; a failing cell stops the build with its notebook's name."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    try:
        client.execute()
    except CellExecutionError as error:
        raise LabkitError(f"{path.name} stopped with an error while running, so the site was not finished: "
                          f"{error.ename}: {error.evalue}") from error


def notebook_html(notebook: nbformat.NotebookNode, title: str, links: dict[str, str] | None = None,
                  nav: str = "") -> str:
    """The page of ``notebook``: nbconvert's lab template, assets under ``_assets/``, widgets as notes, checked.

    ``title`` is the page's title; ``links`` maps a file name (``05_fine_tuning.ipynb``, ``glossary.md``) to its
    page in the site; ``nav`` is the HTML of the navigation bar shown above and below the notebook.
    """
    from jinja2 import DictLoader
    from nbconvert.exporters import HTMLExporter

    page_notebook = without_widgets(notebook, progress_note=PROGRESS_NOTE)
    exporter = HTMLExporter(extra_loaders=[DictLoader({"labkit_site.html.j2": TEMPLATE})],
                            template_file="labkit_site.html.j2")
    page, _ = exporter.from_notebook_node(page_notebook, resources={"metadata": {"name": title}, "labkit_nav": nav})
    return checked_offline(rewrite_links(page, links or {}), title)


def checked_offline(page: str, name: str) -> str:
    """``page`` itself, after checking it loads nothing remote (else ``RemoteReferenceError`` naming ``name``)."""
    problems = remote_references(page)
    if problems:
        raise RemoteReferenceError(f"the page of {name} would load from the network: " + "; ".join(problems[:5]))
    return page


_HREF = re.compile(r'href="([^"#?]*)([^"]*)"')


def rewrite_links(page: str, links: dict[str, str]) -> str:
    """``page`` with each relative ``href`` to a file named in ``links`` pointed at its page (fragment kept)."""
    def replace(match: re.Match[str]) -> str:
        target, rest = match.group(1), match.group(2)
        if not is_relative_path(target):
            return match.group(0)
        page_name = links.get(unquote(target).rsplit("/", 1)[-1])
        return f'href="{page_name}{rest}"' if page_name else match.group(0)

    return _HREF.sub(replace, page)


def title_and_summary(notebook: nbformat.NotebookNode, default: str) -> tuple[str, str]:
    """The first markdown cell's ``#`` heading (else ``default``) and its first paragraph after the heading."""
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        lines = cell.source.strip().splitlines()
        if not lines or not re.match(r"#\s", lines[0]):
            return default, ""
        paragraphs = "\n".join(lines[1:]).strip().split("\n\n")
        return lines[0].lstrip("#").strip(), " ".join(paragraphs[0].split()) if paragraphs[0] else ""
    return default, ""


def readme_notebook_table(readme: Path) -> dict[str, list[str]]:
    """Notebook file name -> the other cells of its row in README's notebook table (markdown, stripped), if any."""
    if not readme.is_file():
        return {}
    found = {}
    for line in readme.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*\[`([\w.-]+\.ipynb)`\]\([^)]*\)\s*\|", line)
        if match:
            found[match.group(1)] = [cell.strip() for cell in line[match.end():].rstrip().rstrip("|").split("|")]
    return found


def descriptions_from_readme(readme: Path) -> dict[str, str]:
    """Notebook file name -> the "what it teaches" cell of README's notebook table (markdown), if README has one."""
    return {name: cells[0] for name, cells in readme_notebook_table(readme).items()}


def navigation(neighbours: tuple[Path | None, Path | None], documents: Sequence[Path]) -> str:
    """The navigation bar's HTML: previous page, the index, the documents, next page."""
    previous, following = neighbours
    items = [f'<a href="{html.escape(previous.stem)}.html">&larr; {html.escape(previous.stem)}</a>'] if previous else []
    items.append('<a href="index.html">all notebooks</a>')
    items += [f'<a href="{html.escape(path.stem)}.html">{html.escape(document_title(path))}</a>' for path in documents]
    if following:
        items.append(f'<a href="{html.escape(following.stem)}.html">{html.escape(following.stem)} &rarr;</a>')
    return " ".join(items)


def heading_anchor(heading: str) -> str:
    """The anchor GitHub gives a markdown heading: lower case, punctuation dropped, spaces as hyphens.

    ``[CLS] and [SEP]`` -> ``cls-and-sep``; ``McNemar's test`` -> ``mcnemars-test``. The site's document
    pages use the same anchors, so a link ``glossary.md#perplexity`` works on GitHub and in the site.
    """
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def document_title(path: Path) -> str:
    """The first ``#`` heading of a markdown file, else its name."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if re.match(r"#\s", line):
            return line.lstrip("#").strip()
    return path.stem.replace("_", " ")


_HEADING = re.compile(r'<h([1-6]) id="[^"]*">(.*?)<a class="anchor-link" href="#[^"]*">', re.DOTALL)


def document_html(path: Path, links: dict[str, str] | None = None, nav: str = "") -> str:
    """The page of a markdown document: headings with GitHub's anchors, links into the site, maths by MathJax."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    def anchored(match: re.Match[str]) -> str:
        anchor = heading_anchor(html.unescape(re.sub(r"<[^>]+>", "", match.group(2))))
        return f'<h{match.group(1)} id="{anchor}">{match.group(2)}<a class="anchor-link" href="#{anchor}">'

    body = _HEADING.sub(anchored, markdown2html_mistune(path.read_text(encoding="utf-8")))
    page = PAGE.format(title=html.escape(document_title(path)), mathjax=MATHJAX, style=STYLE,
                       body=f'<nav class="labkit-nav">{nav}</nav>\n{body}')
    return checked_offline(rewrite_links(page, links or {}), path.name)


def index_html(notebooks: Sequence[SitePage], documents: Sequence[SitePage], *, executed: bool) -> str:
    """The site's front page: the notebooks in order with their descriptions, then the documents."""
    items = "\n".join(f'<li><a href="{html.escape(entry.file_name)}">{html.escape(entry.title)}</a><br>'
                      f"{entry.description}</li>" for entry in notebooks)
    others = " &middot; ".join(f'<a href="{html.escape(entry.file_name)}">{html.escape(entry.title)}</a>'
                               for entry in documents)
    how = ("Each notebook was run from top to bottom when this site was built, so every figure and table is "
           "shown." if executed else "These pages show the outputs saved in the notebooks (the site was built "
           "with <code>--no-execute</code>), so most figures are missing: build it without that option to "
           "see them all.")
    body = (f"<h1>Transformer Lab Kit</h1>\n<p>A readable copy of the kit's notebooks, for reading without "
            f"running anything; it works offline. {how}</p>\n"
            + (f"<p>{others}</p>\n" if others else "") + f'<ol class="notebooks">\n{items}\n</ol>')
    return checked_offline(PAGE.format(title="Transformer Lab Kit", mathjax=MATHJAX, style=STYLE, body=body),
                           "index.html")


def _inline_markdown(text: str) -> str:
    """One paragraph of markdown as HTML without its ``<p>`` wrapper."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    rendered = markdown2html_mistune(text).strip()
    return rendered.removeprefix("<p>").removesuffix("</p>")


def _write(path: Path, page: str) -> Path:
    path.write_text(page, encoding="utf-8")
    return path
