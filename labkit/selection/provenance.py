"""What produced a results folder: command, seed, package versions, data hashes, machine."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from labkit.files import read_data_manifest, write_json_atomically
from labkit.reproducibility import package_versions


def record_provenance(output: str | Path, command: str, seed: int,
                      source: dict[str, Any] | None = None) -> Path:
    """Append this run's provenance to ``<output>/provenance.json`` (a list: one entry per invocation)."""
    path = Path(output) / "provenance.json"
    runs = json.loads(path.read_text())["runs"] if path.is_file() else []
    runs.append(provenance(command, seed, source))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomically(path, {"runs": runs})
    return path


def provenance(command: str, seed: int, source: dict[str, Any] | None = None) -> dict[str, Any]:
    """What produced a results folder: the command, seed, package versions and the data.

    The data is the user's own file when ``source`` is given (``Task.source``: its name, sha256 and the
    rows read, kept and dropped), else the kit's shipped datasets (their content hashes).
    """
    import torch

    if source is not None:
        data = {"data_file": source}
    else:
        manifest = read_data_manifest()
        data = {"data_content_sha256": {k: v["content_sha256"] for k, v in manifest["files"].items()}}
    return {
        "command": command,
        "seed": seed,
        "versions": package_versions(),
        **data,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
