"""Compare candidate models on a task, with evidence: one tidy results table, cached and resumable.

A *candidate* is a way to get a classifier: a registered model fine-tuned in full
(``"tiny-bert"``), the same architecture from random initialisation (``"tiny-bert:random"``), a
frozen encoder with a trained head (``"minilm-l6:frozen"``), the TF-IDF + logistic regression
baseline (``"tfidf-lr"``), or a Hub id when online. ``compare`` runs each candidate on a task,
measures quality (with bootstrap confidence intervals), cost (parameters, size, training time,
latency) and cross-domain accuracy, and writes one folder per candidate:

    <output>/<candidate>/record.json                    the row of the results table
    <output>/<candidate>/validation_predictions.parquet  validation predictions with probabilities
    <output>/<candidate>/predictions.parquet             test predictions with probabilities
    <output>/<candidate>/history.csv                     validation curve during training

Models are *chosen* on validation (``recommend`` ranks by the ``validation_*`` columns); the test
columns are the chosen model's report. A folder is written atomically once its candidate has
finished, and a transformer in progress saves a checkpoint after every validation check
(``<output>/.partial/<candidate>.pt``), so an interrupted run picks up where it stopped; a rerun
skips every candidate already done with the same settings. Other seeds of the same comparison go to
``<output>/seed-<n>/`` (``seed_paired_difference`` reads them all).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from labkit import evaluation, finetune
from labkit.files import write_json_atomically

# Training recipes per model family. Chosen once, on validation data, never on test data.
RECIPES: dict[str, dict[str, Any]] = {
    "minilm-l6": {"learning_rate": 5e-5, "epochs": 2, "batch_size": 32, "evaluations_per_epoch": 2},
    "tiny-bert": {"learning_rate": 3e-4, "epochs": 6, "batch_size": 32, "evaluations_per_epoch": 2},
    "tiny-gpt": {"learning_rate": 3e-4, "epochs": 6, "batch_size": 32, "evaluations_per_epoch": 2},
    "default": {"learning_rate": 5e-5, "epochs": 3, "batch_size": 32, "evaluations_per_epoch": 2},
}
RECIPES["tiny-bert-movies"] = RECIPES["tiny-bert"]  # the same network, further pretrained: the same recipe
FROZEN_LEARNING_RATE = 1e-3  # only the small head trains: it can take a much larger step


@dataclass(frozen=True)
class Candidate:
    """One way of getting a classifier for a task (see the module docstring for the spec syntax)."""

    model: str
    initialisation: str = "pretrained"
    freeze: bool = False

    @property
    def name(self) -> str:
        """A short, file-safe name: ``tiny-bert``, ``tiny-bert-random-init``, ``minilm-l6-frozen``..."""
        name = self.model.replace("/", "--")
        if self.initialisation == "random":
            name += "-random-init"
        if self.freeze:
            name += "-frozen"
        return name

    @property
    def is_baseline(self) -> bool:
        return self.model == finetune.BASELINE_NAME

    def recipe(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """The fine-tuning settings this candidate trains with (``overrides`` win; the baseline has none)."""
        if self.is_baseline:
            return {}
        recipe = dict(RECIPES.get(self.model, RECIPES["default"]))
        if self.freeze:
            recipe["learning_rate"] = FROZEN_LEARNING_RATE
        recipe.update(overrides or {})
        return recipe


def parse_candidate(spec: str) -> Candidate:
    """``"model[:random][:frozen]"`` -> ``Candidate``; e.g. ``"tiny-bert:random"``, ``"minilm-l6:frozen"``."""
    parts = [part.strip() for part in spec.strip().split(":")]
    if not parts[0]:
        raise ValueError(f"empty candidate name in {spec!r}")
    flags = set(parts[1:])
    unknown = flags - {"random", "frozen"}
    if unknown:
        raise ValueError(f"unknown candidate option(s) {sorted(unknown)} in {spec!r}; use :random and/or :frozen")
    if parts[0] == finetune.BASELINE_NAME and flags:
        raise ValueError(f"{finetune.BASELINE_NAME} takes no options, got {spec!r}")
    return Candidate(parts[0], "random" if "random" in flags else "pretrained", "frozen" in flags)


# --------------------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------------------


@dataclass
class Task:
    """A dataset to compare candidates on, plus optional extra test sets (other domains)."""

    name: str
    dataset: Any  # datasets.DatasetDict with train / validation / test
    text_column: str = "text"
    label_column: str = "label"
    max_length: int = 128
    extra_test_sets: dict[str, Any] | None = None  # name -> datasets.Dataset with the same columns
    source: dict[str, Any] | None = None  # for a user's file: name, sha256, rows read / kept / dropped


def builtin_task(name: str) -> Task:
    """The kit's shipped tasks: ``sentiment`` (movies; amazon / nyt / tweets as extra test sets),
    ``topic`` (20 Newsgroups) and ``reuters`` (Reuters R8)."""
    from labkit import data

    if name == "sentiment":
        extra = {domain: data.load_sentiment(domain)["test"] for domain in ("amazon", "nyt", "tweets")}
        return Task("sentiment", data.load_sentiment("movies"), max_length=64, extra_test_sets=extra)
    if name == "topic":
        return Task("topic", data.load_topic("20newsgroups"), max_length=256)
    if name == "reuters":
        # 128 tokens keep the headline and lead of most Reuters stories (median 66 words) and make a
        # full MiniLM fine-tune fit a CPU afternoon; longer stories are truncated, and that is announced.
        return Task("reuters", data.load_topic("reuters-r8"), max_length=128)
    raise ValueError(f"unknown task {name!r}; choose one of: sentiment, topic, reuters (or pass a Task)")


# --------------------------------------------------------------------------------------------------
# Running one candidate
# --------------------------------------------------------------------------------------------------


def _predictor(result: finetune.FineTuneResult, max_length: int) -> Callable[[Sequence[str]], np.ndarray]:
    """A function from texts to class probabilities ``(n, n_classes)`` for any candidate's result."""
    if result.tokenizer is None:
        return lambda texts: result.model.predict_proba(list(texts))
    return lambda texts: finetune.predict_proba(result.model, result.tokenizer, list(texts), max_length=max_length)


def _size_on_disk(result: finetune.FineTuneResult) -> int:
    with tempfile.TemporaryDirectory() as folder:
        if result.tokenizer is None:
            with open(Path(folder) / "model.pkl", "wb") as handle:
                pickle.dump(result.model, handle)
        else:
            result.model.save_pretrained(folder)
        return evaluation.size_on_disk(folder)


class CandidateRun(NamedTuple):
    """What ``run_candidate`` returns: the record and the tables saved beside it."""

    record: dict[str, Any]
    predictions: pd.DataFrame
    validation_predictions: pd.DataFrame
    history: pd.DataFrame


def quality_columns(labels: np.ndarray, probabilities: np.ndarray, n_classes: int, *, prefix: str = "",
                    n_resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Accuracy and F1 (binary, or macro for more than two classes) with 95% bootstrap intervals.

    ``labels`` ``(n,)`` and ``probabilities`` ``(n, n_classes)`` of one split; the column names get
    ``prefix`` (``""`` for test, ``"validation_"`` for validation).
    """
    predictions = probabilities.argmax(axis=1)
    codes = list(range(n_classes))
    average = "binary" if n_classes == 2 else "macro"
    accuracy = evaluation.bootstrap_ci("accuracy", labels, predictions, n_resamples=n_resamples, seed=seed)
    f1 = evaluation.bootstrap_ci("f1" if average == "binary" else "f1_macro", labels, predictions,
                                 n_resamples=n_resamples, seed=seed, labels=codes)
    return {f"{prefix}accuracy": accuracy.estimate, f"{prefix}accuracy_low": accuracy.low,
            f"{prefix}accuracy_high": accuracy.high, f"{prefix}f1": f1.estimate, f"{prefix}f1_low": f1.low,
            f"{prefix}f1_high": f1.high}


def majority_class_rates(task: Task, train_labels: Sequence[Any], label_names: list[str]) -> dict[str, Any]:
    """The accuracy of always answering the training set's most frequent class, on validation and test.

    Every accuracy in the kit is shown beside this rate: 0.70 is good on a balanced task and worse
    than guessing on one where 75% of the texts share a label.
    """
    train = np.asarray(finetune.label_ids(list(train_labels), label_names))
    majority = int(np.bincount(train, minlength=len(label_names)).argmax())
    rates = {}
    for split, prefix in (("validation", "validation_"), ("test", "")):
        labels = np.asarray(finetune.label_ids(task.dataset[split][task.label_column], label_names))
        rates[f"{prefix}majority_class_rate"] = float((labels == majority).mean())
    return {"majority_class": label_names[majority], **rates}


def run_candidate(candidate: Candidate, task: Task, *, seed: int = 0, train_limit: int | None = None,
                  overrides: dict[str, Any] | None = None, n_resamples: int = 1000,
                  latency_examples: int = 200, progress: bool = True,
                  checkpoint: str | Path | None = None) -> CandidateRun:
    """Train and measure one candidate (a transformer resumes from ``checkpoint`` if it exists)."""
    recipe = candidate.recipe(overrides)
    if candidate.is_baseline:
        result = finetune.tfidf_logistic_regression(task.dataset, text_column=task.text_column,
                                                    label_column=task.label_column, train_limit=train_limit,
                                                    seed=seed, **recipe)
    else:
        result = finetune.fine_tune(candidate.model, task.dataset, text_column=task.text_column,
                                    label_column=task.label_column, initialisation=candidate.initialisation,
                                    freeze=candidate.freeze, max_length=task.max_length,
                                    train_limit=train_limit, seed=seed, progress=progress,
                                    checkpoint=checkpoint, **recipe)
    labels, probabilities = result.predictions["label"].to_numpy(), result.probabilities
    validation_labels = result.validation_predictions["label"].to_numpy()
    n_classes = len(result.label_names)
    train = task.dataset if train_limit is None else finetune.limit_training_set(task.dataset, train_limit, seed)
    predict = _predictor(result, task.max_length)
    record: dict[str, Any] = {
        "task": task.name,
        "candidate": candidate.name,
        "model": candidate.model,
        "initialisation": "-" if candidate.is_baseline else candidate.initialisation,
        "frozen": candidate.freeze,
        "train_examples": int(result.config["train_examples"]),
        "validation_examples": int(len(validation_labels)),
        "test_examples": int(len(labels)),
        **quality_columns(validation_labels, result.validation_probabilities, n_classes, prefix="validation_",
                          n_resamples=n_resamples, seed=seed),
        **quality_columns(labels, probabilities, n_classes, n_resamples=n_resamples, seed=seed),
        "f1_average": "binary" if n_classes == 2 else "macro",
        **majority_class_rates(task, train["train"][task.label_column], result.label_names),
        "ece": evaluation.expected_calibration_error(labels, probabilities, labels=list(range(n_classes))),
        "parameters": int(result.parameters),
        "trainable_parameters": int(result.trainable_parameters),
        "size_mb": _size_on_disk(result) / 1e6,
        "train_seconds": float(result.train_seconds),
        "train_cpu_seconds": float(result.train_cpu_seconds),
        **inference_costs(predict, list(result.predictions["text"])[:latency_examples]),
        "settings": {**result.config, "seed": seed},
    }
    if result.tokenizer is not None:  # texts cut at max_length: a cost of the candidate's input limit
        record["max_length"] = task.max_length
        record["truncated_test_examples"] = finetune.count_truncated(
            result.tokenizer, list(result.predictions["text"]), task.max_length)[0]
    for domain, dataset in (task.extra_test_sets or {}).items():
        domain_probabilities = predict(list(dataset[task.text_column]))
        domain_labels = np.asarray(dataset[task.label_column])
        record[f"accuracy_{domain}"] = float((domain_probabilities.argmax(axis=1) == domain_labels).mean())
        # the other domain's own floor: always answering its most frequent class (domains are not balanced)
        record[f"majority_class_rate_{domain}"] = float(np.bincount(domain_labels).max() / len(domain_labels))
    return CandidateRun(record, result.predictions, result.validation_predictions, result.history)


def inference_costs(predict: Callable[[Sequence[str]], np.ndarray], texts: Sequence[str]) -> dict[str, Any]:
    """Latency of ``predict`` (texts -> ``(n, n_classes)`` probabilities) on ``texts``: the cost columns.

    ``latency_ms_p50`` / ``latency_ms_p95``: one example at a time (batch 1, what an interactive service
    sees); ``batched_ms_per_example`` and ``throughput_per_second``: batches of 64 (offline scoring).
    ``latency_threads`` records the torch threads used, since latency depends on them.
    """
    single = evaluation.measure_latency(predict, texts, batch_size=1, warmup=5)
    batched = evaluation.measure_latency(predict, texts, batch_size=64, warmup=1)
    return {"latency_ms_p50": single.per_example_ms_p50, "latency_ms_p95": single.per_example_ms_p95,
            "batched_ms_per_example": 1000.0 / batched.examples_per_second,
            "throughput_per_second": batched.examples_per_second, "latency_threads": _torch_threads()}


def remeasure_latency(task: Task | str, output: str | Path, *, latency_examples: int = 200, rounds: int = 5,
                      log: Callable[[str], None] = print) -> pd.DataFrame:
    """Measure every finished candidate's latency again, all under the same conditions, and update its record.

    Latency measured right after training shares the machine with whatever else runs then, and even a
    quiet shared machine has slow spells that last longer than one measurement. So all candidates are
    loaded first and timed in ``rounds`` interleaved rounds (each round in a rotated order); each cost
    column is the median over the rounds. Inference cost depends on the architecture, not on the trained
    weights, so each transformer is rebuilt with random weights (same config, same tokenizer); the
    TF-IDF baseline is refitted with the ``C`` it chose. Only the cost columns of ``record.json`` change
    (written atomically); the table is returned.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    task = builtin_task(task) if isinstance(task, str) else task
    output = Path(output)
    files = sorted(output.glob("*/record.json"))
    if not files:
        raise FileNotFoundError(f"no results under {output} to re-measure")
    label_names = finetune.check_dataset(task.dataset, task.text_column, task.label_column)
    texts = list(task.dataset["test"][task.text_column])[:latency_examples]
    candidates = []  # (path, record, predict)
    for path in files:
        record = json.loads(path.read_text())
        if record["model"] == finetune.BASELINE_NAME:
            train = task.dataset["train"]
            if record.get("settings", {}).get("train_examples", len(train)) < len(train):
                train = finetune.limit_training_set(task.dataset, record["settings"]["train_examples"],
                                                    record["settings"].get("seed", 0))["train"]
            pipeline = finetune.tfidf_pipeline(record["settings"]["C"], record["settings"].get("seed", 0))
            pipeline.fit(list(train[task.text_column]),
                         finetune.label_ids(train[task.label_column], label_names))
            predict: Callable[[Sequence[str]], np.ndarray] = pipeline.predict_proba
        else:
            tokenizer, model = finetune.load_classifier(record["model"], len(label_names), "random")
            model.eval()
            predict = partial(finetune.predict_proba, model, tokenizer, max_length=task.max_length)
        candidates.append((path, record, predict))
    measured: dict[Path, list[dict[str, Any]]] = {path: [] for path, _, _ in candidates}
    for round_index in range(rounds):
        shift = round_index % len(candidates)
        for path, _, predict in candidates[shift:] + candidates[:shift]:
            measured[path].append(inference_costs(predict, texts))
    records = []
    for path, record, _ in candidates:
        rows = pd.DataFrame(measured[path])
        record.update({column: float(rows[column].median()) for column in rows.columns if column != "latency_threads"})
        record["latency_threads"] = int(rows["latency_threads"].iloc[0])
        record["latency_measured"] = (f"re-measured with every candidate of this folder: median of {rounds} interleaved "
                                      f"rounds, {time.strftime('%Y-%m-%d %H:%M %Z')}")
        write_json_atomically(path, record)
        log(f"{record['candidate']}: {record['latency_ms_p50']:.2f} ms per example (batch 1)")
        records.append(record)
    return results_table(records)


def _write_atomically(folder: Path, run: CandidateRun) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    record = run.record
    try:
        run.predictions.drop(columns="text").to_parquet(staging / "predictions.parquet", index=False)
        run.validation_predictions.drop(columns="text").to_parquet(staging / "validation_predictions.parquet",
                                                                   index=False)
        run.history.to_csv(staging / "history.csv", index=False)
        (staging / "record.json").write_text(json.dumps(record, indent=2) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _settings_key(candidate: Candidate, seed: int, train_limit: int | None,
                  overrides: dict[str, Any] | None) -> dict[str, Any]:
    return {"candidate": asdict(candidate), "seed": seed, "train_limit": train_limit,
            "recipe": candidate.recipe(overrides)}


def compare(task: Task | str, candidates: Sequence[Candidate | str], output: str | Path, *, seed: int = 0,
            train_limit: int | None = None, overrides: dict[str, Any] | None = None,
            progress: bool = True, log: Callable[[str], None] = print) -> pd.DataFrame:
    """Run every candidate on ``task`` (skipping those already finished in ``output``); return the table.

    The table has one row per candidate (the ``record.json`` files), sorted by accuracy.
    """
    task = builtin_task(task) if isinstance(task, str) else task
    finetune.check_dataset(task.dataset, task.text_column, task.label_column)
    parsed = [parse_candidate(c) if isinstance(c, str) else c for c in candidates]
    if not parsed:
        raise ValueError("no candidates to compare")
    output = Path(output)
    records = []
    for candidate in parsed:
        folder = output / candidate.name
        key = _settings_key(candidate, seed, train_limit, overrides)
        if (folder / "record.json").is_file():
            record = json.loads((folder / "record.json").read_text())
            if record.get("run_key") == json.loads(json.dumps(key)):
                if (folder / "validation_predictions.parquet").is_file():
                    log(f"{candidate.name}: already done, skipped")
                    records.append(record)
                    continue
                log(f"{candidate.name}: done by an older labkit without validation predictions; running again")
        checkpoint = None if candidate.is_baseline else output / ".partial" / f"{candidate.name}.pt"
        log(f"{candidate.name}: {'resuming' if checkpoint and checkpoint.is_file() else 'running'}")
        start = time.perf_counter()
        run = run_candidate(candidate, task, seed=seed, train_limit=train_limit, overrides=overrides,
                            progress=progress, checkpoint=checkpoint)
        run.record["run_key"] = key
        _write_atomically(folder, run)
        if checkpoint is not None:
            checkpoint.unlink(missing_ok=True)
            if checkpoint.parent.is_dir() and not any(checkpoint.parent.iterdir()):
                checkpoint.parent.rmdir()
        log(f"{candidate.name}: validation accuracy {run.record['validation_accuracy']:.3f} "
            f"in {time.perf_counter() - start:.0f} s")
        records.append(run.record)
    return results_table(records)


def candidate_licence(model: str) -> str:
    """The licence of a candidate's pretrained weights (a selection criterion like latency)."""
    from labkit import models

    if model == finetune.BASELINE_NAME:
        return "BSD-3-Clause (scikit-learn code; no pretrained weights)"
    try:
        return models.licence(model)
    except models.ModelNotAvailableError:
        return "unknown"


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
                   "train_seconds", "latency_ms_p50", "latency_ms_p95", "throughput_per_second", "licence"]


def summary(results: pd.DataFrame, extra: Sequence[str] = ()) -> pd.DataFrame:
    """The columns a reader needs first (quality with its interval, then cost), plus ``extra`` ones."""
    columns = [c for c in [*SUMMARY_COLUMNS, *extra] if c in results.columns]
    return results[columns].reset_index(drop=True)


def load_results(output: str | Path) -> pd.DataFrame:
    """The results table of a finished (or partly finished) ``compare`` run."""
    output = Path(output)
    files = sorted(output.glob("*/record.json"))
    if not files:
        raise FileNotFoundError(f"no results under {output} (run `labkit finetune` or `compare` first)")
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
        raise FileNotFoundError(f"no {split} predictions for {candidate!r} under {output}"
                                + (" (results made before validation predictions were saved)" if split != "test" else ""))
    return pd.read_parquet(path)


def load_history(output: str | Path, candidate: str) -> pd.DataFrame:
    """Saved training history (validation curve) of one candidate."""
    return pd.read_csv(Path(output) / candidate / "history.csv")


def paired_comparison(output: str | Path, candidate_a: str, candidate_b: str, *, seed: int = 0,
                      n_resamples: int = 2000) -> dict[str, Any]:
    """Is B really better than A on the same test set? Paired bootstrap of accuracy + McNemar."""
    a, b = load_predictions(output, candidate_a), load_predictions(output, candidate_b)
    if not np.array_equal(a["label"].to_numpy(), b["label"].to_numpy()):
        raise ValueError("the two candidates were not evaluated on the same test examples")
    labels = a["label"].to_numpy()
    bootstrap = evaluation.paired_bootstrap("accuracy", labels, a["prediction"].to_numpy(),
                                            b["prediction"].to_numpy(), n_resamples=n_resamples, seed=seed,
                                            name_a=candidate_a, name_b=candidate_b)
    mcnemar = evaluation.mcnemar_test(labels, a["prediction"].to_numpy(), b["prediction"].to_numpy())
    return {"a": candidate_a, "b": candidate_b, "accuracy_a": bootstrap.value_a, "accuracy_b": bootstrap.value_b,
            "difference": bootstrap.difference, "difference_low": bootstrap.low, "difference_high": bootstrap.high,
            "bootstrap_p": bootstrap.p_value, "mcnemar_p": mcnemar.p_value, "mcnemar_method": mcnemar.method,
            "significant": bool(bootstrap.significant), "mcnemar_significant": bool(mcnemar.significant),
            "verdict": bootstrap.verdict}


def seed_paired_difference(output: str | Path, candidate_a: str, candidate_b: str, *, n_resamples: int = 2000,
                           seed: int = 0) -> dict[str, Any]:
    """B minus A test accuracy over every training seed that ran both, with an interval that covers
    training variance as well as test sampling.

    One seed's paired bootstrap only resamples the test set: it says nothing about how much the gap
    would move if the two networks were trained again with other seeds (other initial heads, other
    data orders, other dropout). Here each bootstrap round draws the seeds with replacement *and* the
    test examples with replacement (a two-level bootstrap), and averages B - A over the drawn seeds.
    With three seeds the interval is rough, and it is honest about it: it widens when seeds disagree.
    Returns ``per_seed`` differences, their ``mean``, the interval ``low``/``high`` and ``seeds``.
    """
    correct: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for run_seed in seeds_in(output):
        folder = seed_folder(output, run_seed)
        if (folder / candidate_a / "predictions.parquet").is_file() and (folder / candidate_b / "predictions.parquet").is_file():
            pair = correctness(folder, [candidate_a, candidate_b])
            correct[run_seed] = (pair[candidate_a].astype(float), pair[candidate_b].astype(float))
    if not correct:
        raise FileNotFoundError(f"no seed under {output} has both {candidate_a!r} and {candidate_b!r}")
    seeds = sorted(correct)
    n_test = len(next(iter(correct.values()))[0])
    differences = np.stack([correct[s][1] - correct[s][0] for s in seeds])  # (seeds, n_test)
    rng = np.random.default_rng(seed)
    rounds = np.empty(n_resamples)
    for index in range(n_resamples):
        drawn = differences[rng.integers(0, len(seeds), len(seeds))]
        rounds[index] = drawn[:, rng.integers(0, n_test, n_test)].mean()
    per_seed = {s: float(differences[i].mean()) for i, s in enumerate(seeds)}
    return {"a": candidate_a, "b": candidate_b, "seeds": seeds, "per_seed": per_seed,
            "mean": float(np.mean(list(per_seed.values()))), "low": float(np.percentile(rounds, 2.5)),
            "high": float(np.percentile(rounds, 97.5))}


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()


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
    from labkit.paths import data_dir

    packages = ("torch", "transformers", "tokenizers", "datasets", "scikit-learn", "numpy")
    if source is not None:
        data = {"data_file": source}
    else:
        manifest = json.loads((data_dir() / "MANIFEST.json").read_text())
        data = {"data_content_sha256": {k: v["content_sha256"] for k, v in manifest["files"].items()}}
    return {
        "command": command,
        "seed": seed,
        "versions": {name: metadata.version(name) for name in packages},
        **data,
        "cpu_count": os.cpu_count(),
        "torch_threads": _torch_threads(),
        "created": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


# --------------------------------------------------------------------------------------------------
# A user's own data
# --------------------------------------------------------------------------------------------------


def csv_task(path: str | Path, text_column: str = "text", label_column: str = "label", *,
             validation_fraction: float = 0.1, test_fraction: float = 0.2, max_length: int = 128,
             name: str | None = None, drop_empty: bool = False) -> Task:
    """A ``Task`` from a CSV file with one text column and one label column.

    The file is split into train / validation / test, stratified by label, with the kit's stable
    hash-based split (the same rows always land in the same split). Raises ``DatasetError`` with a plain
    message for a missing file or column, a single class, a class too small to appear in every split,
    or rows with an empty text or label. Those rows are named by their data-row number (1 = the first
    row after the header; a quoted text may span several lines of the file, so this is not a line
    number). With ``drop_empty=True`` such rows are dropped instead, and ``task.source`` records how
    many and why (``labkit select --drop-empty``).
    """
    from labkit.data import frame_to_dataset_dict, stratified_split
    from labkit.files import file_sha256

    path = Path(path)
    if not path.is_file():
        raise finetune.DatasetError(f"no such file: {path}")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
        raise finetune.DatasetError(f"{path.name} is not a readable CSV file: {error}") from error
    missing = [column for column in (text_column, label_column) if column not in frame.columns]
    if missing:
        raise finetune.DatasetError(f"{path.name} has no column {', '.join(map(repr, missing))}; "
                                    f"its columns are: {', '.join(frame.columns) or '(none)'}")
    if frame.empty:
        raise finetune.DatasetError(f"{path.name} has a header but no rows")
    rows_read = len(frame)
    blank = (frame[text_column].str.strip() == "") | (frame[label_column].str.strip() == "")
    dropped: dict[str, Any] = {"rows": 0}
    if blank.any():
        numbers = [int(i) + 1 for i in frame.index[blank]]  # data rows counted from 1 after the header
        shown = ", ".join(map(str, numbers[:10])) + (", ..." if len(numbers) > 10 else "")
        if not drop_empty:
            raise finetune.DatasetError(
                f"{len(numbers)} row(s) of {path.name} have an empty text or label (data rows {shown}, counting "
                "the first row after the header as 1); fix or remove them, or pass --drop-empty to drop them")
        dropped = {"rows": len(numbers), "reason": f"empty {text_column!r} or {label_column!r}",
                   "data_rows": numbers}
        frame = frame[~blank].reset_index(drop=True)
    labels = frame[label_column].str.strip()
    counts = labels.value_counts()
    if len(counts) < 2:
        raise finetune.DatasetError(f"{path.name} has a single class ({counts.index[0]!r}); a classifier "
                                    "needs at least two")
    smallest_needed = max(3, int(np.ceil(1 / min(validation_fraction, test_fraction))))
    too_small = counts[counts < smallest_needed]
    if len(too_small):
        raise finetune.DatasetError(
            f"class(es) {', '.join(map(repr, too_small.index))} have fewer than {smallest_needed} rows, too few to "
            "appear in train, validation and test")
    names = sorted(counts.index)
    splits = stratified_split([f"row-{i}" for i in range(len(frame))], labels.tolist(),
                              {"test": test_fraction, "validation": validation_fraction,
                               "train": 1 - test_fraction - validation_fraction})
    frame = pd.DataFrame({"text": frame[text_column].str.strip(), "label": labels.map(names.index), "split": splits})
    source = {"file": path.name, "sha256": file_sha256(path), "rows_read": rows_read, "rows_kept": len(frame),
              "rows_dropped": dropped["rows"], **({"dropped": dropped} if dropped["rows"] else {})}
    return Task(name or path.stem, frame_to_dataset_dict(frame, names), max_length=max_length, source=source)


# --------------------------------------------------------------------------------------------------
# Learning curves over training-set size
# --------------------------------------------------------------------------------------------------


def load_learning_curve(output: str | Path) -> pd.DataFrame:
    """The table of a (finished or partial) ``learning_curve`` run: one row per size and candidate."""
    folders = sorted(Path(output).glob("train-*"))
    if not folders:
        raise FileNotFoundError(f"no learning curve under {output} (run `labkit finetune --sizes ...` first)")
    tables = [load_results(folder) for folder in folders if any(folder.glob("*/record.json"))]
    return pd.concat(tables, ignore_index=True).sort_values(["train_examples", "candidate"], ignore_index=True)


def small_data_recipe(candidate: Candidate, train_size: int, *, min_steps: int = 100,
                      max_epochs: int = 30) -> dict[str, Any]:
    """Recipe overrides for one point of a learning curve: enough steps, and no early stopping.

    A recipe's epoch count is chosen for the full training set; 100 examples at batch 32 and 2 epochs
    would be 8 steps, and the curve would then measure under-training instead of data size. So the
    number of epochs grows until there are at least ``min_steps`` steps (at most ``max_epochs``), with
    one validation check per epoch. And every run trains to the end of its schedule (the patience is
    the number of checks), keeping the weights of its best validation check: on a small training set
    validation accuracy can sit flat for a while (a network from random weights first predicts the
    majority class), and a short patience would stop it before it has learned anything, which measures
    the stopping rule, not the model. The baseline needs no overrides.
    """
    if candidate.is_baseline:
        return {}
    recipe = candidate.recipe()
    steps_per_epoch = -(-train_size // recipe["batch_size"])
    epochs = min(max_epochs, -(-min_steps // steps_per_epoch))
    if epochs <= recipe["epochs"]:
        return {"patience": recipe["epochs"] * recipe["evaluations_per_epoch"]}
    return {"epochs": epochs, "evaluations_per_epoch": 1, "patience": epochs}


def learning_curve(task: Task | str, candidates: Sequence[Candidate | str], sizes: Sequence[int],
                   output: str | Path, *, seed: int = 0, min_steps: int = 100, max_epochs: int = 30,
                   progress: bool = True, log: Callable[[str], None] = print) -> pd.DataFrame:
    """Run every candidate once per training-set size (a seeded sample of the train split); one table.

    Each size has its own folder ``<output>/train-<size>/``, so the curve is resumable like ``compare``.
    A size larger than the train split is clipped to it. Small sizes train for more epochs, and no run
    stops early (see ``small_data_recipe``); validation and test sets stay whole, so every point is
    measured alike.
    """
    task = builtin_task(task) if isinstance(task, str) else task
    if not sizes or min(sizes) < 2:
        raise ValueError(f"sizes must be training-set sizes of at least 2, got {list(sizes)}")
    parsed = [parse_candidate(c) if isinstance(c, str) else c for c in candidates]
    available = len(task.dataset["train"])
    tables = []
    for size in sorted({min(int(size), available) for size in sizes}):
        log(f"training-set size {size}")
        for candidate in parsed:
            overrides = small_data_recipe(candidate, size, min_steps=min_steps, max_epochs=max_epochs)
            tables.append(compare(task, [candidate], Path(output) / f"train-{size}", seed=seed,
                                  train_limit=None if size == available else size, overrides=overrides or None,
                                  progress=progress, log=log))
    return pd.concat(tables, ignore_index=True).sort_values(["train_examples", "candidate"], ignore_index=True)


# --------------------------------------------------------------------------------------------------
# Why choose on validation: the optimism of the maximum
# --------------------------------------------------------------------------------------------------


@dataclass
class ChoiceOptimism:
    """What choosing the best of several candidates by their test score does, measured by the bootstrap.

    The saved test set stands in for the population: each bootstrap resample of it is a new test set
    of the same size, and a candidate's accuracy on the whole test set is its "true" accuracy. In each
    resample the winner is chosen twice: by the resampled *test* accuracy, and by the accuracy on an
    independent resample of the *validation* set. ``optimism_test_choice`` is the mean of (the test-chosen
    winner's resampled test accuracy - its true accuracy): how much the reported score of a model chosen
    on test flatters it. ``optimism_validation_choice`` is the same for the validation-chosen model,
    whose reported test score is unbiased (about 0). ``choices_differ`` is the share of resamples in
    which the two rules pick different candidates; ``test_winner_shares`` how often each candidate wins
    on test.
    """

    candidates: list[str]
    choices_differ: float
    optimism_test_choice: float
    optimism_test_choice_low: float
    optimism_test_choice_high: float
    optimism_validation_choice: float
    test_winner_shares: dict[str, float]
    n_resamples: int


def choice_optimism(validation_correct: dict[str, np.ndarray], test_correct: dict[str, np.ndarray], *,
                    n_resamples: int = 2000, seed: int = 0) -> ChoiceOptimism:
    """Bootstrap the choice among candidates on validation vs on test (see ``ChoiceOptimism``).

    ``validation_correct`` and ``test_correct`` map each candidate to a boolean array ``(n_examples,)``
    saying which examples of that split it got right; all candidates share the examples of a split.
    """
    names = list(test_correct)
    if len(names) < 2 or set(names) != set(validation_correct):
        raise ValueError("give at least two candidates, the same ones for validation and test")
    validation = np.stack([np.asarray(validation_correct[name], dtype=float) for name in names])  # (k, n_val)
    test = np.stack([np.asarray(test_correct[name], dtype=float) for name in names])  # (k, n_test)
    rng = np.random.default_rng(seed)
    true_accuracy = test.mean(axis=1)
    differ, optimism_test, optimism_validation = 0, [], []
    wins = np.zeros(len(names))
    for _ in range(n_resamples):
        test_accuracy = test[:, rng.integers(0, test.shape[1], test.shape[1])].mean(axis=1)
        validation_accuracy = validation[:, rng.integers(0, validation.shape[1], validation.shape[1])].mean(axis=1)
        by_test, by_validation = int(test_accuracy.argmax()), int(validation_accuracy.argmax())
        differ += by_test != by_validation
        wins[by_test] += 1
        optimism_test.append(test_accuracy[by_test] - true_accuracy[by_test])
        optimism_validation.append(test_accuracy[by_validation] - true_accuracy[by_validation])
    optimism_test_array = np.asarray(optimism_test)
    return ChoiceOptimism(names, differ / n_resamples, float(optimism_test_array.mean()),
                          float(np.percentile(optimism_test_array, 2.5)),
                          float(np.percentile(optimism_test_array, 97.5)),
                          float(np.mean(optimism_validation)),
                          {name: float(share) for name, share in zip(names, wins / n_resamples)}, n_resamples)


def correctness(output: str | Path, candidates: Sequence[str], split: str = "test") -> dict[str, np.ndarray]:
    """``{candidate: boolean array of which examples of split it got right}`` from saved predictions."""
    frames = {name: load_predictions(output, name, split) for name in candidates}
    return {name: (frame["label"] == frame["prediction"]).to_numpy() for name, frame in frames.items()}


# --------------------------------------------------------------------------------------------------
# Pareto front and recommendation
# --------------------------------------------------------------------------------------------------

DEFAULT_OBJECTIVES: dict[str, str] = {"accuracy": "max", "latency_ms_p50": "min", "parameters": "min"}


def pareto_front(results: pd.DataFrame, objectives: dict[str, str] | None = None) -> pd.Series:
    """Which rows are Pareto-optimal: no other row is at least as good on every objective and better on one.

    ``objectives`` maps a column to ``"max"`` or ``"min"`` (default: accuracy up, latency and size down).
    Returns a boolean Series aligned with ``results``.
    """
    objectives = objectives or DEFAULT_OBJECTIVES
    for column, direction in objectives.items():
        if column not in results.columns:
            raise KeyError(f"results have no column {column!r} (columns: {', '.join(results.columns)})")
        if direction not in {"max", "min"}:
            raise ValueError(f"objective {column!r} must be 'max' or 'min', got {direction!r}")
    # turn every objective into "larger is better"
    scores = np.column_stack([results[c].to_numpy(dtype=float) * (1 if d == "max" else -1)
                              for c, d in objectives.items()])
    dominated = np.zeros(len(results), dtype=bool)
    for i in range(len(results)):
        at_least_as_good = (scores >= scores[i]).all(axis=1)
        strictly_better = (scores > scores[i]).any(axis=1)
        dominated[i] = bool((at_least_as_good & strictly_better).any())
    return pd.Series(~dominated, index=results.index, name="pareto_optimal")


@dataclass
class Recommendation:
    """The outcome of ``recommend``: the choice (or None), why, and what each constraint ruled out."""

    choice: str | None
    rationale: str
    feasible: pd.DataFrame
    ruled_out: dict[str, str]

    def __str__(self) -> str:
        return self.rationale


def recommend(results: pd.DataFrame, *, metric: str = "accuracy", choose_on: str = "validation",
              max_latency_ms: float | None = None, max_params: float | None = None,
              min_metric: float | None = None, max_train_seconds: float | None = None,
              max_size_mb: float | None = None) -> Recommendation:
    """Pick the candidate with the best validation ``metric`` among those meeting every constraint.

    The choice and the ``min_metric`` bound use the ``validation_<metric>`` column (``choose_on=
    "validation"``, the default): choosing by test score would make the chosen model's test score an
    optimistic estimate. The rationale then reports the chosen model's *test* score with its interval,
    once, naming the split of every number. ``choose_on="test"`` exists only to demonstrate that
    optimism (notebook 06).

    Constraints are upper bounds on ``latency_ms_p50``, ``parameters``, ``train_seconds`` and
    ``size_mb``. A candidate whose constrained value is missing (not measured) is ruled out: an
    unknown latency does not meet a latency limit. Ties go to fewer parameters, then lower latency.
    When nothing fits, ``choice`` is ``None`` and the rationale says which constraints bind.
    """
    if results.empty:
        raise ValueError("no results to choose from")
    if choose_on not in {"validation", "test"}:
        raise ValueError(f"choose_on must be 'validation' or 'test', got {choose_on!r}")
    ranking = f"validation_{metric}" if choose_on == "validation" else metric
    for column in (ranking, metric):
        if column not in results.columns:
            hint = (" (these results predate validation metrics: re-run them with `labkit finetune`)"
                    if column.startswith("validation_") else "")
            raise KeyError(f"results have no column {column!r}{hint}")
    split = "validation" if choose_on == "validation" else "test"
    constraints = [  # (column, bound, "max" if the bound is an upper limit, what it is, unit)
        ("latency_ms_p50", max_latency_ms, "max", "latency (p50)", " ms"),
        ("parameters", max_params, "max", "parameters", ""),
        ("train_seconds", max_train_seconds, "max", "training time", " s"),
        ("size_mb", max_size_mb, "max", "size on disk", " MB"),
        (ranking, min_metric, "min", f"{split} {metric}", ""),
    ]
    ruled_out: dict[str, str] = {}
    keep = pd.Series(True, index=results.index)
    for column, bound, kind, what, unit in constraints:
        if bound is None:
            continue
        if column not in results.columns:
            raise KeyError(f"results have no column {column!r} for this constraint")
        values = pd.to_numeric(results[column], errors="coerce")
        fails = values.isna() | (values > bound if kind == "max" else values < bound)
        for index in results.index[fails]:
            name = results.at[index, "candidate"]
            if pd.isna(values[index]):
                reason = f"{what} not measured, so it cannot be shown to meet the limit of {bound:,.3g}{unit}"
            else:
                reason = (f"{what} {values[index]:,.3g}{unit}, "
                          f"{'over' if kind == 'max' else 'under'} the limit of {bound:,.3g}{unit}")
            ruled_out[name] = f"{ruled_out[name]}; {reason}" if name in ruled_out else reason
        keep &= ~fails
    feasible = results[keep].sort_values([ranking, "parameters", "latency_ms_p50"], ascending=[False, True, True])
    asked = [f"{what} {'<=' if kind == 'max' else '>='} {bound:,.3g}{unit}"
             for column, bound, kind, what, unit in constraints if bound is not None]
    asked_text = ", ".join(asked) if asked else "no constraints"
    if feasible.empty:
        closest = results.sort_values(ranking, ascending=False).head(3)
        lines = [f"No candidate meets all constraints ({asked_text})."]
        lines += [f"- {row.candidate}: {ruled_out.get(row.candidate, '')}" for row in closest.itertuples()]
        lines.append("Relax the binding constraint, or consider a smaller model or a classical baseline.")
        return Recommendation(None, "\n".join(lines), feasible, ruled_out)
    best = feasible.iloc[0]
    text = (f"Choose {best['candidate']}: the best {split} {metric} ({best[ranking]:.3f}) of "
            f"{len(feasible)} candidate(s) meeting {asked_text}; {best['parameters']:,.0f} parameters, "
            f"{best['latency_ms_p50']:.2f} ms per example.")
    if choose_on == "validation":
        text += (f" Its test {metric}, measured once after choosing: {best[metric]:.3f}"
                 + (f" (95% CI {best[metric + '_low']:.3f} to {best[metric + '_high']:.3f})"
                    if f"{metric}_low" in best else "") + ".")
    if len(feasible) > 1:
        runner_up = feasible.iloc[1]
        text += (f" Runner-up: {runner_up['candidate']} ({split} {metric} {runner_up[ranking]:.3f}); check whether "
                 "the gap is real with a paired test before paying for the difference.")
    if ruled_out:
        text += " Ruled out: " + "; ".join(f"{name} ({why})" for name, why in ruled_out.items()) + "."
    return Recommendation(str(best["candidate"]), text, feasible, ruled_out)


# --------------------------------------------------------------------------------------------------
# A report to hand to a colleague
# --------------------------------------------------------------------------------------------------


REPORT_COLUMNS = {  # results column -> the report's header, which names the split of every number
    "candidate": "candidate", "validation_accuracy": "validation accuracy (chooses)", "accuracy": "test accuracy",
    "accuracy_low": "test 95% CI low", "accuracy_high": "test 95% CI high",
    "majority_class_rate": "test majority-class rate", "f1": "test F1", "ece": "test ECE",
    "parameters": "parameters", "size_mb": "size (MB)", "train_seconds": "training (s)",
    "latency_ms_p50": "latency p50 (ms)", "latency_ms_p95": "latency p95 (ms)",
    "throughput_per_second": "throughput (/s)", "truncated_test_examples": "test texts truncated",
    "pareto_optimal": "Pareto-optimal",
}


def write_report(results: pd.DataFrame, output: str | Path, *, title: str = "Model selection report",
                 recommendations: dict[str, Recommendation] | None = None,
                 comparisons: Sequence[dict[str, Any]] = (), provenance_record: dict[str, Any] | None = None,
                 source: dict[str, Any] | None = None) -> Path:
    """Write ``report.md`` with its figures (PNG) into ``output``; return the report's path.

    The report has the data (the user's file, rows kept and dropped), each recommendation (chosen on
    validation, with the chosen model's test score), the results table with the split of every number
    and the majority-class rate, how many texts were truncated, a forest plot of test accuracy with
    confidence intervals, the Pareto plot with intervals, the paired comparisons (naming the test behind
    each p-value) and the provenance.
    """
    from labkit import viz

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    results = results.copy()
    results["pareto_optimal"] = pareto_front(results)
    majority = float(results["majority_class_rate"].iloc[0]) if "majority_class_rate" in results else None
    forest = viz.metric_forest_plot(
        {row.candidate: (row.accuracy, row.accuracy_low, row.accuracy_high) for row in results.itertuples()},
        metric="test accuracy", reference=majority,
        title="Test accuracy (95% bootstrap CI)" + ("; dashed: majority class" if majority is not None else ""))
    forest.savefig(output / "accuracy.png")
    scatter = viz.pareto_scatter(list(results["candidate"]), list(results["latency_ms_p50"]),
                                 list(results["accuracy"]), list(results["pareto_optimal"]),
                                 sizes=list(results["parameters"]),
                                 intervals=list(zip(results["accuracy_low"], results["accuracy_high"])),
                                 baseline=majority, title="Test accuracy vs latency (marker area: parameters)")
    scatter.savefig(output / "pareto.png")
    table = summary(results, extra=["truncated_test_examples", "pareto_optimal"])
    table = table.rename(columns=REPORT_COLUMNS)
    task_line = (f"Task: **{results['task'].iloc[0]}**, {int(results['train_examples'].max()):,} training, "
                 + (f"{int(results['validation_examples'].iloc[0]):,} validation " if "validation_examples" in results
                    else "") + f"and {int(results['test_examples'].iloc[0]):,} test examples.")
    lines = [f"# {title}", "", task_line, ""]
    if source:
        lines += [f"Data: `{source['file']}` (sha256 `{source['sha256'][:16]}...`): {source['rows_read']:,} rows "
                  f"read, {source['rows_kept']:,} kept"
                  + (f", {source['rows_dropped']:,} dropped ({source['dropped']['reason']}; data rows "
                     f"{', '.join(map(str, source['dropped']['data_rows'][:20]))}"
                     f"{', ...' if source['rows_dropped'] > 20 else ''})" if source.get("rows_dropped") else "")
                  + ".", ""]
    if recommendations:
        lines += ["## Recommendations", "",
                  "Each choice is made on the **validation** split; the chosen model's **test** score is then "
                  "reported once (choosing by test score would make it optimistic).", ""]
        for budget, recommendation in recommendations.items():
            lines += [f"**{budget}.** " + recommendation.rationale.replace("\n", "  \n"), ""]
    lines += ["## Results", "", _markdown_table(table), "",
              "Accuracy and F1 carry 95% percentile-bootstrap intervals over the test set"
              + (f"; always answering the most frequent training class ({results['majority_class'].iloc[0]!r}) "
                 f"would score {majority:.3f} on test" if majority is not None else "")
              + ". Latency is the median time to classify one example (batch 1) on the machine that ran the "
              "comparison.", ""]
    if "truncated_test_examples" in results:
        for row in results.dropna(subset=["truncated_test_examples"]).itertuples():
            if row.truncated_test_examples:
                lines.append(f"- {row.candidate}: {int(row.truncated_test_examples):,} of {int(row.test_examples):,} "
                             f"test texts were longer than {int(row.max_length)} tokens and were truncated "
                             "(raise `--max-length` to keep more, at a cost in latency).")
        lines.append("")
    lines += ["![accuracy](accuracy.png)", "", "![pareto](pareto.png)", ""]
    if comparisons:
        lines += ["## Paired comparisons (test split)", ""]
        lines += [f"- {c['verdict']} McNemar ({c['mcnemar_method']}): p = {c['mcnemar_p']:.3g}." for c in comparisons]
        lines.append("")
    if provenance_record:
        lines += ["## How this was produced", "", "```", json.dumps(provenance_record, indent=2), "```", ""]
    path = output / "report.md"
    path.write_text("\n".join(lines))
    return path


def _markdown_table(frame: pd.DataFrame) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, (bool, np.bool_)):
            return "yes" if value else ""
        if isinstance(value, (int, np.integer)):
            return f"{value:,}"
        if isinstance(value, (float, np.floating)):
            return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3f}"
        return str(value)

    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *rows])
