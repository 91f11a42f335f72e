"""Conventions every notebook keeps (the notebooks themselves are executed by nbval)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tests.refresh_notebooks import is_checked

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_saved_outputs_are_exactly_the_checked_ones(path: Path) -> None:
    """A `# NBVAL_CHECK_OUTPUT` cell saved without output would be skipped by nbval, not checked."""
    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        if is_checked(cell):
            assert cell.execution_count is not None and cell.outputs, (
                f"cell {index} is marked for checking but has no saved output: "
                f"run `python -m tests.refresh_notebooks {path.relative_to(path.parent.parent)}`")
        else:
            assert not cell.outputs, f"cell {index} keeps an output; only checked cells should"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_opens_with_learning_goals_and_seeds(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")
    assert "you will" in notebook.cells[0].source.lower() or "goals" in notebook.cells[0].source.lower()
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert "seed_everything(" in code
    assert "plt.show()" not in code
