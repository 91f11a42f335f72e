"""Execute notebooks and keep the saved outputs of `# NBVAL_CHECK_OUTPUT` cells only.

nbval compares a marked cell's fresh output with the output saved in the notebook, and it silently
skips a cell that was saved unexecuted. So every marked cell must be saved *with* its output, and
every other cell is saved without one (the repository stays small and diffs stay readable).

    python -m tests.refresh_notebooks notebooks/00_welcome.ipynb [more.ipynb ...]

Run it after editing a notebook; tests/test_notebooks.py checks that the convention holds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

CHECK_MARK = "# NBVAL_CHECK_OUTPUT"


def is_checked(cell: nbformat.NotebookNode) -> bool:
    """True for a code cell whose output nbval compares."""
    return cell.cell_type == "code" and CHECK_MARK in cell.source


def refresh(path: Path, timeout: int = 600) -> None:
    """Run ``path`` top to bottom in its folder, then keep outputs of checked cells only."""
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=timeout, kernel_name="python3", store_widget_state=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    count = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        if is_checked(cell):
            count += 1
            cell.execution_count = count
        else:
            cell.outputs = []
            cell.execution_count = None
    nbformat.write(notebook, path)


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        refresh(Path(argument))
        print("refreshed", argument)
