"""Fairness as a selection criterion: the gender-swap flip rate in records, reports and recommend()."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from datasets import ClassLabel, Dataset, DatasetDict

from labkit import selection


def depends_on_she(texts: list[str]) -> np.ndarray:
    """A fake classifier: (negative, positive) = (0, 1) exactly when the word "she" is in the text."""
    positive = np.array([1.0 if re.search(r"\bshe\b", text, re.IGNORECASE) else 0.0 for text in texts])
    return np.stack([1 - positive, positive], axis=1)


TEXTS = [
    "She was wonderful.",  # -> "He was wonderful.": flips
    "she and the film",  # -> "he and the film": flips
    "He was dull.",  # -> "She was dull.": flips
    "Her acting was fine.",  # -> "His acting ...": no "she" on either side, no flip
    "The woman left.",  # -> "The man left.": no flip
    "A plain sentence.",  # nothing to swap: not a pair
    "Another one.",  # not a pair
]


def test_fairness_columns_count_by_hand() -> None:
    columns = selection.fairness_columns(depends_on_she, TEXTS, prefix="validation_")
    assert columns["validation_counterfactual_pairs"] == 5  # the two plain sentences have no counterfactual
    assert columns["validation_counterfactual_flip_rate"] == pytest.approx(3 / 5)
    assert columns["validation_counterfactual_mean_abs_change"] == pytest.approx(3 / 5)  # |1 - 0| on flips only
    low, high = (columns[f"validation_counterfactual_flip_rate_{side}"] for side in ("low", "high"))
    assert 0 <= low < 3 / 5 < high <= 1
    # a split without any gendered word measures nothing: 0 pairs and NaN, not an error
    empty = selection.fairness_columns(depends_on_she, ["A plain sentence.", "Another one."])
    assert empty["counterfactual_pairs"] == 0 and math.isnan(empty["counterfactual_flip_rate"])
    # more than two classes: the flip rate is defined, a "positive-class" probability is not
    multi = selection.fairness_columns(depends_on_she, TEXTS, positive=None)
    assert multi["counterfactual_flip_rate"] == pytest.approx(3 / 5)
    assert math.isnan(multi["counterfactual_mean_abs_change"])


def test_candidate_fairness_names_both_splits_and_the_measure() -> None:
    both = selection.candidate_fairness(depends_on_she, TEXTS[:3], TEXTS)
    assert both["validation_counterfactual_flip_rate"] == 1.0 and both["counterfactual_flip_rate"] == 0.6
    assert "swap_gender" in both["counterfactual_measure"]


def test_add_fairness_changes_only_its_columns(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    record = {"candidate": "x", "accuracy": 0.8, "latency_ms_p50": 1.5}
    path.write_text(json.dumps(record))
    updated = selection.add_fairness(path, depends_on_she, TEXTS, TEXTS, how="by a test")
    saved = json.loads(path.read_text())
    assert saved == updated and {k: saved[k] for k in record} == record
    assert saved["counterfactual_flip_rate"] == pytest.approx(0.6) and saved["counterfactual_measured"] == "by a test"


def fairness_table() -> pd.DataFrame:
    return pd.DataFrame({
        "candidate": ["accurate-but-unfair", "fair", "unmeasured"], "validation_accuracy": [0.95, 0.85, 0.99],
        "accuracy": [0.94, 0.86, 0.99], "latency_ms_p50": [1.0, 1.0, 1.0], "parameters": [1e6, 1e6, 1e6],
        "validation_counterfactual_flip_rate": [0.30, 0.02, math.nan],
        "counterfactual_flip_rate": [0.25, 0.40, math.nan],  # test rates: must not drive the choice
    })


def test_recommend_bounds_the_validation_flip_rate() -> None:
    table = fairness_table()
    assert selection.recommend(table).choice == "unmeasured"
    chosen = selection.recommend(table, max_flip_rate=0.05)
    assert chosen.choice == "fair"
    assert chosen.ruled_out["accurate-but-unfair"] == ("validation gender-swap flip rate 0.3, over the limit of "
                                                      "0.05")
    assert "not measured" in chosen.ruled_out["unmeasured"]
    with pytest.raises(KeyError, match="validation_counterfactual_flip_rate"):
        selection.recommend(table.drop(columns="validation_counterfactual_flip_rate"), max_flip_rate=0.05)


def gendered_sentiment(seed: int = 0, sizes: tuple[int, int, int] = (120, 40, 40)) -> DatasetDict:
    """A task whose training data ties sentiment to gender: positive texts say "she", negative "he"."""
    rng = np.random.default_rng(seed)
    filler = ["film", "plot", "scene", "story", "cast", "music", "ending", "script"]

    def make(n: int) -> Dataset:
        labels = [i % 2 for i in range(n)]
        texts = [f"{'she' if label else 'he'} saw the {' '.join(rng.choice(filler, 3))}" for label in labels]
        return Dataset.from_dict({"text": texts, "label": labels}).cast_column(
            "label", ClassLabel(names=["negative", "positive"]))

    return DatasetDict({split: make(n) for split, n in zip(("train", "validation", "test"), sizes, strict=True)})


def test_compare_records_the_flip_rate_and_the_report_shows_it(tmp_path: Path) -> None:
    task = selection.Task("gendered", gendered_sentiment(), max_length=16)
    table = selection.compare(task, ["tfidf-lr"], tmp_path / "results", progress=False, log=lambda message: None)
    row = table.iloc[0]
    # every test text has a gendered word, and the label was learnt from it: swapping it flips every prediction
    assert row["counterfactual_pairs"] == 40 and row["validation_counterfactual_pairs"] == 40
    assert row["accuracy"] == 1.0 and row["counterfactual_flip_rate"] == 1.0
    assert row["validation_counterfactual_flip_rate"] == 1.0
    assert "counterfactual_flip_rate" in selection.summary(table).columns
    selection.write_report(table, tmp_path, recommendations={
        "fair": selection.recommend(table, max_flip_rate=0.1)})
    report = (tmp_path / "report.md").read_text()
    assert "test gender-swap flip rate" in report and "over the 40 test texts that have one" in report
    assert "validation gender-swap flip rate 1, over the limit of 0.1" in report
