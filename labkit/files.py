"""Writing files so that a reader (or a resumed run) never sees a half-written one.

Every write goes to a temporary file in the same folder and is then moved into place with
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
