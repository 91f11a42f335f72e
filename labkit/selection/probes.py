"""Why did pretraining pay here and not there? Measurements of what a pretrained encoder brings to a task.

Two measurements per model, each against the same architecture with random weights:

- a *linear probe*: logistic regression on the frozen encoder's mean-pooled features. Nothing in the
  encoder trains, so the probe's accuracy is what the pretrained features already hold about the task;
- *word coverage*: the share of the task's words the model's vocabulary keeps whole, a measure of how
  much of the task's language the pretraining corpus contained.

``frozen_feature_probes`` runs them for several models and saves one JSON file with provenance.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labkit import evaluation, finetune
from labkit.errors import MissingFileError
from labkit.files import write_json_atomically
from labkit.selection.provenance import provenance
from labkit.selection.tasks import Task, builtin_task


def frozen_feature_probes(task: Task | str, models: Sequence[str], output: str | Path, *, seed: int = 0,
                          command: str = "frozen_feature_probes", log: Callable[[str], None] = print) -> pd.DataFrame:
    """Probe each model's frozen features, pretrained and random, on ``task``; save ``<output>/probes.json``.

    One row per model: the probe's validation and test accuracy for pretrained and for random weights,
    the paired test-set difference with its 95% bootstrap interval, the majority-class rate, and the
    word coverage of the model's vocabulary on the task's validation texts. Models already in the file
    are not probed again (the file is rewritten atomically after each model).
    """
    from transformers import AutoTokenizer

    from labkit.models import resolve

    task = builtin_task(task) if isinstance(task, str) else task
    path = Path(output) / "probes.json"
    saved = _saved_probes(path)
    rows = {row["model"]: row for row in saved.get("rows", [])}
    for model in models:
        if model in rows:
            log(f"{model}: already probed, skipped")
            continue
        log(f"{model}: probing frozen features (pretrained, then random weights)")
        rows[model] = _probe_row(task, model, seed, AutoTokenizer.from_pretrained(resolve(model)))
        write_json_atomically(path, {"task": task.name, "rows": list(rows.values()),
                                     "provenance": provenance(command, seed)})
    return pd.DataFrame([rows[model] for model in models])


def _saved_probes(path: Path) -> dict[str, Any]:
    """The saved probes (an empty dict when there are none yet)."""
    return json.loads(path.read_text()) if path.is_file() else {}


def load_probes(output: str | Path) -> pd.DataFrame:
    """The table saved by ``frozen_feature_probes`` (one row per model)."""
    path = Path(output) / "probes.json"
    if not path.is_file():
        raise MissingFileError(f"no probes under {output} (run `labkit probe` first)")
    return pd.DataFrame(_saved_probes(path)["rows"])


def _probe_row(task: Task, model: str, seed: int, tokenizer: Any) -> dict[str, Any]:
    """Both probes of one model, their paired difference and the vocabulary's word coverage."""
    options = {"text_column": task.text_column, "label_column": task.label_column, "max_length": task.max_length,
               "seed": seed}
    pretrained = finetune.linear_probe(model, task.dataset, initialisation="pretrained", **options)
    random_init = finetune.linear_probe(model, task.dataset, initialisation="random", **options)
    labels = pretrained["test_labels"]
    difference = evaluation.paired_bootstrap("accuracy", labels, random_init["test_predictions"],
                                             pretrained["test_predictions"], n_resamples=2000, seed=seed)
    majority = float(np.bincount(labels).max() / len(labels))
    return {"model": model, "features": pretrained["features"],
            "pretrained_validation_accuracy": pretrained["validation_accuracy"],
            "pretrained_test_accuracy": pretrained["test_accuracy"],
            "random_validation_accuracy": random_init["validation_accuracy"],
            "random_test_accuracy": random_init["test_accuracy"],
            "test_gain": difference.difference, "test_gain_low": difference.low, "test_gain_high": difference.high,
            "test_majority_class_rate": majority,
            "word_coverage": finetune.word_coverage(tokenizer, list(task.dataset["validation"][task.text_column]))}
