"""Running candidates: train and measure each one, save its folder atomically, resume, skip what is done."""

from __future__ import annotations

import json
import pickle
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from labkit import evaluation, finetune
from labkit.devices import model_device
from labkit.errors import ConfigError
from labkit.files import write_folder_atomically
from labkit.finetune.baseline import ALL_TEXT_BASELINE_NAME, MLP_BASELINE_NAME, tfidf_mlp
from labkit.graph.training import GRAPH_CANDIDATE
from labkit.selection.candidates import Candidate, parse_candidate
from labkit.selection.fairness import candidate_fairness
from labkit.selection.latency import inference_costs
from labkit.selection.results import results_table
from labkit.selection.tasks import Task, builtin_task

# Running one candidate


def _predictor(result: finetune.FineTuneResult, max_length: int) -> Callable[[Sequence[str]], np.ndarray]:
    """A function from texts to class probabilities ``(n, n_classes)`` for any candidate's result.

    A LoRA model predicts with its update merged into the weights, as it would be deployed.
    """
    if result.tokenizer is None:
        return lambda texts: result.model.predict_proba(list(texts))
    model = finetune.merged_copy(result.model)
    return lambda texts: finetune.predict_proba(model, result.tokenizer, list(texts), max_length=max_length)


def _size_on_disk(result: finetune.FineTuneResult) -> int:
    with tempfile.TemporaryDirectory() as folder:
        if result.tokenizer is None:
            with open(Path(folder) / "model.pkl", "wb") as handle:
                pickle.dump(result.model, handle)
        else:
            result.model.save_pretrained(folder)
        return evaluation.size_on_disk(folder)


def save_trained_model(result: finetune.FineTuneResult, folder: str | Path, record: dict[str, Any]) -> Path:
    """Ship a trained classifier into ``folder`` (written atomically) with its record as ``training.json``.

    A full fine-tuning saves config, weights and tokenizer, with the class names as the config's
    ``id2label``; a LoRA model saves only its adapter (the base model is the packaged one).
    ``training.json`` holds the run's record (validation and test quality, recipe, seed, costs) and
    ``label_names``. Load it back with ``labkit.models.load`` once it is registered.
    """
    if result.tokenizer is None:
        raise ConfigError("only transformer candidates can be saved as a model folder")
    model = result.model
    base = model.get_base_model() if finetune.lora.is_lora_model(model) else model
    base.config.id2label = dict(enumerate(result.label_names))
    base.config.label2id = {name: index for index, name in enumerate(result.label_names)}

    def write(staging: Path) -> None:
        if finetune.lora.is_lora_model(model):
            finetune.save_adapter(model, staging)
        else:
            model.save_pretrained(staging)
            result.tokenizer.save_pretrained(staging)
        (staging / "training.json").write_text(json.dumps({**record, "label_names": result.label_names},
                                                          indent=2) + "\n")

    return write_folder_atomically(folder, write)


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
                  checkpoint: str | Path | None = None, save_model_to: str | Path | None = None) -> CandidateRun:
    """Train and measure one candidate (a transformer resumes from ``checkpoint`` if it exists).

    Returns the record (quality on validation and test with intervals, majority-class rates, costs,
    cross-domain accuracy, settings) and the tables saved beside it. Everything after the candidate and
    the task is a keyword-only option with a default, as ``compare`` passes them. With
    ``save_model_to`` the trained classifier is also saved there (``save_trained_model``).
    """
    recipe = candidate.recipe(overrides)
    if candidate.is_classical:
        result = _train_classical(candidate, task, seed=seed, train_limit=train_limit, progress=progress)
    else:
        result = finetune.fine_tune(candidate.model, task.dataset, text_column=task.text_column,
                                    label_column=task.label_column, initialisation=candidate.initialisation,
                                    freeze=candidate.freeze, max_length=task.max_length,
                                    train_limit=train_limit, seed=seed, progress=progress,
                                    checkpoint=checkpoint, recipe=recipe, lora=candidate.lora_settings())
    labels, probabilities = result.predictions["label"].to_numpy(), result.probabilities
    validation_labels = result.validation_predictions["label"].to_numpy()
    n_classes = len(result.label_names)
    train = task.dataset if train_limit is None else finetune.limit_training_set(task.dataset, train_limit, seed)
    predict = _predictor(result, task.max_length)
    record: dict[str, Any] = {
        "task": task.name,
        "candidate": candidate.name,
        "model": candidate.model,
        "initialisation": "-" if candidate.is_classical else candidate.initialisation,
        "frozen": candidate.freeze,
        "lora": candidate.lora,
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
        **inference_costs(predict, list(result.predictions["text"])[:latency_examples],
                          "cpu" if result.tokenizer is None else model_device(result.model)),
        **candidate_fairness(predict, list(result.validation_predictions["text"]), list(result.predictions["text"]),
                             positive=1 if n_classes == 2 else None, seed=seed),
        "settings": {**result.config, "seed": seed},
    }
    if candidate.model == GRAPH_CANDIDATE:
        record.update(_graph_columns(result, predict, labels, probabilities, n_resamples=n_resamples, seed=seed))
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
    if save_model_to is not None:
        save_trained_model(result, save_model_to, record)
    return CandidateRun(record, result.predictions, result.validation_predictions, result.history)


def _train_classical(candidate: Candidate, task: Task, *, seed: int, train_limit: int | None,
                     progress: bool) -> finetune.FineTuneResult:
    """Train a candidate that is not a transformer (``CLASSICAL_MODELS``) on ``task``."""
    columns = {"text_column": task.text_column, "label_column": task.label_column, "train_limit": train_limit,
               "seed": seed}
    if candidate.model == GRAPH_CANDIDATE:
        from labkit.graph import train_textgcn

        return train_textgcn(task.dataset, task_name=task.name, progress=progress, **columns)
    if candidate.model == MLP_BASELINE_NAME:
        return tfidf_mlp(task.dataset, progress=progress, **columns)
    return finetune.tfidf_logistic_regression(
        task.dataset, vectorizer_texts="all" if candidate.model == ALL_TEXT_BASELINE_NAME else "train", **columns)


GRAPH_LATENCY_MEASURE = (
    "textgcn is transductive: latency_ms_* and throughput_per_second time the inductive path for NEW documents "
    "(labkit.graph.InductiveTextGCN: each text placed by its words' TF-IDF edges through the trained weights, no "
    "graph rebuild); classifying new text exactly, the transductive way, means rebuilding the graph and "
    "retraining: transductive_new_text_seconds (graph build + training of this run). The test metrics are the "
    "transductive model's (test documents are nodes of the training graph, their labels hidden); inductive_* "
    "columns are the same test documents classified by the inductive path. The counterfactual flip rates and "
    "size_mb are those of the inductive path (the word rows of the first layer and the words' second-layer "
    "outputs).")


def _graph_columns(result: finetune.FineTuneResult, predict: Callable[[Sequence[str]], np.ndarray],
                   labels: np.ndarray, probabilities: np.ndarray, *, n_resamples: int, seed: int) -> dict[str, Any]:
    """TextGCN's extra record columns: graph size and build time, the transductive cost of new text, and the
    test accuracy of the inductive path against the transductive model on the same documents."""
    inductive = predict(list(result.predictions["text"]))
    paired = evaluation.paired_bootstrap("accuracy", labels, probabilities.argmax(axis=1), inductive.argmax(axis=1),
                                         n_resamples=n_resamples, seed=seed, name_a="transductive",
                                         name_b="inductive")
    graph = result.config["graph"]
    return {
        **quality_columns(labels, inductive, len(result.label_names), prefix="inductive_", n_resamples=n_resamples,
                          seed=seed),
        "inductive_minus_transductive_accuracy": paired.difference,
        "inductive_minus_transductive_accuracy_low": paired.low,
        "inductive_minus_transductive_accuracy_high": paired.high,
        "inductive_agreement": float((inductive.argmax(axis=1) == probabilities.argmax(axis=1)).mean()),
        "graph_nodes": int(graph["nodes"]), "graph_words": int(graph["words"]),
        "graph_word_word_edges": int(graph["word_word_edges"]),
        "graph_document_word_edges": int(graph["document_word_edges"]),
        "graph_build_seconds": float(result.config["graph_build_seconds"]),
        "epochs_run": int(result.config["epochs_run"]),
        "transductive_new_text_seconds": float(result.train_seconds),
        "latency_measure": GRAPH_LATENCY_MEASURE,
    }


PROBABILITY_DECIMALS = 4  # saved probabilities are at most 5e-5 off: far below what any metric here can resolve


def _compact(predictions: pd.DataFrame) -> pd.DataFrame:
    """Probabilities saved rounded to ``PROBABILITY_DECIMALS`` places, as float32. The predictions themselves
    are the argmax of the unrounded ones. With 20 classes (20 Newsgroups) most probabilities round to 0, which
    compresses about fourfold: that is what keeps the shipped results inside the data budget."""
    columns = [column for column in predictions.columns if column.startswith("probability_")]
    rounded = predictions.copy()
    rounded[columns] = rounded[columns].round(PROBABILITY_DECIMALS)
    return rounded.astype({column: "float32" for column in columns})


def _write_run(folder: Path, run: CandidateRun) -> None:
    """A candidate's results folder, written atomically (complete or absent, never half-written)."""

    def write(staging: Path) -> None:
        for frame, name in ((run.predictions, "predictions.parquet"),
                            (run.validation_predictions, "validation_predictions.parquet")):
            _compact(frame.drop(columns="text")).to_parquet(staging / name, index=False, compression="zstd")
        run.history.to_csv(staging / "history.csv", index=False)
        (staging / "record.json").write_text(json.dumps(run.record, indent=2) + "\n")

    write_folder_atomically(folder, write)


def _settings_key(candidate: Candidate, seed: int, train_limit: int | None,
                  overrides: dict[str, Any] | None) -> dict[str, Any]:
    """What identifies a run: the candidate, seed, training-set limit and *every* field of its recipe."""
    recipe = candidate.recipe(overrides)
    return {"candidate": asdict(candidate), "seed": seed, "train_limit": train_limit,
            "recipe": {} if recipe is None else recipe.as_dict()}


def same_run(saved_key: dict[str, Any] | None, key: dict[str, Any]) -> bool:
    """Whether a saved ``run_key`` describes the run ``key`` asks for.

    Recipes are compared as ``FineTuneRecipe`` objects, not as dicts: a key saved before the recipe
    was a dataclass names only the settings its recipe spelled out (the rest were the defaults), so
    it is completed with the defaults before comparing, and a results folder made then is still
    recognised as done.
    """
    if not saved_key or any(saved_key.get(part) != key[part] for part in ("seed", "train_limit")):
        return False
    # a key saved before a Candidate field existed (e.g. ``lora``) had that field at its default
    if {**asdict(Candidate(key["candidate"]["model"])), **(saved_key.get("candidate") or {})} != key["candidate"]:
        return False
    saved_recipe, recipe = saved_key.get("recipe") or {}, key["recipe"]
    if not saved_recipe or not recipe:
        return saved_recipe == recipe
    try:
        return finetune.FineTuneRecipe.from_dict(saved_recipe) == finetune.FineTuneRecipe.from_dict(recipe)
    except ConfigError:  # a setting this labkit does not know: not the same run
        return False


def compare(task: Task | str, candidates: Sequence[Candidate | str], output: str | Path, *, seed: int = 0,
            train_limit: int | None = None, overrides: dict[str, Any] | None = None,
            progress: bool = True, log: Callable[[str], None] = print,
            save_model_to: str | Path | None = None) -> pd.DataFrame:
    """Run every candidate on ``task`` (skipping those already finished in ``output``); return the table.

    The table has one row per candidate (the ``record.json`` files), sorted by accuracy. Everything
    after ``output`` is a keyword-only option with a default. With
    ``save_model_to`` (one candidate only) the trained classifier is saved there too; a candidate
    already done is then run again, since its weights were not kept.
    """
    task = builtin_task(task) if isinstance(task, str) else task
    finetune.check_dataset(task.dataset, task.text_column, task.label_column)
    parsed = [parse_candidate(c) if isinstance(c, str) else c for c in candidates]
    if not parsed:
        raise ValueError("no candidates to compare")
    if save_model_to is not None and len(parsed) != 1:
        raise ConfigError(f"save_model_to saves one model: give exactly one candidate, not {len(parsed)}")
    output = Path(output)
    records = []
    for candidate in parsed:
        folder = output / candidate.name
        key = _settings_key(candidate, seed, train_limit, overrides)
        if (folder / "record.json").is_file():
            record = json.loads((folder / "record.json").read_text())
            if same_run(record.get("run_key"), json.loads(json.dumps(key))) and save_model_to is None:
                if (folder / "validation_predictions.parquet").is_file():
                    log(f"{candidate.name}: already done, skipped")
                    records.append(record)
                    continue
                log(f"{candidate.name}: done by an older labkit without validation predictions; running again")
        checkpoint = None if candidate.is_classical else output / ".partial" / f"{candidate.name}.pt"
        log(f"{candidate.name}: {'resuming' if checkpoint and checkpoint.is_file() else 'running'}")
        start = time.perf_counter()
        run = run_candidate(candidate, task, seed=seed, train_limit=train_limit, overrides=overrides,
                            progress=progress, checkpoint=checkpoint, save_model_to=save_model_to)
        run.record["run_key"] = key
        _write_run(folder, run)
        if checkpoint is not None:
            checkpoint.unlink(missing_ok=True)
            if checkpoint.parent.is_dir() and not any(checkpoint.parent.iterdir()):
                checkpoint.parent.rmdir()
        log(f"{candidate.name}: validation accuracy {run.record['validation_accuracy']:.3f} "
            f"in {time.perf_counter() - start:.0f} s")
        records.append(run.record)
    return results_table(records)
