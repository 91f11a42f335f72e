"""Where the kit's shipped files live.

In a clone of the repository (the normal, editable install) ``data/`` sits next to ``labkit/``.
Anywhere else, point ``LABKIT_DATA_DIR`` at a copy of ``data/``.
"""

from __future__ import annotations

import os
from pathlib import Path

from labkit.errors import MissingFileError

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The folder holding the shipped data and checkpoints (it contains ``data/README.md``)."""
    override = os.environ.get("LABKIT_DATA_DIR")
    if override:
        path = Path(override).expanduser().resolve()
        if not path.is_dir():
            raise MissingFileError(f"LABKIT_DATA_DIR={override!r} is not a folder")
        return path
    candidates = [REPO_ROOT / "data"]
    candidates += [parent / "data" for parent in [Path.cwd(), *Path.cwd().parents]]
    for candidate in candidates:
        if (candidate / "MANIFEST.json").is_file():
            return candidate
    raise MissingFileError(
        "Cannot find the kit's data/ folder (looked next to the labkit package and above the current "
        "folder). Install labkit from a clone with `pip install -e .`, or set LABKIT_DATA_DIR to a copy "
        "of data/."
    )
