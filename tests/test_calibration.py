"""labkit.calibration: temperature scaling against a brute-force grid and scikit-learn, its statistical
behaviour on synthetic models whose true calibration is known, and clear errors on bad input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import log_loss

from labkit import evaluation
from labkit.calibration import (
    PROBABILITY_FLOOR,
    TEMPERATURE_BOUNDS,
    apply_temperature,
    fit_temperature,
    negative_log_likelihood,
    to_logits,
)

# --- synthetic models whose calibration is known --------------------------------------------------------


def synthetic_model(seed: int, n: int, k: int, sharpness: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels ``(n,)`` drawn from ``softmax(z)``, and a model reporting ``softmax(sharpness * z)``.

    Returns ``(labels, reported probabilities (n, k), reported logits sharpness * z (n, k))``.
    ``sharpness = 1``: calibrated (the labels come from the model's own probabilities), so the best
    temperature is 1. ``sharpness = 2``: over-confident; dividing its logits by T = 2 recovers the truth.
    ``sharpness = 0.5``: under-confident; T = 0.5.
    """
    rng = np.random.default_rng(seed)
    z = rng.normal(scale=2.0, size=(n, k))
    true_p = np.exp(z - logsumexp(z, axis=1, keepdims=True))
    labels = (rng.random(n)[:, None] > np.cumsum(true_p, axis=1)).sum(axis=1)  # inverse-CDF sampling
    logits = sharpness * z
    reported = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
    return labels, reported, logits


def reference_nll(labels: np.ndarray, logits: np.ndarray, temperatures: np.ndarray) -> np.ndarray:
    """Mean NLL at each temperature ``(m,)``, computed directly with NumPy/SciPy (independent code):
    ``mean_i [logsumexp_j(z_ij / T) - z_i,y_i / T]``."""
    picked = logits[np.arange(len(labels)), labels]  # (n,)
    scaled = logits[None, :, :] / temperatures[:, None, None]  # (m, n, k)
    return logsumexp(scaled, axis=2).mean(axis=1) - picked.mean() / temperatures


def brute_force_temperature(labels: np.ndarray, logits: np.ndarray) -> float:
    """Dense grid over log T in the default bounds, refined once around the best point.

    Coarse: 1,001 log-spaced points (0.0092 apart in log T); fine: 1,001 points across the two coarse
    steps either side of the best one, so the fine spacing is 3.7e-5 in log T (T to within 2e-5 relative).
    """
    low, high = np.log(TEMPERATURE_BOUNDS[0]), np.log(TEMPERATURE_BOUNDS[1])
    coarse = np.linspace(low, high, 1001)
    best = int(np.argmin(reference_nll(labels, logits, np.exp(coarse))))
    step = coarse[1] - coarse[0]
    fine = np.linspace(coarse[best] - 2 * step, coarse[best] + 2 * step, 1001)
    return float(np.exp(fine[np.argmin(reference_nll(labels, logits, np.exp(fine)))]))


class PassThroughClassifier(ClassifierMixin, BaseEstimator):
    """A 'classifier' whose input rows already are its predicted probabilities (for scikit-learn's calibrator)."""

    def __init__(self, n_classes: int = 2) -> None:
        self.n_classes = n_classes

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> "PassThroughClassifier":
        self.classes_ = np.arange(self.n_classes)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float64)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X).argmax(axis=1)


# --- the fit is the NLL minimum -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed, k, sharpness", [(0, 2, 1.7), (1, 3, 0.6), (2, 5, 3.0), (3, 2, 1.0)])
def test_fit_matches_brute_force_grid(seed: int, k: int, sharpness: float) -> None:
    labels, probabilities, logits = synthetic_model(seed, 600, k, sharpness)
    expected = brute_force_temperature(labels, logits)
    for given, inputs in ((logits, "logits"), (probabilities, "probabilities"), (probabilities, "auto")):
        fitted = fit_temperature(labels, given, inputs=inputs)
        # tolerance: 1e-4 relative, five times the grid's resolution (2e-5) and far above the fit's 1e-8
        assert fitted == pytest.approx(expected, rel=1e-4), inputs
        # and the fitted T is at least as good as the best grid point, by the grid's own NLL
        at_fit = reference_nll(labels, logits, np.array([fitted]))[0]
        at_grid = reference_nll(labels, logits, np.array([expected]))[0]
        assert at_fit <= at_grid + 1e-9


@pytest.mark.parametrize("seed, k, sharpness", [(4, 2, 2.5), (5, 4, 0.7)])
def test_fit_and_apply_match_scikit_learn(seed: int, k: int, sharpness: float) -> None:
    """scikit-learn (>= 1.8) has temperature scaling in CalibratedClassifierCV(method="temperature")."""
    labels, probabilities, _ = synthetic_model(seed, 2000, k, sharpness)
    _, test_probabilities, _ = synthetic_model(seed + 100, 500, k, sharpness)
    sklearn_fit = CalibratedClassifierCV(FrozenEstimator(PassThroughClassifier(k).fit(probabilities)),
                                         method="temperature").fit(probabilities, labels)
    sklearn_temperature = 1.0 / float(sklearn_fit.calibrated_classifiers_[0].calibrators[0].beta_)
    ours = fit_temperature(labels, probabilities)
    assert ours == pytest.approx(sklearn_temperature, rel=1e-5)
    np.testing.assert_allclose(apply_temperature(test_probabilities, ours),
                               sklearn_fit.predict_proba(test_probabilities), atol=1e-7)


def test_apply_is_softmax_of_scaled_logits() -> None:
    labels, probabilities, logits = synthetic_model(6, 300, 4, 1.3)
    for temperature in (0.3, 1.0, 2.7):
        expected = torch.softmax(torch.from_numpy(logits) / temperature, dim=1).numpy()
        np.testing.assert_allclose(apply_temperature(logits, temperature, inputs="logits"), expected, atol=1e-12)
        # from probabilities: softmax(log p / T) = p ** (1 / T), renormalised
        powered = probabilities ** (1.0 / temperature)
        np.testing.assert_allclose(apply_temperature(probabilities, temperature),
                                   powered / powered.sum(axis=1, keepdims=True), rtol=1e-9, atol=1e-12)


def test_negative_log_likelihood_is_scikit_learns_log_loss() -> None:
    labels, probabilities, _ = synthetic_model(7, 400, 3, 2.0)
    for temperature in (0.5, 1.0, 2.0):
        expected = log_loss(labels, apply_temperature(probabilities, temperature), labels=[0, 1, 2])
        assert negative_log_likelihood(labels, probabilities, temperature) == pytest.approx(expected, rel=1e-9)


# --- behaviour on models with known calibration ---------------------------------------------------------------


# The tolerances are about 5.5 standard deviations of the fitted T at n = 20,000 (measured over 20
# seeds: sd(T) / T is 0.013 for 2 classes, 0.008 for 3 and 5), so a correct fit fails with
# probability ~1e-7 per case, and a fit off by 7% fails.
N_LARGE = 20_000


@pytest.mark.parametrize("k", [2, 3, 5])
def test_calibrated_model_gets_temperature_one(k: int) -> None:
    labels, probabilities, _ = synthetic_model(10 + k, N_LARGE, k, sharpness=1.0)
    assert fit_temperature(labels, probabilities) == pytest.approx(1.0, rel=0.07)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_over_confident_model_gets_temperature_above_one(k: int) -> None:
    labels, probabilities, _ = synthetic_model(20 + k, N_LARGE, k, sharpness=2.0)
    temperature = fit_temperature(labels, probabilities)
    assert temperature > 1.0
    assert temperature == pytest.approx(2.0, rel=0.07)  # undoes the over-sharpening


@pytest.mark.parametrize("k", [2, 3, 5])
def test_under_confident_model_gets_temperature_below_one(k: int) -> None:
    labels, probabilities, _ = synthetic_model(30 + k, N_LARGE, k, sharpness=0.5)
    temperature = fit_temperature(labels, probabilities)
    assert temperature < 1.0
    assert temperature == pytest.approx(0.5, rel=0.07)


@pytest.mark.parametrize("temperature", [0.05, 0.5, 1.0, 3.0, 50.0])
def test_argmax_and_accuracy_unchanged(temperature: float) -> None:
    labels, probabilities, _ = synthetic_model(40, 2000, 4, 2.0)
    scaled = apply_temperature(probabilities, temperature)
    np.testing.assert_array_equal(scaled.argmax(axis=1), probabilities.argmax(axis=1))
    assert evaluation.accuracy(labels, scaled.argmax(axis=1)) == evaluation.accuracy(labels,
                                                                                     probabilities.argmax(axis=1))
    np.testing.assert_allclose(scaled.sum(axis=1), 1.0, atol=1e-12)


def test_scaling_fitted_on_validation_lowers_test_ece() -> None:
    """Over-confident model: T fitted on one sample, ECE measured on a separate one (seeds differ)."""
    validation_labels, validation_probabilities, _ = synthetic_model(50, 5000, 3, sharpness=2.5)
    test_labels, test_probabilities, _ = synthetic_model(51, 5000, 3, sharpness=2.5)
    temperature = fit_temperature(validation_labels, validation_probabilities)
    before = evaluation.expected_calibration_error(test_labels, test_probabilities)
    after = evaluation.expected_calibration_error(test_labels, apply_temperature(test_probabilities, temperature))
    assert before > 0.08   # clearly miscalibrated (measured 0.12 for this seed)
    assert after < 0.03    # near the finite-sample floor of ECE (measured 0.01 for this seed)
    assert after < before / 3


# --- edge cases and errors ------------------------------------------------------------------------------------


def test_probabilities_with_zeros_are_clipped() -> None:
    floor = 1e-12  # the documented floor, written out so the test does not read it from the module
    assert PROBABILITY_FLOOR == floor
    probabilities = np.array([[1.0, 0.0], [0.0, 1.0], [0.3, 0.7], [0.9, 0.1], [0.6, 0.4]])
    labels = np.array([0, 1, 0, 1, 0])
    np.testing.assert_allclose(to_logits(probabilities)[0], [0.0, np.log(floor)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no log(0) warning, no fit at a bound
        temperature = fit_temperature(labels, probabilities)
        scaled = apply_temperature(probabilities, temperature)
        # a true class given probability 0 costs -log(1e-12) = 27.63 nats, not infinity
        assert negative_log_likelihood([1], [[1.0, 0.0]]) == pytest.approx(-np.log(floor))
    assert TEMPERATURE_BOUNDS[0] < temperature < TEMPERATURE_BOUNDS[1]
    assert np.all(np.isfinite(scaled)) and np.allclose(scaled.sum(axis=1), 1.0)
    at_one = apply_temperature(probabilities, 1.0)
    assert at_one[0, 1] == pytest.approx(floor, rel=1e-6)  # the clipped zero, still tiny
    np.testing.assert_allclose(at_one, probabilities, atol=2 * floor)


def test_input_not_modified_and_inputs_accepted_as_torch_and_lists() -> None:
    labels, probabilities, _ = synthetic_model(60, 200, 3, 2.0)
    copy = probabilities.copy()
    fitted = fit_temperature(labels, probabilities)
    apply_temperature(probabilities, fitted)
    np.testing.assert_array_equal(probabilities, copy)
    from_torch = fit_temperature(torch.from_numpy(labels), torch.from_numpy(probabilities).float())
    assert from_torch == pytest.approx(fitted, rel=1e-4)
    assert fit_temperature(labels.tolist(), probabilities.tolist()) == pytest.approx(fitted, rel=1e-12)


def test_fit_at_a_bound_warns() -> None:
    # every validation example right and confident: the NLL keeps falling as T -> 0
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    with pytest.warns(RuntimeWarning, match="lower bound"):
        assert fit_temperature([0, 1, 0], probabilities) == pytest.approx(TEMPERATURE_BOUNDS[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fit inside the bounds does not warn
        fit_temperature([0, 1, 1], probabilities)


@pytest.mark.parametrize("call, message", [
    (lambda: fit_temperature([0, 1], np.full((3, 2), 0.5)), "mismatched lengths: validation_labels has 2"),
    (lambda: fit_temperature([0, 1, 1], np.array([0.2, 0.7, 0.9])), "1-D.*column_stack"),
    (lambda: apply_temperature(np.array([0.2, 0.7]), 1.5), "1-D"),
    (lambda: fit_temperature([0, 1], np.ones((2, 3, 1))), "shape"),
    (lambda: fit_temperature([0, 1], np.ones((2, 1))), "at least 2"),
    (lambda: fit_temperature([], np.empty((0, 2))), "no examples"),
    (lambda: fit_temperature([0, 2], np.array([[0.6, 0.4], [0.3, 0.7]])), "class index 2, outside 0..1"),
    (lambda: fit_temperature([-1, 0], np.array([[0.6, 0.4], [0.3, 0.7]])), "class index -1"),
    (lambda: fit_temperature(["neg", "pos"], np.array([[0.6, 0.4], [0.3, 0.7]])), "integer class indices"),
    (lambda: fit_temperature([0.5, 1.0], np.array([[0.6, 0.4], [0.3, 0.7]])), "integer class indices"),
    (lambda: fit_temperature([0, 1], np.array([[0.6, np.nan], [0.3, 0.7]])), "NaN"),
    (lambda: fit_temperature([0, 1], np.array([[2.0, -1.0], [0.3, 0.7]]), inputs="probabilities"), "not probabilities"),
    (lambda: fit_temperature([0, 1], np.array([[0.6, 0.4], [0.3, 0.7]]), inputs="softmax"), "inputs must be"),
    (lambda: fit_temperature([0, 1], np.full((2, 2), 0.5)), "constant"),
    (lambda: fit_temperature([0, 1], np.array([[0.6, 0.4], [0.3, 0.7]]), bounds=(2.0, 5.0)), "bounds"),
    (lambda: apply_temperature(np.array([[0.6, 0.4]]), 0.0), "positive"),
    (lambda: apply_temperature(np.array([[0.6, 0.4]]), -2.0), "positive"),
    (lambda: apply_temperature(np.array([[0.6, 0.4]]), float("nan")), "positive"),
    (lambda: apply_temperature(np.array([[0.6, 0.4]]), float("inf")), "positive"),
    (lambda: apply_temperature(np.array([[0.6, 0.4]]), "warm"), "positive number"),
    (lambda: negative_log_likelihood([0, 3], np.array([[0.6, 0.4], [0.3, 0.7]])), "class index 3"),
])
def test_bad_input_gets_a_clear_error(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_logits_in_unit_interval_need_explicit_inputs() -> None:
    # these rows look like probabilities; as logits they mean something else, and inputs="logits" says so
    scores = np.array([[0.9, 0.1], [0.4, 0.6]])
    as_probabilities = apply_temperature(scores, 1.0)
    as_logits = apply_temperature(scores, 1.0, inputs="logits")
    np.testing.assert_allclose(as_probabilities, scores, atol=1e-11)
    np.testing.assert_allclose(as_logits, torch.softmax(torch.tensor(scores), dim=1).numpy(), atol=1e-12)
