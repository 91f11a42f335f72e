"""The classical baseline: TF-IDF features and logistic regression (scikit-learn), on the same splits.

``tfidf_logistic_regression`` returns the same ``FineTuneResult`` as ``fine_tune``, so the two can be
compared row by row.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from labkit.evaluation.costs import count_parameters
from labkit.finetune.classifier import FineTuneResult, _predictions_frame
from labkit.finetune.preparation import check_dataset, label_ids, limit_training_set

BASELINE_NAME = "tfidf-lr"



def tfidf_pipeline(C: float = 1.0, seed: int = 0) -> Any:
    """TF-IDF (word unigrams + bigrams, sublinear tf) followed by logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegression(C=C, max_iter=2000, random_state=seed),
    )


def tfidf_logistic_regression(dataset: Any, *, text_column: str = "text", label_column: str = "label",
                              C_values: Sequence[float] = (0.3, 1.0, 3.0, 10.0),
                              train_limit: int | None = None, seed: int = 0) -> FineTuneResult:
    """The classical baseline, on the same splits: ``C`` is chosen on validation, then test is predicted.

    Returns a ``FineTuneResult`` whose ``history`` has one row per ``C`` tried.
    """
    label_names = check_dataset(dataset, text_column, label_column)
    if train_limit is not None:
        dataset = limit_training_set(dataset, train_limit, seed)
        check_dataset(dataset, text_column, label_column)
    train_texts = list(dataset["train"][text_column])
    train_labels = label_ids(dataset["train"][label_column], label_names)
    validation_labels = np.array(label_ids(dataset["validation"][label_column], label_names))
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    history, best = [], None
    for C in C_values:
        pipeline = tfidf_pipeline(C, seed).fit(train_texts, train_labels)
        accuracy = float((pipeline.predict(list(dataset["validation"][text_column])) == validation_labels).mean())
        history.append({"C": C, "validation_accuracy": accuracy, "seconds": time.perf_counter() - start_wall})
        if best is None or accuracy > best[0]:
            best = (accuracy, C, pipeline)
    train_seconds, train_cpu_seconds = time.perf_counter() - start_wall, time.process_time() - start_cpu
    _, best_C, pipeline = best
    outputs = {}
    for split in ("validation", "test"):
        texts = list(dataset[split][text_column])
        probabilities = np.zeros((len(texts), len(label_names)))
        probabilities[:, pipeline.classes_] = pipeline.predict_proba(texts)
        labels = np.array(label_ids(dataset[split][label_column], label_names))
        outputs[split] = _predictions_frame(texts, labels, probabilities, label_names)
    counts = count_parameters(pipeline)
    config = {"model": BASELINE_NAME, "C": best_C, "C_values": list(C_values),
              "vocabulary": len(pipeline[0].vocabulary_), "train_examples": len(train_texts), "seed": seed}
    return FineTuneResult(BASELINE_NAME, pipeline, None, label_names, pd.DataFrame(history), outputs["test"],
                          counts.total, counts.trainable, train_seconds, train_cpu_seconds, config,
                          validation_predictions=outputs["validation"])
