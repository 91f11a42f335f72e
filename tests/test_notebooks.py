"""Conventions every notebook keeps (the notebooks themselves are executed by nbval)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from tests.refresh_notebooks import is_checked

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def saved_widget_state(notebook: nbformat.NotebookNode) -> list[str]:
    """Where ``notebook`` keeps ipywidgets state or views that executing it left behind (empty: none).

    Executing a notebook with nbclient/nbconvert stores the state of every widget it displayed (sliders,
    tqdm bars) in ``metadata.widgets``. Nothing reads it back: a learner's live kernel makes new widgets,
    and without a kernel the saved models only make the file bigger and its diffs unreadable.
    """
    problems = []
    if "widgets" in notebook.metadata or WIDGET_STATE in json.dumps(notebook.metadata):
        state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
        problems.append(f"notebook metadata holds saved widget state ({len(state)} widget models)")
    for index, cell in enumerate(notebook.cells):
        if WIDGET_STATE in json.dumps(cell.get("metadata", {})):
            problems.append(f"cell {index}'s metadata holds saved widget state")
        if any(WIDGET_VIEW in output.get("data", {}) for output in cell.get("outputs", [])):
            problems.append(f"cell {index} keeps a widget view in its output")
    return problems


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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_no_saved_widget_state(path: Path) -> None:
    problems = saved_widget_state(nbformat.read(path, as_version=4))
    assert not problems, (
        f"{path.name}: {'; '.join(problems)}. Delete `metadata.widgets` (executing a notebook with nbclient "
        "stores it unless `store_widget_state=False`)")


def test_saved_widget_state_is_detected() -> None:
    """The check above finds state in the metadata and widget views in outputs, and passes a clean notebook."""
    clean = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    assert saved_widget_state(clean) == []
    with_state = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    with_state.metadata["widgets"] = {WIDGET_STATE: {"state": {"a": {}, "b": {}}, "version_major": 2,
                                                     "version_minor": 0}}
    assert saved_widget_state(with_state) == ["notebook metadata holds saved widget state (2 widget models)"]
    with_view = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("slider", outputs=[
        nbformat.v4.new_output("display_data", data={WIDGET_VIEW: {"model_id": "a"}, "text/plain": "IntSlider()"})])])
    assert saved_widget_state(with_view) == ["cell 0 keeps a widget view in its output"]
