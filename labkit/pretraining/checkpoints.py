"""A run's files: ``state.pt`` for resuming, the exported transformers checkpoint, ``training.json``, logs.

* ``state.pt`` (in the run folder): weights, optimizer and :class:`PretrainState`, written atomically,
  so an interrupted run resumes exactly.
* the exported checkpoint (e.g. ``data/checkpoints/tiny-bert``): float16 safetensors, the tokenizer,
  ``training.json`` (command, seed, versions, corpus hash, steps, wall time, held-out metrics) and
  ``training_log.csv``; the shipped ones are read back with :func:`shipped_record`,
  :func:`config_from_checkpoint` and :func:`load_training_log`.
"""

from __future__ import annotations

import copy
import csv
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from labkit.errors import MissingFileError
from labkit.files import (
    file_sha256,
    save_torch_atomically,
    write_atomically,
    write_folder_atomically,
    write_json_atomically,
)
from labkit.pretraining.corpora import CORPORA, corpus_hash
from labkit.pretraining.presets import PretrainConfig
from labkit.pretraining.state import PretrainResult, PretrainState
from labkit.reproducibility import package_versions

# ---------------------------------------------------------------------------------------- state.pt


def save_training_state(path: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                        state: PretrainState, config: PretrainConfig) -> None:
    """Write ``state.pt`` atomically: weights, optimizer, the saved fields of ``state`` and the config."""
    content = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), **state.saved_fields(),
               "config": config.to_dict()}
    save_torch_atomically(content, path)


def load_training_state(path: str | Path) -> dict[str, Any]:
    """What :func:`save_training_state` wrote (``model`` and ``optimizer`` are state dicts)."""
    return torch.load(path, weights_only=False)


def write_log_csv(log: Sequence[dict[str, float]], path: str | Path) -> None:
    """Write the metric rows as CSV, atomically (columns in order of first appearance; nothing if empty)."""
    if not log:
        return
    columns = list(dict.fromkeys(key for row in log for key in row))

    def write(temporary: Path) -> None:
        with open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(log)

    write_atomically(path, write)


# ------------------------------------------------------------------------------ exported checkpoint


def training_record(result: PretrainResult, tokens_seen: int = 0, command: str | None = None) -> dict[str, Any]:
    """The content of ``training.json``: how the checkpoint was made and what it measures held out."""
    from labkit.evaluation.costs import count_parameters

    config = result.config
    corpus_file, train_documents, held_out_documents = CORPORA[config.corpus]
    record = {
        "name": config.name,
        "command": command or " ".join(sys.argv),
        "seed": config.seed,
        "preset": config.to_dict(),
        "parameters": count_parameters(result.model).total,
        "steps": result.steps,
        "tokens_seen": tokens_seen,
        "wall_seconds": round(result.wall_seconds, 1),
        "threads": torch.get_num_threads(),
        "versions": package_versions(),
        "corpus": {"file": corpus_file, "content_sha256": corpus_hash(corpus_file),
                   "train_documents": train_documents, "held_out_documents": held_out_documents},
        "held_out_metrics": {"trained": result.final_metrics, "untrained": result.untrained_metrics},
    }
    if config.initial_checkpoint is not None:
        from labkit.models import resolve

        weights = Path(resolve(config.initial_checkpoint)) / "model.safetensors"
        record["initial_checkpoint"] = {"name": config.initial_checkpoint,
                                        "model_safetensors_sha256": file_sha256(weights) if weights.is_file() else None}
    return record


def _save_float16_model(model: nn.Module, folder: Path) -> None:
    """``save_pretrained`` in float16, with ``config.json`` saying float32 (so the Auto classes load float32)."""
    copy.deepcopy(model).to("cpu").half().save_pretrained(folder, safe_serialization=True)
    config_path = folder / "config.json"
    model_config = json.loads(config_path.read_text())
    for key in ("dtype", "torch_dtype"):
        if key in model_config:
            model_config[key] = "float32"
    config_path.write_text(json.dumps(model_config, indent=2, sort_keys=True) + "\n")


def export_checkpoint(result: PretrainResult, output_dir: str | Path, tokens_seen: int = 0,
                      command: str | None = None) -> Path:
    """Write ``result`` as a transformers checkpoint folder (atomically replacing ``output_dir``).

    Weights are stored as float16 safetensors, the config keeps ``dtype: float32`` so the Auto classes
    load the model in float32 on a CPU; ``training.json`` records command, seed, versions, corpus hash,
    steps, wall time and held-out metrics trained vs untrained; ``training_log.csv`` the metrics over steps.
    """
    def write(staging: Path) -> None:
        _save_float16_model(result.model, staging)
        result.tokenizer.save_pretrained(staging)
        write_json_atomically(staging / "training.json", training_record(result, tokens_seen, command))
        write_log_csv(result.log, staging / "training_log.csv")

    return write_folder_atomically(output_dir, write)


# --------------------------------------------------------------------- reading shipped checkpoints


def shipped_checkpoint(name: str) -> Path:
    """The folder of a shipped checkpoint (``data/checkpoints/<name>``), whether or not it exists yet."""
    from labkit.paths import data_dir

    return data_dir() / "checkpoints" / name


def shipped_record(name_or_path: str | Path) -> dict[str, Any]:
    """The ``training.json`` of a shipped checkpoint (by registry name or folder)."""
    path = Path(name_or_path)
    folder = path if path.is_dir() else shipped_checkpoint(str(name_or_path))
    if not (folder / "training.json").is_file():
        raise MissingFileError(f"no training.json in {folder}: train it with `labkit pretrain --preset ...`")
    return json.loads((folder / "training.json").read_text())


def config_from_checkpoint(name_or_path: str | Path) -> PretrainConfig:
    """The :class:`PretrainConfig` a shipped checkpoint was trained with (from its ``training.json``)."""
    preset = dict(shipped_record(name_or_path)["preset"])
    preset["adam_betas"] = tuple(preset["adam_betas"])
    return PretrainConfig(**preset)


def load_training_log(name_or_path: str | Path) -> list[dict[str, float]]:
    """The metrics logged while a shipped checkpoint trained (``training_log.csv``) as a list of rows."""
    path = Path(name_or_path)
    if not path.suffix:
        path = (shipped_checkpoint(str(name_or_path)) if not path.is_dir() else path) / "training_log.csv"
    if not path.is_file():
        raise MissingFileError(f"no training log at {path}")
    return list(iter_log(path))


def iter_log(path: str | Path) -> Iterator[dict[str, float]]:
    """Rows of a ``training_log.csv`` as dicts of floats (empty cells skipped)."""
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            yield {key: float(value) for key, value in row.items() if value not in ("", None)}
