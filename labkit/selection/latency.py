"""Inference cost columns: latency at batch 1 and throughput in batches, measured and re-measured alike."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labkit import evaluation, finetune
from labkit.devices import default_device
from labkit.errors import MissingFileError
from labkit.files import write_json_atomically
from labkit.finetune.baseline import ALL_TEXT_BASELINE_NAME, MLP_BASELINE_NAME
from labkit.graph.training import GRAPH_CANDIDATE
from labkit.selection.results import results_table
from labkit.selection.tasks import Task, builtin_task


def inference_costs(predict: Callable[[Sequence[str]], np.ndarray], texts: Sequence[str],
                    device: Any = "cpu") -> dict[str, Any]:
    """Latency of ``predict`` (texts -> ``(n, n_classes)`` probabilities) on ``texts``: the cost columns.

    ``latency_ms_p50`` / ``latency_ms_p95``: one example at a time (batch 1, what an interactive service
    sees); ``batched_ms_per_example`` and ``throughput_per_second``: batches of 64 (offline scoring).
    ``latency_threads`` records the torch threads used and ``latency_device`` the device that ran the
    model (``device``: the model's, or the CPU for the scikit-learn baseline), since latency depends on both.
    """
    single = evaluation.measure_latency(predict, texts, batch_size=1, warmup=5, device=device)
    batched = evaluation.measure_latency(predict, texts, batch_size=64, warmup=1, device=device)
    return {"latency_ms_p50": single.per_example_ms_p50, "latency_ms_p95": single.per_example_ms_p95,
            "batched_ms_per_example": 1000.0 / batched.examples_per_second,
            "throughput_per_second": batched.examples_per_second, "latency_threads": _torch_threads(),
            "latency_device": single.device}


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
        raise MissingFileError(f"no results under {output} to re-measure")
    label_names = finetune.check_dataset(task.dataset, task.text_column, task.label_column)
    texts = list(task.dataset["test"][task.text_column])[:latency_examples]
    candidates = []  # (path, record, predict, device)
    for path in files:
        record = json.loads(path.read_text())
        candidates.append((path, record, *_rebuilt_predictor(record, task, label_names)))
    measured: dict[Path, list[dict[str, Any]]] = {path: [] for path, *_ in candidates}
    for round_index in range(rounds):
        shift = round_index % len(candidates)
        for path, _, predict, device in candidates[shift:] + candidates[:shift]:
            measured[path].append(inference_costs(predict, texts, device))
    records = []
    for path, record, *_ in candidates:
        rows = pd.DataFrame(measured[path])
        record.update({column: float(rows[column].median()) for column in rows.columns
                       if column not in {"latency_threads", "latency_device"}})
        record["latency_threads"] = int(rows["latency_threads"].iloc[0])
        record["latency_device"] = str(rows["latency_device"].iloc[0])
        record["latency_measured"] = (f"re-measured with every candidate of this folder: median of {rounds} "
                                      f"interleaved rounds, {time.strftime('%Y-%m-%d %H:%M %Z')}")
        write_json_atomically(path, record)
        log(f"{record['candidate']}: {record['latency_ms_p50']:.2f} ms per example (batch 1)")
        records.append(record)
    return results_table(records)


def _rebuilt_predictor(record: dict[str, Any], task: Task,
                       label_names: list[str]) -> tuple[Callable[[Sequence[str]], np.ndarray], Any]:
    """A predictor with the same inference cost as the record's model, and the device it runs on.

    The TF-IDF baselines are refitted with the ``C`` they chose (on the CPU; the all-text variant's
    vectoriser on every split's texts); a transformer is rebuilt with random weights (inference cost
    depends on the architecture, not on the trained weights) and put on the kit's default device; so
    are the TF-IDF MLP (its vectoriser refitted, random weights) and TextGCN's inductive path (the
    vocabulary of its graph settings, random word vectors of its hidden size).
    """
    settings = record.get("settings", {})
    train = task.dataset["train"]
    if settings.get("train_examples", len(train)) < len(train):
        train = finetune.limit_training_set(task.dataset, settings["train_examples"], settings.get("seed", 0))["train"]
    train_texts = list(train[task.text_column])
    if record["model"] in {finetune.BASELINE_NAME, ALL_TEXT_BASELINE_NAME}:
        pipeline = finetune.tfidf_pipeline(settings["C"], settings.get("seed", 0))
        train_labels = finetune.label_ids(train[task.label_column], label_names)
        if record["model"] == finetune.BASELINE_NAME:
            pipeline.fit(train_texts, train_labels)
        else:  # as the baseline did: the vectoriser on every split's text, the classifier on train
            pipeline[0].fit(train_texts + [text for split in ("validation", "test")
                                           for text in task.dataset[split][task.text_column]])
            pipeline[1].fit(pipeline[0].transform(train_texts), train_labels)
        return pipeline.predict_proba, "cpu"
    if record["model"] == MLP_BASELINE_NAME:
        return _random_tfidf_mlp(settings, train_texts, len(label_names)).predict_proba, "cpu"
    if record["model"] == GRAPH_CANDIDATE:
        return _random_inductive_textgcn(settings, task, label_names).predict_proba, "cpu"
    tokenizer, model = finetune.load_classifier(record["model"], len(label_names), "random")
    device = default_device()
    model.to(device).eval()
    return partial(finetune.predict_proba, model, tokenizer, max_length=task.max_length), device


def _random_tfidf_mlp(settings: dict[str, Any], train_texts: list[str], n_classes: int) -> Any:
    """A ``TfidfMLP`` of the record's shape (its vectoriser refitted on ``train_texts``) with random weights."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from labkit.finetune.baseline import TfidfMLP, WideMLP

    vectorizer = TfidfVectorizer(min_df=2, sublinear_tf=True).fit(train_texts)
    return TfidfMLP(vectorizer, WideMLP(len(vectorizer.vocabulary_), n_classes, settings.get("hidden", 1024),
                                        settings.get("dropout", 0.5)))


def _random_inductive_textgcn(settings: dict[str, Any], task: Task, label_names: list[str]) -> Any:
    """TextGCN's inductive path for new documents, with its graph's vocabulary and random weights.

    Its cost per document is reading the text's words and two sparse-times-dense products of the
    hidden size: the trained values do not change it. The vocabulary is the graph's (every split's
    texts, the task's graph settings), without building the PMI edges.
    """
    from labkit.graph import InductiveTextGCN, clean_documents, graph_settings_for

    graph_settings = graph_settings_for(task.name)
    texts = [text for split in ("train", "validation", "test") for text in task.dataset[split][task.text_column]]
    _, vocabulary = clean_documents(texts, graph_settings)
    generator = np.random.default_rng(settings.get("seed", 0))
    hidden, n_words, n_classes = int(settings.get("hidden", 200)), len(vocabulary), len(label_names)
    return InductiveTextGCN(vocabulary, generator.uniform(1.0, 5.0, n_words), generator.uniform(1.0, 50.0, n_words),
                            generator.standard_normal((n_words, hidden)).astype(np.float32),
                            generator.standard_normal((n_words, n_classes)).astype(np.float32),
                            generator.standard_normal((hidden, n_classes)).astype(np.float32),
                            list(label_names), graph_settings)


def _torch_threads() -> int:
    import torch

    return torch.get_num_threads()
