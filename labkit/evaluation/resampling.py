"""Resampling statistics: how sure is a metric, and is model B really better than model A?

* :func:`bootstrap_ci`: a percentile-bootstrap confidence interval for any metric on one test set
  (vectorised for the built-in :data:`METRICS`, see :mod:`labkit.evaluation.resampled_metrics`);
* :func:`paired_bootstrap`: the interval of ``metric(B) - metric(A)`` when both models are scored on
  the same resamples, so the per-example pairing is kept.

McNemar's test, the exact paired test on accuracy, is in :mod:`labkit.evaluation.paired_tests`.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labkit.errors import ConfigError
from labkit.evaluation.inputs import _labels_1d
from labkit.evaluation.resampled_metrics import METRICS, _Prepared, _Resampler, _resolve_metric

__all__ = ["METRICS", "BootstrapCI", "bootstrap_ci", "PairedBootstrapResult", "paired_bootstrap"]


def _check_bootstrap_args(n_resamples: int, confidence: float) -> None:
    """Raise ``ConfigError`` unless ``n_resamples >= 1`` and ``0 < confidence < 1``."""
    if not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise ConfigError(f"n_resamples must be a positive int, got {n_resamples!r}")
    if not 0.0 < confidence < 1.0:
        raise ConfigError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}")


def _percentiles(samples: np.ndarray, confidence: float, what: str) -> tuple[float, float, int]:
    """``(low, high, n_failed)``: the central ``confidence`` interval of ``samples`` ``(n_resamples,)``,
    leaving out the NaN (undefined) ones; warns when more than 10% are undefined."""
    valid = samples[~np.isnan(samples)]
    failed = len(samples) - len(valid)
    if len(valid) == 0:
        raise ValueError(f"{what} is undefined on every bootstrap resample (e.g. a class missing); "
                         "use more test data or a metric that is defined here")
    if failed > 0.1 * len(samples):
        warnings.warn(f"{what} was undefined on {failed} of {len(samples)} resamples (left out); the "
                      "interval may be too narrow", RuntimeWarning, stacklevel=3)
    alpha = 1.0 - confidence
    low, high = np.quantile(valid, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high), failed


@dataclass(frozen=True)
class BootstrapCI:
    """A metric's value on the test set with a percentile-bootstrap confidence interval."""

    metric: str
    estimate: float  #: the metric on the full test set
    low: float
    high: float
    confidence: float
    n_resamples: int
    n_failed: int  #: resamples on which the metric was undefined (left out)
    samples: np.ndarray = field(repr=False)  #: (n_resamples,) the metric on each resample

    def __str__(self) -> str:
        return (f"{self.metric} = {self.estimate:.3f} ({self.confidence:.0%} CI {self.low:.3f} to "
                f"{self.high:.3f}, {self.n_resamples} bootstrap resamples)")


def bootstrap_ci(metric: str | Callable[..., float], y_true: Any, y_pred_or_prob: Any,
                 n_resamples: int = 1000, confidence: float = 0.95, seed: int | None = 0,
                 labels: Sequence | None = None) -> BootstrapCI:
    """Percentile-bootstrap confidence interval for ``metric`` on one test set.

    ``metric``: a name from :data:`METRICS` (computed vectorised: 1000 resamples of 1000 examples take
    milliseconds), one of :mod:`labkit.evaluation.metrics`'s functions (mapped to its name, default
    arguments), or any
    callable ``metric(y_true, y_pred_or_prob) -> float`` (called once per resample). ``y_true``:
    ``(n_examples,)``; ``y_pred_or_prob``: ``(n_examples,)`` labels or ``(n_examples, n_classes)``
    probabilities, whichever the metric takes. Resamples draw ``n_examples`` indices with replacement;
    the interval is the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the metric
    over resamples. A resample on which the metric is undefined (a callable raising ``ValueError`` or
    returning NaN, an AUC with one class) is left out and counted in ``n_failed`` (with a warning above 10%).
    """
    _check_bootstrap_args(n_resamples, confidence)
    name, spec, function = _resolve_metric(metric)
    true = _labels_1d("y_true", y_true)
    prepared = _Prepared(name, spec, function, true, y_pred_or_prob, labels)
    samples = prepared.samples(_Resampler(len(true), n_resamples, seed))
    low, high, failed = _percentiles(samples, confidence, name)
    return BootstrapCI(name, prepared.estimate, low, high, confidence, n_resamples, failed, samples)


@dataclass(frozen=True)
class PairedBootstrapResult:
    """Model B minus model A on the same test set, with a paired-bootstrap interval."""

    metric: str
    name_a: str
    name_b: str
    value_a: float
    value_b: float
    difference: float  #: value_b - value_a on the full test set
    low: float  #: confidence interval of the difference
    high: float
    p_value: float  #: two-sided bootstrap fraction (see paired_bootstrap)
    confidence: float
    n_resamples: int
    significant: bool  #: the interval excludes 0
    verdict: str
    samples: np.ndarray = field(repr=False)  #: (n_resamples,) differences b - a per resample

    def __str__(self) -> str:
        return self.verdict


def paired_bootstrap(metric: str | Callable[..., float], y_true: Any, pred_a: Any, pred_b: Any,
                     n_resamples: int = 1000, confidence: float = 0.95, seed: int | None = 0,
                     labels: Sequence | None = None, name_a: str = "model A",
                     name_b: str = "model B") -> PairedBootstrapResult:
    """Is ``metric`` of model B really different from model A's on this test set?

    Both models' predictions (``(n_examples,)`` labels or ``(n_examples, n_classes)`` probabilities, as
    the metric takes) are scored on the **same** resamples, so the per-example pairing is kept and the
    interval of ``metric(B) - metric(A)`` is much narrower than two separate intervals suggest.

    ``p_value`` is a bootstrap fraction, not an exact test: twice the smaller of the shares of resampled
    differences ``<= 0`` and ``>= 0``, capped at 1 (so identical models get 1). The difference is called
    real (``significant``) when the ``confidence`` interval excludes 0.

    Ten parameters, over the kit's limit of eight, on purpose, because they are :func:`bootstrap_ci`'s plus
    the second model's predictions and the two names the verdict uses, and notebooks pass them by keyword.
    """
    _check_bootstrap_args(n_resamples, confidence)
    name, spec, function = _resolve_metric(metric)
    true = _labels_1d("y_true", y_true)
    a = _Prepared(name, spec, function, true, pred_a, labels)
    b = _Prepared(name, spec, function, true, pred_b, labels)
    resampler = _Resampler(len(true), n_resamples, seed)
    differences = b.samples(resampler) - a.samples(resampler)
    low, high, _ = _percentiles(differences, confidence, f"the difference in {name}")
    valid = differences[~np.isnan(differences)]
    difference = b.estimate - a.estimate
    p_value = float(min(1.0, 2 * min(np.mean(valid <= 0), np.mean(valid >= 0))))
    significant = bool(low > 0 or high < 0)
    result = PairedBootstrapResult(name, name_a, name_b, a.estimate, b.estimate, difference, low, high,
                                   p_value, confidence, n_resamples, significant, "", differences)
    return dataclasses.replace(result, verdict=_paired_verdict(result))


def _paired_verdict(result: PairedBootstrapResult) -> str:
    """One sentence a learner can read: which model is better, or that the gap could be chance."""
    name, name_a, name_b = result.metric, result.name_a, result.name_b
    p_text = f"p ~ {result.p_value:.3f}" if result.p_value >= 0.001 else "p < 0.001"
    level = f"{result.confidence:.0%}"
    interval = f"{level} CI of {name_b} - {name_a}: {result.low:+.3f} to {result.high:+.3f}"
    if result.significant:
        better = name_b if result.difference > 0 else name_a
        return (f"{better} has the higher {name} ({max(result.value_a, result.value_b):.3f} vs "
                f"{min(result.value_a, result.value_b):.3f}) and the difference is real at the {level} level: "
                f"the {interval} excludes 0 (bootstrap {p_text}).")
    return (f"No real difference in {name} at the {level} level: {name_a} {result.value_a:.3f}, "
            f"{name_b} {result.value_b:.3f}; the {interval} includes 0 (bootstrap {p_text}), "
            "so the gap could be chance on a test set this size.")
