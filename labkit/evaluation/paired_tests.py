"""Paired significance tests: do two models, scored on the same examples, really differ?

McNemar's test on accuracy (:func:`mcnemar_test`, or :func:`mcnemar_from_counts` from the two
discordant counts): exact binomial for few disagreements, chi-square with continuity correction for
many. The resampling counterpart for any metric, :func:`~labkit.evaluation.resampling.paired_bootstrap`,
is in :mod:`labkit.evaluation.resampling`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from labkit.errors import ConfigError
from labkit.evaluation.inputs import _check_same_length, _labels_1d

MCNEMAR_EXACT_BELOW = 25
"""With fewer discordant examples than this, :func:`mcnemar_test` uses the exact binomial test."""


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's test on the examples where two models disagree about being right."""

    only_a_correct: int  #: b: examples model A gets right and model B wrong
    only_b_correct: int  #: c: examples model B gets right and model A wrong
    statistic: float  #: chi-square statistic, or min(b, c) for the exact test
    p_value: float
    method: str  #: "exact binomial" or "chi-square with continuity correction"
    alpha: float
    significant: bool
    verdict: str
    name_a: str = "model A"
    name_b: str = "model B"

    @property
    def n_discordant(self) -> int:
        return self.only_a_correct + self.only_b_correct

    def __str__(self) -> str:
        return self.verdict


def mcnemar_from_counts(only_a_correct: int, only_b_correct: int, alpha: float = 0.05,
                        exact: bool | None = None, name_a: str = "model A",
                        name_b: str = "model B") -> McNemarResult:
    """McNemar's test from the two discordant counts ``b`` (only A right) and ``c`` (only B right).

    * exact (default when ``b + c < 25``): two-sided exact binomial test of ``b`` successes in ``b + c``
      trials with p = 1/2, i.e. ``min(1, 2 * BinomCDF(min(b, c); b + c, 1/2))`` (scipy's ``binomtest``);
    * otherwise chi-square with Edwards' continuity correction, ``(|b - c| - 1)^2 / (b + c)`` on 1
      degree of freedom (the formula statsmodels uses).

    The examples both models get right or both get wrong carry no information about which is better
    and do not enter the test.
    """
    from scipy import stats

    b, c = int(only_a_correct), int(only_b_correct)
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got {b} and {c}")
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha must be between 0 and 1 (e.g. 0.05), got {alpha!r}")
    n = b + c
    use_exact = n < MCNEMAR_EXACT_BELOW if exact is None else bool(exact)
    if n == 0:
        statistic, p_value = 0.0, 1.0
        method = "exact binomial" if use_exact else "chi-square with continuity correction"
    elif use_exact:
        statistic = float(min(b, c))
        p_value = float(stats.binomtest(b, n, 0.5, alternative="two-sided").pvalue)
        method = "exact binomial"
    else:
        statistic = (abs(b - c) - 1.0) ** 2 / n
        p_value = float(stats.chi2.sf(statistic, df=1))
        method = "chi-square with continuity correction"
    p_value = min(1.0, p_value)
    significant = p_value < alpha
    level = f"{alpha:g}"
    counts = f"{name_a} alone right on {b}, {name_b} alone right on {c}"
    if n == 0:
        verdict = (f"No difference: {name_a} and {name_b} are right and wrong on exactly the same examples "
                   "(no discordant pairs), so McNemar's test has nothing to compare.")
    elif significant:
        better = name_a if b > c else name_b
        verdict = (f"{better} is more accurate and the difference is real at the {level} level "
                   f"(McNemar, {method}: {counts}; p = {p_value:.3g} < {level}).")
    else:
        verdict = (f"No real difference in accuracy at the {level} level (McNemar, {method}: {counts}; "
                   f"p = {p_value:.3g} >= {level}): the gap could be chance.")
    return McNemarResult(b, c, float(statistic), p_value, method, alpha, significant, verdict, name_a, name_b)


def mcnemar_test(y_true: Any, pred_a: Any, pred_b: Any, alpha: float = 0.05, exact: bool | None = None,
                 name_a: str = "model A", name_b: str = "model B") -> McNemarResult:
    """McNemar's test: do two models, scored on the same examples, differ in accuracy?

    ``y_true``, ``pred_a``, ``pred_b``: ``(n_examples,)`` labels. Counts the examples only A gets right
    (``b``) and only B gets right (``c``) and tests ``b = c``; see :func:`mcnemar_from_counts` for when it
    is exact (fewer than :data:`MCNEMAR_EXACT_BELOW` discordant examples) and when chi-square.
    """
    true = _labels_1d("y_true", y_true)
    predicted_a = _labels_1d("pred_a", pred_a)
    predicted_b = _labels_1d("pred_b", pred_b)
    _check_same_length(y_true=true, pred_a=predicted_a, pred_b=predicted_b)
    right_a, right_b = predicted_a == true, predicted_b == true
    return mcnemar_from_counts(int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b)), alpha=alpha,
                               exact=exact, name_a=name_a, name_b=name_b)
