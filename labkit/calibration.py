"""Temperature scaling: make a classifier's probabilities mean what they say, without changing its answers.

A fine-tuned network is often *over-confident*: among the test examples it gives 95%, it is right
less than 95% of the time. Temperature scaling (Guo et al., 2017, "On Calibration of Modern Neural
Networks") repairs this after training with a single number ``T > 0``. The logits ``z`` of every
example are divided by ``T`` before the softmax::

    p_calibrated = softmax(z / T)

``T > 1`` softens the probabilities (the cure for over-confidence), ``T < 1`` sharpens them
(under-confidence), ``T = 1`` leaves them as they are. Dividing every logit of an example by the same
positive number keeps their order, so the predicted class, and therefore accuracy, never changes.

``T`` is fitted by minimising the negative log-likelihood (the cross-entropy) of the **validation**
labels: :func:`fit_temperature`. Fitting it on the test set would make the test calibration you then
report optimistic, exactly like choosing a model by its test score; this module cannot see which split
it is given, so that rule is the caller's (the argument names say ``validation_``).

Inputs are either logits or probabilities, ``(n_examples, n_classes)`` with ``n_classes >= 2``
(a binary model has two columns; stack ``[1 - p, p]`` if you only have the positive-class
probability). Probabilities are turned into logits as ``log p``: ``log softmax(z) = z - logsumexp(z)``
differs from ``z`` by a constant per row, which the softmax ignores, so scaling ``log p`` is exactly
scaling the model's logits. A probability of exactly 0 has no logarithm: probabilities are first
clipped to at least :data:`PROBABILITY_FLOOR` (``1e-12``, a logit of about -27.6). That moves the
result by less than ``n_classes * 1e-12`` at ``T = 1``; after scaling, a clipped zero becomes
``1e-12 ** (1 / T)`` before renormalising, which is still tiny for any ``T`` up to about 2. A
validation example whose *true* class was given probability 0 costs ``-log(1e-12) = 27.6`` nats in
the likelihood (instead of infinity): a few of those pull ``T`` up strongly, as they should, since the
model was certain and wrong.
Labels are integer class indices: column ``j`` is class ``j``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Literal

import numpy as np

from labkit.evaluation import _to_numpy  # one converter for lists, arrays, pandas and torch

__all__ = [
    "fit_temperature", "apply_temperature", "negative_log_likelihood", "to_logits",
    "TEMPERATURE_BOUNDS", "PROBABILITY_FLOOR",
]

TEMPERATURE_BOUNDS: tuple[float, float] = (0.01, 100.0)
"""Default search interval for ``T`` in :func:`fit_temperature`. Real models land between about 0.5
and 5; the interval is wide so that it never decides the answer on sensible data (a fit at a bound
warns)."""

PROBABILITY_FLOOR = 1e-12
"""Probabilities are clipped to at least this before taking ``log p`` (a zero has no logarithm)."""

PROBABILITY_SUM_TOLERANCE = 1e-4  # |row sum - 1| allowed for probabilities (float32 softmax is well inside)

Inputs = Literal["auto", "probabilities", "logits"]


# ----------------------------------------------------------------------------------------------------
# input checks
# ----------------------------------------------------------------------------------------------------


def _check_scores(values: Any, name: str) -> np.ndarray:
    """``values`` as a finite float64 array ``(n_examples, n_classes)``, ``n_classes >= 2``."""
    array = _to_numpy(values)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number) \
            or np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.ndim == 1:
        raise ValueError(f"{name} is 1-D (shape {array.shape}); temperature scaling needs one column per "
                         "class, shape (n_examples, n_classes). For a binary model with only the "
                         "positive-class probability p, pass np.column_stack([1 - p, p])")
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape (n_examples, n_classes), got shape {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} has no examples")
    if array.shape[1] < 2:
        raise ValueError(f"{name} has {array.shape[1]} column; give one column per class (at least 2)")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _looks_like_probabilities(array: np.ndarray) -> bool:
    return bool(array.min() >= 0.0 and array.max() <= 1.0
                and np.all(np.abs(array.sum(axis=1) - 1.0) <= PROBABILITY_SUM_TOLERANCE))


def to_logits(probabilities_or_logits: Any, inputs: Inputs = "auto") -> np.ndarray:
    """Logits ``(n_examples, n_classes)`` (float64) for temperature scaling.

    ``inputs="probabilities"``: rows must be probabilities (in [0, 1], summing to 1 within 1e-4); the
    result is ``log(max(p, PROBABILITY_FLOOR))``. ``inputs="logits"``: returned as they are.
    ``inputs="auto"`` (default): probabilities if every row looks like one, logits otherwise. Logits
    that happen to lie in [0, 1] and sum to 1 would be mistaken for probabilities: say
    ``inputs="logits"`` when you pass logits.
    """
    if inputs not in ("auto", "probabilities", "logits"):
        raise ValueError(f"inputs must be 'auto', 'probabilities' or 'logits', got {inputs!r}")
    scores = _check_scores(probabilities_or_logits, "probabilities_or_logits")
    if inputs == "logits":
        return scores
    is_probability = _looks_like_probabilities(scores)
    if inputs == "probabilities" and not is_probability:
        sums = scores.sum(axis=1)
        raise ValueError("inputs='probabilities' but these are not probabilities: values range from "
                         f"{scores.min():.3g} to {scores.max():.3g} and row sums from {sums.min():.6g} to "
                         f"{sums.max():.6g} (each row must lie in [0, 1] and sum to 1). Pass "
                         "inputs='logits' if they are logits")
    if is_probability:
        return np.log(np.clip(scores, PROBABILITY_FLOOR, 1.0))
    return scores


def _check_labels(labels: Any, n_examples: int, n_classes: int, name: str) -> np.ndarray:
    """``labels`` as int64 class indices ``(n_examples,)``, each in ``0 .. n_classes - 1``."""
    array = _to_numpy(labels)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, shape (n_examples,), got shape {array.shape}")
    if len(array) != n_examples:
        raise ValueError(f"mismatched lengths: {name} has {len(array)} examples but the probabilities "
                         f"(or logits) have {n_examples} rows; they must describe the same examples in "
                         "the same order")
    if array.dtype == bool:
        array = array.astype(np.int64)
    elif np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise ValueError(f"{name} must be integer class indices (column j is class j), got non-integer values")
        array = array.astype(np.int64)
    elif not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must be integer class indices (column j is class j), got dtype {array.dtype}; "
                         "map class names to column indices first")
    low, high = int(array.min()), int(array.max())
    if low < 0 or high >= n_classes:
        bad = low if low < 0 else high
        raise ValueError(f"{name} contains the class index {bad}, outside 0..{n_classes - 1} (there are "
                         f"{n_classes} columns, one per class)")
    return array.astype(np.int64)


def _check_temperature(temperature: Any) -> float:
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        raise ValueError(f"temperature must be a positive number, got {temperature!r}") from None
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"temperature must be a positive, finite number, got {temperature!r} "
                         "(T > 1 softens the probabilities, T < 1 sharpens them, T = 1 changes nothing)")
    return value


# ----------------------------------------------------------------------------------------------------
# the method
# ----------------------------------------------------------------------------------------------------


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _nll(codes: np.ndarray, logits: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of ``codes`` under ``softmax(logits / temperature)``."""
    log_probabilities = _log_softmax(logits / temperature)
    return float(-log_probabilities[np.arange(len(codes)), codes].mean())


def negative_log_likelihood(labels: Any, probabilities_or_logits: Any, temperature: float = 1.0,
                            inputs: Inputs = "auto") -> float:
    """Mean negative log-likelihood (cross-entropy, natural log) of ``labels`` ``(n_examples,)`` under
    ``softmax(logits / temperature)``; ``probabilities_or_logits``: ``(n_examples, n_classes)``.

    This is the quantity :func:`fit_temperature` minimises (scikit-learn calls it ``log_loss``).
    """
    logits = to_logits(probabilities_or_logits, inputs)
    codes = _check_labels(labels, *logits.shape, name="labels")
    return _nll(codes, logits, _check_temperature(temperature))


def fit_temperature(validation_labels: Any, validation_probabilities_or_logits: Any, *,
                    inputs: Inputs = "auto",
                    bounds: tuple[float, float] = TEMPERATURE_BOUNDS) -> float:
    """The temperature ``T`` that minimises the validation negative log-likelihood.

    ``validation_labels``: ``(n_examples,)`` integer class indices; ``validation_probabilities_or_logits``:
    ``(n_examples, n_classes)``, the model's outputs on the **validation** split (never the test split:
    the test split is for reporting the result). ``inputs``: see :func:`to_logits`.

    The search is one-dimensional and bounded: ``scipy.optimize.minimize_scalar`` (Brent's bounded
    method) over ``log T`` in ``[log bounds[0], log bounds[1]]`` (default ``T`` in [0.01, 100]), to
    ``1e-8`` in ``log T``. The NLL is convex in ``1/T`` (a log-sum-exp minus a linear term), so it has
    a single minimum along ``log T`` and the bounded search finds it. If the minimum is at a bound
    (e.g. every validation example is predicted correctly, so the NLL keeps falling as ``T -> 0``) the
    bound is returned with a ``RuntimeWarning``.
    """
    from scipy.optimize import minimize_scalar

    low, high = (float(b) for b in bounds)
    if not (math.isfinite(low) and math.isfinite(high) and 0.0 < low < 1.0 < high):
        raise ValueError(f"bounds must be (low, high) with 0 < low < 1 < high, got {bounds!r}")
    logits = to_logits(validation_probabilities_or_logits, inputs)
    codes = _check_labels(validation_labels, *logits.shape, name="validation_labels")
    if np.all(logits.max(axis=1) == logits.min(axis=1)):
        raise ValueError("every row of the validation scores is constant (all classes equally likely): "
                         "no temperature changes such predictions, so there is nothing to fit")
    result = minimize_scalar(lambda log_t: _nll(codes, logits, math.exp(log_t)), method="bounded",
                             bounds=(math.log(low), math.log(high)), options={"xatol": 1e-8})
    if not result.success:  # pragma: no cover - Brent's bounded method converges on a bounded interval
        raise RuntimeError(f"the temperature search did not converge: {result.message}")
    log_t, best = float(result.x), float(result.fun)
    for edge, side in ((math.log(low), "lower"), (math.log(high), "upper")):
        # where the NLL keeps falling towards a bound it flattens out (differences below float precision)
        # and Brent's search can stop short of the bound: compare with the bound itself
        if abs(log_t - edge) < 1e-4 or _nll(codes, logits, math.exp(edge)) <= best:
            warnings.warn(f"the fitted temperature is at the {side} bound ({math.exp(edge):g}): the validation "
                          "NLL keeps falling beyond it (are the validation predictions all correct, or all "
                          "wrong?). Widen bounds= or check the validation data", RuntimeWarning, stacklevel=2)
            return math.exp(edge)
    return math.exp(log_t)


def apply_temperature(probabilities_or_logits: Any, temperature: float, inputs: Inputs = "auto") -> np.ndarray:
    """Temperature-scaled probabilities ``softmax(logits / temperature)``: ``(n_examples, n_classes)``.

    ``probabilities_or_logits``: ``(n_examples, n_classes)`` (see :func:`to_logits`; probabilities
    become ``log p`` after clipping at :data:`PROBABILITY_FLOOR`). ``temperature`` must be positive and
    finite. The argmax of every row, and so accuracy, is unchanged. Returns a new float64 array whose
    rows sum to 1; the input is not modified.
    """
    temperature = _check_temperature(temperature)
    logits = to_logits(probabilities_or_logits, inputs)
    return np.exp(_log_softmax(logits / temperature))
