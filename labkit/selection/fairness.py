"""Fairness as a selection criterion: each candidate's counterfactual flip rate beside its accuracy.

A candidate's record gets, for the validation and the test split, the share of texts whose predicted
label changes when every gendered word in them is swapped (:func:`labkit.bias.swap_gender`), with a
bootstrap interval, and the mean absolute change in the positive-class probability. A constraint on it
(``recommend(max_flip_rate=...)``) reads the **validation** figure, like every other choice; the test
figure is reported.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from labkit.errors import DatasetError
from labkit.files import write_json_atomically

FAIRNESS_MEASURE = ("share of texts with a gendered word whose predicted label changes when every gendered word "
                    "is swapped (labkit.bias.swap_gender); 95% percentile bootstrap over texts")
"""What the ``counterfactual_flip_rate`` columns measure (also written into the records)."""


def fairness_columns(predict_proba: Callable[[list[str]], Any], texts: Sequence[str], *, prefix: str = "",
                     positive: int | None = 1, n_resamples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """The counterfactual flip rate of ``predict_proba`` on ``texts``, as record columns named with ``prefix``.

    ``predict_proba``: texts -> ``(n, n_classes)`` probabilities. Columns: ``counterfactual_pairs``
    (texts that have a gendered word to swap), ``counterfactual_flip_rate`` with ``_low``/``_high``, and
    ``counterfactual_mean_abs_change`` (of the ``positive`` class's probability; NaN with
    ``positive=None``, for a task of more than two classes). A split without any gendered word gives 0
    pairs and NaN rates (nothing was measured), not an error.
    """
    from labkit.bias import flip_rates

    try:
        result = flip_rates(predict_proba, list(texts), positive=1 if positive is None else positive,
                            n_resamples=n_resamples, seed=seed)
    except DatasetError:  # no text has a gendered word: nothing to measure
        return {f"{prefix}counterfactual_pairs": 0, **{f"{prefix}{name}": math.nan for name in (
            "counterfactual_flip_rate", "counterfactual_flip_rate_low", "counterfactual_flip_rate_high",
            "counterfactual_mean_abs_change")}}
    return {f"{prefix}counterfactual_pairs": result.n_pairs,
            f"{prefix}counterfactual_flip_rate": result.flip_rate.estimate,
            f"{prefix}counterfactual_flip_rate_low": result.flip_rate.low,
            f"{prefix}counterfactual_flip_rate_high": result.flip_rate.high,
            f"{prefix}counterfactual_mean_abs_change": math.nan if positive is None
            else result.mean_abs_change.estimate}


def candidate_fairness(predict_proba: Callable[[list[str]], Any], validation_texts: Sequence[str],
                       test_texts: Sequence[str], *, positive: int | None = 1, seed: int = 0) -> dict[str, Any]:
    """:func:`fairness_columns` on validation (prefixed ``validation_``) and on test, with what they measure."""
    return {**fairness_columns(predict_proba, validation_texts, prefix="validation_", positive=positive, seed=seed),
            **fairness_columns(predict_proba, test_texts, positive=positive, seed=seed),
            "counterfactual_measure": FAIRNESS_MEASURE}


def add_fairness(record_path: str | Path, predict_proba: Callable[[list[str]], Any],
                 validation_texts: Sequence[str], test_texts: Sequence[str], *, how: str,
                 seed: int = 0) -> dict[str, Any]:
    """Measure a finished candidate's flip rates and write them into its ``record.json`` (atomically).

    For results made before the fairness columns existed: ``predict_proba`` must be the candidate's own
    trained model (e.g. its shipped classifier), ``how`` says which, and is recorded as
    ``counterfactual_measured``. Every other column of the record is left as it was. Returns the record.
    """
    path = Path(record_path)
    record = json.loads(path.read_text())
    record.update(candidate_fairness(predict_proba, validation_texts, test_texts, seed=seed))
    record["counterfactual_measured"] = how
    write_json_atomically(path, record)
    return record
