"""labkit's shape stays readable: small modules and functions, no import circles, lower floors never import upper ones.

A function may exceed the limits when its docstring says why: a sentence with "long because" for its
length; "because" or "keyword-only" for its parameters (e.g. display options with defaults, as in
matplotlib, or a one-call interface mirrored by a command-line tool).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LABKIT = Path(__file__).resolve().parent.parent / "labkit"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80
MAX_PARAMETERS = 8


def modules() -> list[Path]:
    return sorted(LABKIT.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(LABKIT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(LABKIT.parent)))
def test_module_and_function_sizes(path: Path) -> None:
    source = path.read_text()
    assert len(source.splitlines()) <= MAX_MODULE_LINES, f"{path.name} has over {MAX_MODULE_LINES} lines: split it"
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        docstring = ast.get_docstring(node) or ""
        lines = node.end_lineno - node.lineno + 1
        arguments = node.args
        count = len(arguments.posonlyargs + arguments.args + arguments.kwonlyargs)
        count -= bool(arguments.args) and arguments.args[0].arg in {"self", "cls"}
        if lines > MAX_FUNCTION_LINES:
            assert "long because" in docstring, f"{path.name}:{node.lineno} {node.name}() has {lines} lines"
        if count > MAX_PARAMETERS:
            assert "because" in docstring or "keyword-only" in docstring, \
                f"{path.name}:{node.lineno} {node.name}() has {count} parameters"


def imports_of(path: Path) -> set[str]:
    """The labkit modules a module imports (at any depth of the file, lazily or not)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("labkit") and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("labkit"))
    names = {module_name(path) for path in modules()}
    return {name for name in found if name in names}


def top(name: str) -> str:
    return ".".join(name.split(".")[:2])


def import_graph() -> dict[str, set[str]]:
    """Top-level module -> the other top-level modules it imports (a package counts as one module)."""
    graph: dict[str, set[str]] = {}
    for path in modules():
        source = top(module_name(path))
        if source == "labkit":
            continue
        graph.setdefault(source, set()).update(top(name) for name in imports_of(path) if top(name) != source)
    return {node: {target for target in targets if target != "labkit"} for node, targets in graph.items()}


def test_modules_import_only_from_their_floor_or_lower_ones_as_the_readme_says() -> None:
    import re

    readme = (LABKIT.parent / "README.md").read_text()
    floors = {}
    for line in readme.splitlines():
        match = re.match(r"\| (\d) \| (.*?) \|", line)
        if match:
            floors.update({name: int(match[1]) for name in re.findall(r"`(labkit\.\w+)`", match[2])})
    graph = import_graph()
    assert set(graph) <= set(floors), f"modules missing from README's architecture table: {set(graph) - set(floors)}"
    for source, targets in graph.items():
        for target in targets:
            assert floors[target] <= floors[source], f"{source} (floor {floors[source]}) imports {target} " \
                                                     f"(floor {floors[target]})"


def test_no_import_circles_between_top_level_modules() -> None:
    """Between labkit's top-level modules (a package counts as one), the imports form no cycle."""
    graph = import_graph()
    visiting, done = set(), set()

    def visit(node: str, trail: list[str]) -> None:
        if node in done:
            return
        assert node not in visiting, "import circle: " + " -> ".join([*trail, node])
        visiting.add(node)
        for target in sorted(graph.get(node, ())):
            visit(target, [*trail, node])
        visiting.discard(node)
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    assert "labkit.selection" in graph and "labkit.finetune" in graph["labkit.selection"]  # the graph is real


def test_every_top_level_module_is_reachable_as_an_attribute_of_labkit() -> None:
    """``labkit.graph`` and the rest work after a bare ``import labkit`` (they load lazily, on first use)."""
    import labkit

    top_level = {path.stem for path in LABKIT.glob("*.py") if not path.stem.startswith("_")}
    top_level |= {path.parent.name for path in LABKIT.glob("*/__init__.py")}
    assert top_level == set(labkit._LAZY_SUBMODULES)
