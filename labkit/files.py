"""The kit's file input and output, in one place: atomic writes, file hashes, the data manifest.

Writing files so that a reader (or a resumed run) never sees a half-written one: every write goes to a
temporary file in the same folder and is then moved into place with
``os.replace``, which is atomic on the same file system: an interruption leaves either the old file
or the new one, never a truncated mix.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_atomically(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)``, then move the result to ``path`` in one step; return ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    return path


def write_folder_atomically(folder: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(staging_folder)`` to fill a new folder, then put it in place of ``folder``; return ``folder``.

    The folder appears complete or not at all (a results folder or a checkpoint is never seen
    half-written). An old ``folder`` is renamed aside, the new one renamed in, and only then is the old
    one deleted, so an interruption never loses both.
    """
    import shutil
    import tempfile

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    old = folder.with_name(f".{folder.name}.old")
    try:
        write(staging)
        if old.exists():
            shutil.rmtree(old)
        if folder.exists():
            os.replace(folder, old)
        os.replace(staging, folder)
        if old.exists():
            shutil.rmtree(old)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return folder


def write_json_atomically(path: str | Path, content: Any) -> Path:
    """Replace ``path`` with ``content`` as indented JSON (atomically)."""
    return write_atomically(path, lambda temporary: temporary.write_text(json.dumps(content, indent=2) + "\n"))


def save_torch_atomically(content: Any, path: str | Path) -> Path:
    """``torch.save(content, path)``, atomically (for training checkpoints)."""
    import torch

    return write_atomically(path, lambda temporary: torch.save(content, temporary))


def file_sha256(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """The sha256 hex digest of a file's bytes (read in chunks: large files are fine)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_data_manifest() -> dict[str, Any]:
    """``data/MANIFEST.json``: every shipped table with its row counts, content hash and source package.

    Raises ``DatasetError`` if the kit's data folder has no manifest (an incomplete checkout).
    """
    from labkit.errors import DatasetError
    from labkit.paths import data_dir

    path = data_dir() / "MANIFEST.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(f"{path} is missing: run `labkit build-data` or check out the kit's data/ folder") from None
