"""Reading results folders back: the results table, predictions, histories, and the seed folders."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from labkit.errors import MissingFileError
from labkit.selection.candidates import candidate_licence


def seed_folder(output: str | Path, seed: int) -> Path:
    """Where a comparison's run with ``seed`` lives: ``output`` for seed 0, ``output/seed-<n>`` otherwise."""
    return Path(output) if seed == 0 else Path(output) / f"seed-{seed}"


def seeds_in(output: str | Path) -> list[int]:
    """The seeds that have results under ``output`` (0 for the folder itself, n for ``seed-<n>/``)."""
    output = Path(output)
    seeds = [int(folder.name.removeprefix("seed-")) for folder in output.glob("seed-*") if folder.is_dir()]
    return sorted(set(seeds) | ({0} if any(output.glob("*/record.json")) or any(output.glob("train-*")) else set()))


def results_table(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Records -> a tidy table (one row per candidate), best validation accuracy first.

    (Results made before validation metrics were recorded are sorted by test accuracy.)
    """
    frame = pd.DataFrame([{k: v for k, v in record.items() if k not in {"settings", "run_key"}}
                          for record in records])
    if "model" in frame:
        frame["licence"] = [candidate_licence(model) for model in frame["model"]]
    for column in ("majority_class_rate", "validation_majority_class_rate"):
        if column in frame and {"task", "train_examples"} <= set(frame.columns):
            # a property of the task and training set, not of the candidate: a record made before it was
            # saved takes it from a record of the same task and training-set size
            frame[column] = frame.groupby(["task", "train_examples"])[column].transform(
                lambda values: values.fillna(values.dropna().iloc[0]) if values.notna().any() else values)
    order = "validation_accuracy" if "validation_accuracy" in frame and frame["validation_accuracy"].notna().all() \
        else "accuracy"
    return frame.sort_values(order, ascending=False, ignore_index=True)


SUMMARY_COLUMNS = ["candidate", "validation_accuracy", "accuracy", "accuracy_low", "accuracy_high",
                   "majority_class_rate", "f1", "ece", "parameters", "size_mb",
                   "train_seconds", "latency_ms_p50", "latency_ms_p95", "throughput_per_second",
                   "counterfactual_flip_rate", "counterfactual_flip_rate_low", "counterfactual_flip_rate_high",
                   "licence"]


def summary(results: pd.DataFrame, extra: Sequence[str] = ()) -> pd.DataFrame:
    """The columns a reader needs first (quality with its interval, then cost), plus ``extra`` ones."""
    columns = [c for c in [*SUMMARY_COLUMNS, *extra] if c in results.columns]
    return results[columns].reset_index(drop=True)


def load_results(output: str | Path) -> pd.DataFrame:
    """The results table of a finished (or partly finished) ``compare`` run."""
    output = Path(output)
    files = sorted(output.glob("*/record.json"))
    if not files:
        raise MissingFileError(f"no results under {output} (run `labkit finetune` or `compare` first)")
    return results_table([_with_validation_accuracy(json.loads(path.read_text()), path.parent) for path in files])


def _with_validation_accuracy(record: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A record made before validation metrics were saved gets its validation accuracy from its history.

    The history has one row per validation check (per ``C`` for the baseline), and the weights kept
    are those of the best check, so the maximum is exactly the validation accuracy of the model whose
    test predictions were saved. ``validation_accuracy_source`` says where the number came from; such
    records have no validation interval and no validation predictions.
    """
    if "validation_accuracy" in record or not (folder / "history.csv").is_file():
        return record
    history = pd.read_csv(folder / "history.csv")
    if "validation_accuracy" not in history or history.empty:
        return record
    return {**record, "validation_accuracy": float(history["validation_accuracy"].max()),
            "validation_accuracy_source": "history.csv (best validation check)"}


def load_predictions(output: str | Path, candidate: str, split: str = "test") -> pd.DataFrame:
    """Saved predictions of one candidate on ``split`` (``"test"`` or ``"validation"``): ``label``,
    ``prediction`` and ``probability_<class>``, one row per example in the split's order."""
    if split not in {"test", "validation"}:
        raise ValueError(f"split must be 'test' or 'validation', got {split!r}")
    path = Path(output) / candidate / ("predictions.parquet" if split == "test" else "validation_predictions.parquet")
    if not path.is_file():
        why = " (results made before validation predictions were saved)" if split != "test" else ""
        raise MissingFileError(f"no {split} predictions for {candidate!r} under {output}{why}")
    return pd.read_parquet(path)


def load_history(output: str | Path, candidate: str) -> pd.DataFrame:
    """Saved training history (validation curve) of one candidate."""
    return pd.read_csv(Path(output) / candidate / "history.csv")
