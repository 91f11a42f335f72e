"""Student copies of the kit's notebooks, in the nbgrader convention.

The notebooks in ``notebooks/`` are the instructor copies: each exercise's answer cell holds one
solution between a line ``### BEGIN SOLUTION`` and a line ``### END SOLUTION``, so every notebook runs
top to bottom as a test. A student copy is the same notebook with each such region (markers included)
replaced by a placeholder, by this rule:

* a region at the top level of its cell that assigns values later code reads (names it assigns with
  ``=`` that no earlier line of the notebook binds and a later line uses, outside other solutions)
  becomes one line ``name = ...`` per such name, in the order the solution first assigns them: a
  value is expected, and the check cell says "not answered yet" while it is still ``...``. The
  solution's helpers (variables no later line uses, loop variables, names bound inside its
  functions) are not named;
* any other region (a function's body, a function or class later code calls, or code run for its
  effect) becomes ``raise NotImplementedError("your code here")``, indented like the region.

The outputs and execution counts of solution cells and of check cells (cells that run
``checks.checking()``) are cleared. ``write_student_copies`` also rebases the relative links of markdown
cells (``../docs/glossary.md``), since the copies sit in another folder. Everything else (other cells, their
outputs, cell ids, metadata) is unchanged.
"""

from __future__ import annotations

import ast
import copy
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import nbformat

from labkit.errors import LabkitError

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
PLACEHOLDER = 'raise NotImplementedError("your code here")'
CHECK_MARK = "checking()"


class SolutionMarkerError(LabkitError, ValueError):
    """A ``### BEGIN SOLUTION`` without its ``### END SOLUTION`` (or the reverse, or one inside another)."""


def is_solution_cell(cell: nbformat.NotebookNode) -> bool:
    """True for a code cell that holds at least one solution region."""
    return cell.cell_type == "code" and any(line.strip() == BEGIN for line in cell.source.splitlines())


def is_check_cell(cell: nbformat.NotebookNode) -> bool:
    """True for a code cell that checks an answer (it runs ``checks.checking()``) and holds no solution."""
    return cell.cell_type == "code" and CHECK_MARK in cell.source and not is_solution_cell(cell)


def solution_regions(source: str, where: str = "a cell") -> list[tuple[int, int]]:
    """The ``(begin, end)`` line numbers (0-based, the marker lines) of each solution region in ``source``."""
    regions, start = [], None
    for number, line in enumerate(source.splitlines()):
        marker = line.strip()
        if marker == BEGIN:
            if start is not None:
                raise SolutionMarkerError(f"{where}, line {number + 1}: {BEGIN} inside another solution")
            start = number
        elif marker == END:
            if start is None:
                raise SolutionMarkerError(f"{where}, line {number + 1}: {END} without {BEGIN}")
            regions.append((start, number))
            start = None
    if start is not None:
        raise SolutionMarkerError(f"{where}, line {start + 1}: {BEGIN} without {END}")
    return regions


def names_read(code: str) -> set[str]:
    """The names ``code`` reads (IPython magics and shell lines are skipped; unparsable code reads nothing)."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines()]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set(re.findall(r"[A-Za-z_]\w*", code))  # cannot parse: count every word, to stay on the safe side
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load)}


def names_bound(code: str) -> set[str]:
    """The names ``code`` binds: assignments, loop and ``with`` targets, functions, classes, imports."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in code.splitlines()]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        return set()
    bound = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return bound


def placeholder(region: str, indent: str, read_later: set[str], bound_before: set[str] = frozenset()) -> list[str]:
    """The student copy's lines for one solution region (its code without the markers); see the module's rule."""
    if indent == "":
        try:
            tree = ast.parse(region)
        except SyntaxError:
            tree = None
        if tree is not None:
            defined = {node.name for node in tree.body
                       if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
            answers = [name for name in _assigned_in_order(tree) if name in read_later and name not in bound_before]
            if answers and not defined & (read_later - bound_before):  # a value is expected, not a function
                return [f"{name} = ...  # your answer" for name in answers]
    return [indent + PLACEHOLDER]


def student_copy(notebook: nbformat.NotebookNode, name: str = "the notebook") -> nbformat.NotebookNode:
    """A student copy of an instructor ``notebook`` (a new object; the argument is not changed)."""
    student = copy.deepcopy(notebook)
    for index, cell in enumerate(student.cells):
        if cell.cell_type != "code":
            continue
        if is_solution_cell(cell):
            earlier = [other.source for other in notebook.cells[:index] if other.cell_type == "code"]
            later = [_without_solutions(other.source) for other in student.cells[index + 1:]
                     if other.cell_type == "code"]
            cell.source = _replace_regions(cell.source, earlier, later, f"{name}, cell {index} (id {cell.get('id')})")
        if is_solution_cell(notebook.cells[index]) or is_check_cell(cell):
            cell.outputs = []
            cell.execution_count = None
    return student


def student_copy_in(path: Path, out_dir: Path, copied_names: set[str]) -> nbformat.NotebookNode:
    """The student copy of the notebook at ``path`` as it is written into ``out_dir``: its relative links rebased.

    ``copied_names``: the file names of the notebooks copied with it (links to those lead to their copies).
    """
    copied = student_copy(nbformat.read(path, as_version=4), name=Path(path).name)
    for cell in copied.cells:
        if cell.cell_type == "markdown":
            cell.source = rebased_links(cell.source, Path(path).parent, Path(out_dir), copied_names)
    return copied


def write_student_copies(sources: Iterable[Path | str], out_dir: Path | str) -> list[Path]:
    """Write a student copy of each notebook (a folder stands for its ``*.ipynb`` files) into ``out_dir``.

    Returns the paths written, one per notebook, under the notebook's own file name.
    """
    out_dir = Path(out_dir)
    notebooks = notebook_paths(sources)
    for path in notebooks:
        if path.parent.resolve() == out_dir.resolve():
            raise LabkitError(f"{path} is in --out {out_dir}: its student copy would overwrite it; "
                              "choose another folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    copied_names = {path.name for path in notebooks}
    for path in notebooks:
        copy_ = student_copy_in(path, out_dir, copied_names)
        target = out_dir / path.name
        nbformat.write(copy_, target)
        written.append(target)
    return written


_MARKDOWN_LINK = re.compile(r"(\]\()([^)\s]+)(\))")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def is_relative_path(target: str) -> bool:
    """Whether a link's path (its ``#fragment`` removed) is relative: not empty, not a URL, not absolute."""
    return bool(target) and not _SCHEME.match(target) and not target.startswith("/")


def rebased_links(markdown: str, source_dir: Path, out_dir: Path, copied_names: set[str]) -> str:
    """``markdown`` with its relative link targets made relative to ``out_dir`` instead of ``source_dir``.

    A student copy sits in another folder than its instructor copy, so ``../docs/glossary.md`` must become
    ``../../docs/glossary.md`` there. Links to a notebook that is copied too (``02_bert_encoder.ipynb``)
    keep pointing at its sibling copy; URLs, absolute paths and in-page ``#anchors`` are left alone.
    """
    def rebase(match: re.Match[str]) -> str:
        target = match.group(2)
        path, hash_, fragment = target.partition("#")
        if not is_relative_path(path) or (Path(path).name in copied_names and Path(path).parent == Path(".")):
            return match.group(0)
        moved = os.path.relpath((Path(source_dir) / path).resolve(), Path(out_dir).resolve())
        return match.group(1) + Path(moved).as_posix() + hash_ + fragment + match.group(3)

    return _MARKDOWN_LINK.sub(rebase, markdown)


def notebook_paths(sources: Iterable[Path | str]) -> list[Path]:
    """The notebooks named by ``sources``: files as given, folders as their ``*.ipynb`` (not recursive), sorted."""
    found: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            found.extend(sorted(source.glob("*.ipynb")))
        elif source.suffix == ".ipynb" and source.is_file():
            found.append(source)
        else:
            raise LabkitError(f"{source} is neither a notebook (.ipynb) nor a folder of notebooks")
    if not found:
        raise LabkitError("no notebooks found in " + ", ".join(map(str, sources)))
    return found


def _replace_regions(source: str, earlier_code: Sequence[str], later_code: Sequence[str], where: str) -> str:
    """``source`` with each solution region replaced by its placeholder (regions replaced last first)."""
    lines = source.splitlines()
    regions = solution_regions(source, where)
    bound_before: set[str] = set()
    for code in earlier_code:
        bound_before |= names_bound(code)
    read_later: set[str] = set()
    for code in later_code:
        read_later |= names_read(code)
    replacements = []
    for begin, end in regions:
        indent = lines[begin][:len(lines[begin]) - len(lines[begin].lstrip())]
        region = "\n".join(line[len(indent):] if line.startswith(indent) else line for line in lines[begin + 1:end])
        before = "\n".join(line for number, line in enumerate(lines[:begin])
                           if not any(b <= number <= e for b, e in regions))
        after = "\n".join(line for number, line in enumerate(lines) if number > end
                          and not any(b <= number <= e for b, e in regions))
        replacements.append(placeholder(region, indent, read_later | names_read(after),
                                        bound_before | names_bound(before)))
    for (begin, end), new_lines in reversed(list(zip(regions, replacements, strict=True))):
        lines[begin:end + 1] = new_lines
    return "\n".join(lines) + ("\n" if source.endswith("\n") else "")


def _without_solutions(source: str) -> str:
    lines = source.splitlines()
    try:
        regions = solution_regions(source)
    except SolutionMarkerError:
        return source  # reported when that cell itself is converted
    return "\n".join(line for number, line in enumerate(lines) if not any(b <= number <= e for b, e in regions))


def _assigned_in_order(tree: ast.Module) -> list[str]:
    """Names the module's code assigns (``=``, ``+=``, ``:=``), first assignment first.

    Loop variables, ``with ... as`` names and whatever functions, classes and lambdas bind inside
    themselves are left out: those are the solution's helpers, not its answers.
    """
    names: list[str] = []
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.NamedExpr)):
            targets = [node.target]
        for target in targets:
            for name in ast.walk(target):  # only names bound here: not `x` in `x[i] = ...`
                if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Store) and name.id not in names:
                    names.append(name.id)
        pending.extend(ast.iter_child_nodes(node))
    order = {name: _first_line(tree, name) for name in names}
    return sorted(names, key=lambda name: order[name])


def _first_line(tree: ast.Module, name: str) -> tuple[int, int]:
    return min((node.lineno, node.col_offset) for node in ast.walk(tree)
               if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Store))
