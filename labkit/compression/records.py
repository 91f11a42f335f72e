"""Writing a compressed model's results folder in the selection-table format.

Every shipped compression result is one folder ``<output>/<name>/`` holding ``record.json`` (one row
of the results table, with the columns ``labkit.selection.load_results``, ``pareto_front`` and
``recommend`` read) and, where the model was evaluated, ``predictions.parquet`` and
``validation_predictions.parquet`` (``label``, ``prediction``, ``probability_<class>``), so paired
comparisons with the other candidates of the same task work unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labkit.files import write_folder_atomically


def write_result_folder(folder: str | Path, record: dict[str, Any], *, predictions: pd.DataFrame | None = None,
                        validation_predictions: pd.DataFrame | None = None,
                        history: pd.DataFrame | None = None) -> Path:
    """Write ``record.json`` and the prediction tables (a ``text`` column is dropped) atomically."""

    def write(staging: Path) -> None:
        for frame, name in ((predictions, "predictions.parquet"),
                            (validation_predictions, "validation_predictions.parquet")):
            if frame is not None:
                frame.drop(columns="text", errors="ignore").to_parquet(staging / name, index=False)
        if history is not None:
            history.to_csv(staging / "history.csv", index=False)
        (staging / "record.json").write_text(json.dumps(record, indent=2) + "\n")

    return write_folder_atomically(folder, write)


def read_record(folder: str | Path) -> dict[str, Any] | None:
    """The ``record.json`` of a result folder, or None if the folder is not finished."""
    path = Path(folder) / "record.json"
    return json.loads(path.read_text()) if path.is_file() else None


def classifier_record(*, task: Any, candidate: str, model: str, predict: Callable[[Sequence[str]], np.ndarray],
                      label_names: list[str], validation: pd.DataFrame, test: pd.DataFrame, parameters: int,
                      trainable_parameters: int, size_bytes: int, train_seconds: float, train_cpu_seconds: float,
                      settings: dict[str, Any], seed: int, tokenizer: Any = None, max_length: int | None = None,
                      n_resamples: int = 1000, latency_examples: int = 200, device: Any = "cpu",
                      costs: dict[str, Any] | None = None) -> dict[str, Any]:
    """One row of the results table, with the columns ``labkit.selection.run_candidate`` records.

    Every argument is keyword-only because they are many and each names one column's source.

    ``predict``: texts -> class probabilities ``(n, n_classes)``, the model as deployed (used for
    latency, the gender-swap flip rate and the other domains' test sets); ``validation`` and ``test``:
    its prediction tables (``label``, ``prediction``, ``probability_<class>``, and ``text`` for test).
    ``costs``: latency columns measured elsewhere (e.g. interleaved with other models); by default they
    are measured here with ``labkit.selection.inference_costs`` on the first ``latency_examples`` test texts.
    """
    from labkit import evaluation
    from labkit.selection import inference_costs, majority_class_rates, quality_columns
    from labkit.selection.fairness import candidate_fairness

    n_classes = len(label_names)
    probability_columns = [f"probability_{name}" for name in label_names]
    validation_labels, labels = validation["label"].to_numpy(), test["label"].to_numpy()
    probabilities = test[probability_columns].to_numpy()
    record: dict[str, Any] = {
        "task": task.name, "candidate": candidate, "model": model, "initialisation": "pretrained", "frozen": False,
        "lora": False, "train_examples": int(settings.get("train_examples", len(task.dataset["train"]))),
        "validation_examples": int(len(validation_labels)), "test_examples": int(len(labels)),
        **quality_columns(validation_labels, validation[probability_columns].to_numpy(), n_classes,
                          prefix="validation_", n_resamples=n_resamples, seed=seed),
        **quality_columns(labels, probabilities, n_classes, n_resamples=n_resamples, seed=seed),
        "f1_average": "binary" if n_classes == 2 else "macro",
        **majority_class_rates(task, task.dataset["train"][task.label_column], label_names),
        "ece": evaluation.expected_calibration_error(labels, probabilities, labels=list(range(n_classes))),
        "parameters": int(parameters), "trainable_parameters": int(trainable_parameters),
        "size_mb": size_bytes / 1e6, "train_seconds": float(train_seconds),
        "train_cpu_seconds": float(train_cpu_seconds),
        **(costs if costs is not None else inference_costs(predict, list(test["text"])[:latency_examples], device)),
        **candidate_fairness(predict, list(task.dataset["validation"][task.text_column]), list(test["text"]),
                             positive=1 if n_classes == 2 else None, seed=seed),
        "settings": {**settings, "seed": seed},
    }
    if tokenizer is not None and max_length is not None:
        from labkit.finetune import count_truncated

        record["max_length"] = max_length
        record["truncated_test_examples"] = count_truncated(tokenizer, list(test["text"]), max_length)[0]
    for domain, dataset in (task.extra_test_sets or {}).items():
        domain_labels = np.asarray(dataset[task.label_column])
        domain_probabilities = predict(list(dataset[task.text_column]))
        record[f"accuracy_{domain}"] = float((domain_probabilities.argmax(axis=1) == domain_labels).mean())
        record[f"majority_class_rate_{domain}"] = float(np.bincount(domain_labels).max() / len(domain_labels))
    return record


def copy_result_folder(source: str | Path, folder: str | Path, **changes: Any) -> dict[str, Any]:
    """Copy a finished result folder (record and tables) to ``folder``, with ``changes`` to its record.

    The copy's record gains ``copied_from`` (the source's last two path parts). Returns the new record.
    """
    source = Path(source)
    record = read_record(source)
    if record is None:
        from labkit.errors import MissingFileError

        raise MissingFileError(f"no finished result (record.json) in {source}")
    record = {**record, **changes, "copied_from": f"{source.parent.name}/{source.name}"}

    def table(name: str) -> pd.DataFrame | None:
        return pd.read_parquet(source / name) if (source / name).is_file() else None

    history = pd.read_csv(source / "history.csv") if (source / "history.csv").is_file() else None
    write_result_folder(folder, record, predictions=table("predictions.parquet"),
                        validation_predictions=table("validation_predictions.parquet"), history=history)
    return record
