"""labkit.evaluation: metrics against scikit-learn, bootstrap coverage, paired tests, cost measurement,
clear errors; and the evaluation figures in labkit.viz. No test asserts a time."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy import stats
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from labkit import evaluation as ev
from labkit import viz

SEEDS = (0, 1, 2)


def _fake_model(seed: int, n: int, k: int, skill: float = 0.6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, probabilities (n, k) that lean to the right class, and their argmax predictions."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += skill * 3
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, prob, prob.argmax(axis=1)


# --- metrics equal scikit-learn --------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [2, 3, 5])
def test_label_metrics_equal_sklearn(seed: int, k: int) -> None:
    y, _, pred = _fake_model(seed, 257, k)
    assert ev.accuracy(y, pred) == pytest.approx(skm.accuracy_score(y, pred))
    averages = ["macro", "micro", "weighted"] + (["binary"] if k == 2 else [])
    for average in averages:
        for ours, theirs in ((ev.precision, skm.precision_score), (ev.recall, skm.recall_score),
                             (ev.f1, skm.f1_score)):
            assert ours(y, pred, average=average) == pytest.approx(
                theirs(y, pred, average=average, zero_division=0)), (ours.__name__, average)
    np.testing.assert_array_equal(ev.confusion_matrix(y, pred), skm.confusion_matrix(y, pred))
    np.testing.assert_allclose(ev.confusion_matrix(y, pred, normalize="true"),
                               skm.confusion_matrix(y, pred, normalize="true"))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [2, 3, 5])
def test_probability_metrics_equal_sklearn(seed: int, k: int) -> None:
    y, prob, _ = _fake_model(seed, 300, k, skill=0.3)
    if k == 2:
        expected_roc = skm.roc_auc_score(y, prob[:, 1])
        expected_pr = skm.average_precision_score(y, prob[:, 1])
        assert ev.roc_auc(y, prob) == pytest.approx(expected_roc)
        assert ev.roc_auc(y, prob[:, 1]) == pytest.approx(expected_roc)  # 1-D positive-class form
        assert ev.pr_auc(y, prob) == pytest.approx(expected_pr)
        assert ev.pr_auc(y, prob[:, 1]) == pytest.approx(expected_pr)
        return
    for average in ("macro", "weighted"):
        assert ev.roc_auc(y, prob, average=average) == pytest.approx(
            skm.roc_auc_score(y, prob, multi_class="ovr", average=average))
        onehot = np.eye(k)[y]
        assert ev.pr_auc(y, prob, average=average) == pytest.approx(
            skm.average_precision_score(onehot, prob, average=average))


def test_string_labels_and_column_order() -> None:
    y, prob, pred = _fake_model(4, 200, 3)
    names = np.array(["neg", "neu", "pos"])
    assert ev.f1(names[y], names[pred], average="macro") == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert ev.roc_auc(names[y], prob) == pytest.approx(skm.roc_auc_score(y, prob, multi_class="ovr"))
    # columns in a different order, told by labels=
    order = [2, 0, 1]
    assert ev.roc_auc(names[y], prob[:, order], labels=names[order]) == pytest.approx(ev.roc_auc(y, prob))
    # binary with string labels: the positive class is the last one
    yb, pb, predb = _fake_model(5, 200, 2)
    words = np.array(["bad", "good"])
    assert ev.f1(words[yb], words[predb], average="binary") == pytest.approx(skm.f1_score(yb, predb))
    assert ev.roc_auc(words[yb], pb[:, 1]) == pytest.approx(skm.roc_auc_score(yb, pb[:, 1]))


def _reference_ece(y: np.ndarray, prob: np.ndarray, n_bins: int) -> float:
    """ECE written out with a loop over equal-width bins (right-closed, 0 in the first bin)."""
    confidence = prob.max(axis=1)
    correct = prob.argmax(axis=1) == y
    total = 0.0
    for b in range(n_bins):
        low, high = b / n_bins, (b + 1) / n_bins
        inside = (confidence > low) & (confidence <= high) if b else (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return total


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [2, 4])
def test_calibration_bins_match_a_reference(seed: int, k: int) -> None:
    y, prob, _ = _fake_model(seed, 400, k, skill=0.4)
    for n_bins in (5, 15):
        bins = ev.calibration_bins(y, prob, n_bins=n_bins)
        assert bins.ece == pytest.approx(_reference_ece(y, prob, n_bins))
        assert bins.bin_count.sum() == 400 and bins.bin_edges.shape == (n_bins + 1,)
        filled = bins.bin_count > 0
        assert bins.mce == pytest.approx(np.max(np.abs(bins.bin_accuracy - bins.bin_confidence)[filled]))
        assert np.isnan(bins.bin_accuracy[~filled]).all()
    if k == 2:  # positive-class binning equals scikit-learn's calibration_curve (uniform bins)
        bins = ev.calibration_bins(y, prob[:, 1], n_bins=10, kind="positive")
        frac_pos, mean_pred = calibration_curve(y, prob[:, 1], n_bins=10, strategy="uniform")
        filled = bins.bin_count > 0
        np.testing.assert_allclose(bins.bin_accuracy[filled], frac_pos)
        np.testing.assert_allclose(bins.bin_confidence[filled], mean_pred)


def test_ece_near_zero_when_calibrated_and_large_when_overconfident() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    p_positive = rng.uniform(0, 1, n)
    y = (rng.uniform(0, 1, n) < p_positive).astype(int)  # outcomes drawn from the stated probabilities
    assert ev.expected_calibration_error(y, p_positive) < 0.02
    assert ev.expected_calibration_error(y, p_positive, kind="positive") < 0.02
    # overconfident: says 95-99% but is right 60% of the time
    k = 4
    y4 = rng.integers(0, k, n)
    right = rng.uniform(0, 1, n) < 0.6
    top = np.where(right, y4, (y4 + rng.integers(1, k, n)) % k)
    confidence = rng.uniform(0.95, 0.99, n)
    prob = np.full((n, k), 0.0)
    prob[:] = ((1 - confidence) / (k - 1))[:, None]
    prob[np.arange(n), top] = confidence
    ece = ev.expected_calibration_error(y4, prob)
    assert ece == pytest.approx(0.97 - 0.6, abs=0.03)


def test_classification_report_gathers_the_metrics() -> None:
    y, prob, pred = _fake_model(7, 300, 3)
    report = ev.classification_report(y, pred, prob)
    assert report["n_examples"] == 300 and report["labels"] == [0, 1, 2]
    assert report["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert report["f1_weighted"] == pytest.approx(skm.f1_score(y, pred, average="weighted"))
    assert report["roc_auc"] == pytest.approx(skm.roc_auc_score(y, prob, multi_class="ovr"))
    assert report["log_loss"] == pytest.approx(skm.log_loss(y, prob))
    assert report["ece"] == pytest.approx(ev.expected_calibration_error(y, prob))
    assert report["per_class"][1]["support"] == int(np.sum(y == 1))
    np.testing.assert_array_equal(report["confusion_matrix"], skm.confusion_matrix(y, pred))
    assert "f1" not in report  # binary-only keys are absent for 3 classes
    # y_pred from the probabilities; tidy frame
    assert ev.classification_report(y, None, prob)["accuracy"] == report["accuracy"]
    frame = ev.classification_report(y, pred, prob, as_frame=True)
    assert list(frame.columns) == ["metric", "value"]
    assert frame.set_index("metric").loc["f1_macro", "value"] == pytest.approx(report["f1_macro"])
    # binary, strings; an undefined AUC is NaN with a note rather than an exception
    words = np.array(["bad", "good"])
    yb, pb, predb = _fake_model(8, 100, 2)
    binary = ev.classification_report(words[yb], words[predb], pb[:, 1])
    assert binary["f1"] == pytest.approx(skm.f1_score(yb, predb))
    one_class = ev.classification_report(np.zeros(5, int), np.zeros(5, int), np.full(5, 0.2))
    assert np.isnan(one_class["roc_auc"]) and "roc_auc" in one_class["notes"][0]


# --- bootstrap ---------------------------------------------------------------------------------------


SKLEARN_METRICS = {
    "accuracy": (False, skm.accuracy_score),
    "f1_macro": (False, lambda t, p: skm.f1_score(t, p, average="macro", zero_division=0)),
    "precision_macro": (False, lambda t, p: skm.precision_score(t, p, average="macro", zero_division=0)),
    "recall_weighted": (False, lambda t, p: skm.recall_score(t, p, average="weighted", zero_division=0)),
    "f1_micro": (False, lambda t, p: skm.f1_score(t, p, average="micro", zero_division=0)),
}


@pytest.mark.parametrize("n", [12, 150])  # n=12 with 4 classes: resamples often lose a class
@pytest.mark.parametrize("metric", sorted(SKLEARN_METRICS))
def test_vectorised_bootstrap_equals_sklearn_on_each_resample(metric: str, n: int) -> None:
    y, _, pred = _fake_model(11, n, 4)
    fast = ev.bootstrap_ci(metric, y, pred, n_resamples=40, seed=5)
    slow = ev.bootstrap_ci(SKLEARN_METRICS[metric][1], y, pred, n_resamples=40, seed=5)
    np.testing.assert_allclose(fast.samples, slow.samples)
    assert (fast.low, fast.high) == pytest.approx((slow.low, slow.high))
    assert fast.estimate == pytest.approx(SKLEARN_METRICS[metric][1](y, pred))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
@pytest.mark.parametrize("k", [2, 3])
def test_vectorised_auc_and_ece_bootstrap_equal_the_scalar_metric(k: int) -> None:
    y, prob, _ = _fake_model(12, 120, k, skill=0.3)
    prob = np.round(prob, 2)  # ties in the scores
    prob = prob / prob.sum(axis=1, keepdims=True)

    def sk_roc(t: np.ndarray, p: np.ndarray) -> float:
        return skm.roc_auc_score(t, p[:, 1]) if k == 2 else skm.roc_auc_score(t, p, multi_class="ovr",
                                                                               labels=np.arange(k))

    def sk_pr(t: np.ndarray, p: np.ndarray) -> float:
        if len(np.unique(t)) < k:
            raise ValueError("a class is missing")
        return skm.average_precision_score(t, p[:, 1]) if k == 2 else \
            skm.average_precision_score(np.eye(k)[t], p)

    for name, reference in (("roc_auc", sk_roc), ("pr_auc", sk_pr), ("ece", ev.expected_calibration_error)):
        fast = ev.bootstrap_ci(name, y, prob, n_resamples=40, seed=2)
        slow = ev.bootstrap_ci(reference, y, prob, n_resamples=40, seed=2)
        np.testing.assert_allclose(fast.samples, slow.samples, err_msg=name)


def test_bootstrap_is_seeded_and_accepts_module_functions() -> None:
    y, prob, pred = _fake_model(3, 300, 2)
    a = ev.bootstrap_ci(ev.accuracy, y, pred, seed=1)
    b = ev.bootstrap_ci("accuracy", y, pred, seed=1)
    c = ev.bootstrap_ci("accuracy", y, pred, seed=2)
    assert a.metric == "accuracy" and np.array_equal(a.samples, b.samples)
    assert not np.array_equal(a.samples, c.samples)
    assert a.low <= a.estimate <= a.high and a.samples.shape == (1000,)
    assert "95% CI" in str(a)


def test_bootstrap_intervals_cover_the_true_accuracy_at_the_nominal_rate() -> None:
    rng = np.random.default_rng(2024)
    true_accuracy, n, simulations = 0.8, 200, 200

    def coverage(confidence: float) -> float:
        hits = 0
        for _ in range(simulations):
            y = rng.integers(0, 2, n)
            pred = np.where(rng.uniform(size=n) < true_accuracy, y, 1 - y)
            ci = ev.bootstrap_ci("accuracy", y, pred, n_resamples=300, confidence=confidence,
                                 seed=int(rng.integers(1 << 30)))
            hits += ci.low <= true_accuracy <= ci.high
        return hits / simulations

    # sd of a coverage estimate from 200 simulations is ~0.015 at 95%, ~0.035 at 50%
    assert 0.90 <= coverage(0.95) <= 0.99
    assert 0.38 <= coverage(0.50) <= 0.62


def test_bootstrap_intervals_cover_a_known_auc() -> None:
    rng = np.random.default_rng(7)
    separation, n, simulations = 1.0, 150, 100
    true_auc = stats.norm.cdf(separation / np.sqrt(2))  # binormal model
    hits = 0
    for _ in range(simulations):
        y = rng.integers(0, 2, n)
        score = stats.norm.cdf(rng.normal(size=n) + separation * y - separation / 2)
        ci = ev.bootstrap_ci("roc_auc", y, score, n_resamples=300, seed=int(rng.integers(1 << 30)))
        hits += ci.low <= true_auc <= ci.high
    assert 0.86 <= hits / simulations <= 1.0


def test_bootstrap_counts_resamples_where_the_metric_is_undefined() -> None:
    y = np.array([0, 0, 0, 0, 0, 0, 0, 1])
    score = np.linspace(0.1, 0.9, 8)
    with pytest.warns(RuntimeWarning, match="undefined"):
        ci = ev.bootstrap_ci("roc_auc", y, score, n_resamples=300, seed=0)
    assert 0 < ci.n_failed < 300 and not np.isnan(ci.low)


# --- paired comparisons -------------------------------------------------------------------------------


def _two_models(n: int, acc_a: float, acc_b: float, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    u = rng.uniform(size=n)  # shared difficulty: the models are correlated, as real ones are
    pred_a = np.where(u < acc_a, y, (y + 1) % 3)
    pred_b = np.where(u < acc_b, y, (y + 2) % 3)
    return y, pred_a, pred_b


def test_paired_bootstrap_detects_a_real_difference() -> None:
    y, pred_a, pred_b = _two_models(500, 0.70, 0.80, seed=0)
    result = ev.paired_bootstrap("accuracy", y, pred_a, pred_b, seed=0, name_a="tfidf", name_b="bert")
    assert result.difference == pytest.approx(ev.accuracy(y, pred_b) - ev.accuracy(y, pred_a))
    assert result.significant and result.low > 0 and result.p_value < 0.01
    assert result.verdict.startswith("bert") and "real" in result.verdict
    # the pairing makes the difference far more precise than two separate intervals suggest
    separate = ev.bootstrap_ci("accuracy", y, pred_a, seed=0)
    assert result.high - result.low < (separate.high - separate.low)
    # the other way round: negative difference, still real
    reverse = ev.paired_bootstrap("f1_macro", y, pred_b, pred_a, seed=0)
    assert reverse.significant and reverse.high < 0


def test_paired_bootstrap_finds_no_difference_between_identical_or_equal_models() -> None:
    y, pred_a, _ = _two_models(300, 0.75, 0.75, seed=1)
    same = ev.paired_bootstrap("accuracy", y, pred_a, pred_a.copy())
    assert not same.significant and same.p_value == 1.0 and same.low == same.high == 0.0
    assert same.verdict.startswith("No real difference")
    # two different models of the same true skill: usually no verdict of a difference
    rng = np.random.default_rng(3)
    calls = 0
    for _ in range(20):
        y = rng.integers(0, 2, 300)
        a = np.where(rng.uniform(size=300) < 0.75, y, 1 - y)
        b = np.where(rng.uniform(size=300) < 0.75, y, 1 - y)
        calls += ev.paired_bootstrap("accuracy", y, a, b, n_resamples=400,
                                     seed=int(rng.integers(1 << 30))).significant
    assert calls <= 4  # expected ~1 of 20 at the 95% level


def _mcnemar_reference(b: int, c: int, exact: bool) -> tuple[float, float]:
    """statsmodels' mcnemar written out: exact = binomial test, else (|b - c| - 1)^2 / (b + c)."""
    if exact:
        return float(min(b, c)), float(stats.binomtest(b, b + c, 0.5).pvalue)
    statistic = (abs(b - c) - 1) ** 2 / (b + c)
    return statistic, float(stats.chi2.sf(statistic, 1))


@pytest.mark.parametrize("b, c", [(3, 10), (0, 7), (12, 12), (1, 23), (30, 12), (121, 59), (40, 41)])
def test_mcnemar_equals_a_reference_computation(b: int, c: int) -> None:
    result = ev.mcnemar_from_counts(b, c)
    exact = b + c < 25
    assert result.method == ("exact binomial" if exact else "chi-square with continuity correction")
    statistic, p_value = _mcnemar_reference(b, c, exact)
    assert result.statistic == pytest.approx(statistic) and result.p_value == pytest.approx(p_value)
    # both forms on request
    for forced in (True, False):
        statistic, p_value = _mcnemar_reference(b, c, forced)
        assert ev.mcnemar_from_counts(b, c, exact=forced).p_value == pytest.approx(p_value)


def test_mcnemar_known_values_and_verdicts() -> None:
    # Wikipedia's example table (b=121, c=59): corrected chi-square 61^2/180, p ~ 5.5e-6
    result = ev.mcnemar_from_counts(121, 59, name_a="old", name_b="new")
    assert result.statistic == pytest.approx(61 ** 2 / 180)
    assert result.p_value == pytest.approx(5.45e-6, rel=0.02)
    assert result.significant and result.verdict.startswith("old is more accurate")
    # exact: 0 vs 6 discordant -> p = 2 / 2^6
    assert ev.mcnemar_from_counts(0, 6).p_value == pytest.approx(2 / 64)
    assert not ev.mcnemar_from_counts(2, 4).significant
    assert ev.mcnemar_from_counts(0, 0).p_value == 1.0
    # from predictions
    y = np.array([0, 1, 1, 0, 1, 0, 1, 1, 0, 0])
    a = np.array([0, 1, 1, 0, 1, 1, 0, 0, 1, 0])  # wrong on 5, 6, 7, 8
    b = np.array([0, 1, 0, 0, 1, 0, 1, 1, 0, 0])  # wrong on 2
    result = ev.mcnemar_test(y, a, b)
    assert (result.only_a_correct, result.only_b_correct, result.n_discordant) == (1, 4, 5)
    assert result.p_value == pytest.approx(stats.binomtest(1, 5, 0.5).pvalue)
    assert "No real difference" in result.verdict


# --- cost --------------------------------------------------------------------------------------------


def test_measure_latency_structure_on_a_trivial_callable() -> None:
    calls: list[int] = []

    def predict(batch: list[str]) -> list[str]:
        calls.append(len(batch))
        return list(batch)

    texts = [f"example {i}" for i in range(50)]
    one = ev.measure_latency(predict, texts, batch_size=1, warmup=2)
    assert one.n_batches == 50 and one.n_examples == 50 and len(calls) == 52
    assert 0 <= one.per_example_ms_p50 <= one.per_example_ms_p95
    assert one.per_batch_ms_p50 <= one.per_batch_ms_p95 and one.examples_per_second > 0
    calls.clear()
    batched = ev.measure_latency(predict, texts, batch_size=16, warmup=1, repeats=2)
    assert batched.n_batches == 8 and batched.n_examples == 100  # 4 batches (16, 16, 16, 2) twice
    assert calls == [16] + [16, 16, 16, 2] * 2
    capped = ev.measure_latency(predict, np.arange(100), batch_size=10, max_batches=3, warmup=0)
    assert capped.n_batches == 3 and capped.n_examples == 30
    table = ev.latency_table(predict, texts, batch_sizes=(1, 8))
    assert list(table["batch_size"]) == [1, 8]
    assert (table["per_example_ms_p50"] <= table["per_example_ms_p95"]).all()
    assert ev.throughput(predict, texts) > 0


def test_latency_with_a_torch_model_and_an_sklearn_pipeline() -> None:
    torch = pytest.importorskip("torch")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = torch.nn.Linear(8, 2)
    result = ev.measure_latency(lambda batch: model(batch), torch.randn(20, 8), batch_size=4)
    assert result.n_examples == 20
    texts = ["good film", "bad film", "great fun", "awful plot"] * 5
    pipeline = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(texts, [1, 0, 1, 0] * 5)
    assert ev.measure_latency(pipeline.predict, texts, batch_size=5).n_batches == 4


def test_latency_results_name_the_device_that_measured_them() -> None:
    import functools

    torch = pytest.importorskip("torch")
    from labkit.devices import default_device, describe_device

    texts = [f"example {i}" for i in range(12)]
    assert ev.measure_latency(len, texts, batch_size=4).device == describe_device(default_device())
    model = torch.nn.Linear(8, 2)  # a torch model is timed where it lives: here the CPU
    assert ev.measure_latency(model, torch.randn(12, 8), batch_size=4).device == describe_device("cpu")
    bound = functools.partial(lambda module, batch: module(batch), model)  # the model inside a partial
    assert ev.measure_latency(bound, torch.randn(12, 8), batch_size=4, device="cpu").n_examples == 12
    assert ev.measure_latency(bound, torch.randn(12, 8), batch_size=4).device == describe_device("cpu")
    explicit = ev.measure_latency(len, texts, batch_size=4, device="cpu")
    assert explicit.device == describe_device("cpu") and explicit.device.startswith("cpu")
    table = ev.latency_table(len, texts, batch_sizes=(1, 4), device="cpu")
    assert list(table.columns[:-1]) == [  # the columns as before, the device added last
        "batch_size", "n_batches", "n_examples", "warmup", "per_example_ms_p50", "per_example_ms_p95",
        "per_example_ms_mean", "per_batch_ms_p50", "per_batch_ms_p95", "examples_per_second", "total_seconds"]
    assert list(table["device"]) == [describe_device("cpu")] * 2


def test_latency_times_a_model_where_it_lives_not_on_the_default_device(monkeypatch: pytest.MonkeyPatch) -> None:
    import functools

    torch = pytest.importorskip("torch")
    monkeypatch.setenv("LABKIT_DEVICE", "meta")  # a default device no CPU model is on
    model = torch.nn.Linear(8, 2)
    for predict in (model, model.forward, functools.partial(lambda module, batch: module(batch), model)):
        assert ev.measure_latency(predict, torch.randn(6, 8), batch_size=3).device.startswith("cpu")
    assert ev.measure_latency(len, ["a", "b"]).device == "meta"  # a plain callable: the kit's default


def test_costs_import_without_scikit_learn() -> None:
    """Fine-tuning and pretraining count parameters through labkit.evaluation.costs: it must stay light."""
    import subprocess
    import sys

    code = ("import sys, labkit.evaluation.costs; from labkit.evaluation import count_parameters; "
            "print('sklearn' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_every_public_name_is_importable_from_the_package() -> None:
    import importlib

    for name in ev.__all__:
        assert getattr(ev, name) is not None, name
    from labkit.evaluation import _to_numpy  # used by labkit.calibration

    assert _to_numpy([1, 2]).tolist() == [1, 2]
    assert ev.f1 is importlib.import_module("labkit.evaluation.metrics").f1
    with pytest.raises(AttributeError, match="no attribute 'not_a_metric'"):
        ev.not_a_metric  # noqa: B018


def test_count_parameters_for_torch_and_sklearn() -> None:
    torch = pytest.importorskip("torch")
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = torch.nn.Sequential(torch.nn.Linear(10, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    assert ev.count_parameters(model) == ev.ParameterCount(59, 59)
    model[0].requires_grad_(False)
    count = ev.count_parameters(model)
    assert (count.total, count.trainable, count.frozen) == (59, 15, 44)
    tied = torch.nn.Sequential(torch.nn.Embedding(5, 3), torch.nn.Linear(3, 5, bias=False))
    tied[1].weight = tied[0].weight
    assert ev.count_parameters(tied).total == 15
    texts = ["good film", "bad film", "great fun", "awful plot"]
    pipeline = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(texts, [1, 0, 1, 0])
    vectorizer, classifier = pipeline.steps[0][1], pipeline.steps[1][1]
    expected = classifier.coef_.size + classifier.intercept_.size + vectorizer.idf_.size
    assert ev.count_parameters(pipeline).total == expected
    with pytest.raises(TypeError, match="torch module or a scikit-learn estimator"):
        ev.count_parameters(object())


def test_size_on_disk(tmp_path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "weights.bin").write_bytes(b"x" * 1000)
    (tmp_path / "model" / "sub").mkdir()
    (tmp_path / "model" / "sub" / "config.json").write_bytes(b"{}")
    assert ev.size_on_disk(tmp_path / "model") == 1002
    assert ev.size_on_disk(tmp_path / "model" / "weights.bin") == 1000
    assert ev.format_bytes(1536) == "1.5 KiB" and ev.format_bytes(12) == "12 B"
    with pytest.raises(FileNotFoundError):
        ev.size_on_disk(tmp_path / "missing")


def test_peak_memory_sees_an_allocation() -> None:
    def allocate(megabytes: int) -> float:
        block = np.ones(megabytes * 131_072)  # 8 bytes each: `megabytes` MiB, touched
        time.sleep(0.05)
        return float(block[-1])

    traced = ev.peak_memory(allocate, 8, method="tracemalloc")
    assert traced.result == 1.0 and traced.method == "tracemalloc"
    assert traced.increase_bytes >= 8 * 2**20
    rss = ev.peak_memory(allocate, 64)
    assert rss.method == "rss" and rss.n_samples >= 2 and rss.peak_bytes >= rss.baseline_bytes
    assert rss.increase_bytes > 32 * 2**20  # 64 MiB was touched; RSS must have seen most of it
    with pytest.raises(ValueError, match="rss"):
        ev.peak_memory(allocate, 1, method="valgrind")


def test_cpu_timer_measures_process_time() -> None:
    with ev.cpu_timer() as timing:
        sum(i * i for i in range(200_000))
    assert timing.cpu_seconds > 0 and timing.wall_seconds > 0
    assert "CPU" in str(timing)


# --- bad input -----------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
def test_bad_input_gives_clear_errors() -> None:
    y = np.array([0, 1, 1, 0])
    with pytest.raises(ValueError, match="mismatched lengths: y_true has 4, y_pred has 3"):
        ev.accuracy(y, [0, 1, 1])
    with pytest.raises(ValueError, match="y_true is empty"):
        ev.f1([], [])
    with pytest.raises(ValueError, match="must be 1-D.*probabilities"):
        ev.accuracy(y, np.full((4, 2), 0.5))
    with pytest.raises(ValueError, match="sums to"):
        ev.roc_auc(y, np.array([[0.5, 0.6]] * 4))
    with pytest.raises(ValueError, match="logits"):
        ev.roc_auc(y, np.array([[2.0, -1.0]] * 4))
    with pytest.raises(ValueError, match="y_prob has 3 rows"):
        ev.roc_auc(y, np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="at least 2"):
        ev.roc_auc(y, np.ones((4, 1)))
    with pytest.raises(ValueError, match="NaN"):
        ev.pr_auc(y, np.array([0.1, np.nan, 0.3, 0.4]))
    with pytest.raises(ValueError, match="both classes.*none of class 1"):
        ev.roc_auc([0, 0, 0], [0.2, 0.4, 0.9])
    with pytest.raises(ValueError, match="every class.*no examples of 2"):
        ev.roc_auc([0, 1, 0, 1], np.full((4, 3), 1 / 3))
    with pytest.raises(ValueError, match="which column"):
        ev.roc_auc(["a", "b", "a", "b"], np.full((4, 3), 1 / 3))
    with pytest.raises(ValueError, match="not among"):
        ev.roc_auc(["a", "b", "c"], np.full((3, 2), 0.5), labels=["a", "b"])
    with pytest.raises(ValueError, match="average='binary' needs at most two classes"):
        ev.f1([0, 1, 2], [0, 1, 2], average="binary")
    with pytest.raises(ValueError, match="average must be one of"):
        ev.precision(y, y, average="samples")
    with pytest.raises(ValueError, match="unknown metric 'auc'"):
        ev.bootstrap_ci("auc", y, y)
    with pytest.raises(ValueError, match="binary metric but there are 3 classes"):
        ev.bootstrap_ci("f1", [0, 1, 2], [0, 1, 2])
    with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
        ev.bootstrap_ci("accuracy", y, y, confidence=95)
    with pytest.raises(ValueError, match="mismatched lengths"):
        ev.paired_bootstrap("accuracy", y, y, y[:3])
    with pytest.raises(ValueError, match="mismatched lengths"):
        ev.mcnemar_test(y, y, y[:3])
    with pytest.raises(ValueError, match="inputs is empty"):
        ev.measure_latency(len, [])
    with pytest.raises(ValueError, match="undefined on every bootstrap resample"):
        ev.bootstrap_ci(lambda t, p: skm.roc_auc_score(t, p), [1, 1, 1], [0.2, 0.5, 0.9], n_resamples=20)


# --- figures ---------------------------------------------------------------------------------------------


def test_evaluation_figures() -> None:
    y, prob, pred = _fake_model(9, 200, 3)
    matrix = ev.confusion_matrix(y, pred)
    figure = viz.confusion_matrix_figure(matrix, ["neg", "neu", "pos"])
    assert isinstance(figure, Figure)
    np.testing.assert_array_equal(figure.axes[0].images[0].get_array(), matrix)
    normalised = viz.confusion_matrix_figure(matrix, normalize=True, colorbar=False)
    np.testing.assert_allclose(np.asarray(normalised.axes[0].images[0].get_array()).sum(axis=1), 1.0)
    host, axes = viz.new_grid(1, 3)
    assert viz.confusion_matrix_figure(matrix, ax=axes[0, 0], colorbar=False) is host
    assert viz.reliability_diagram(y, prob, ax=axes[0, 1]) is host
    bins = ev.calibration_bins(y, prob, n_bins=10)
    reliability = viz.reliability_diagram(calibration=bins)
    assert f"{bins.ece:.3f}" in reliability.axes[0].get_title()
    forest = viz.metric_forest_plot({"a": ev.bootstrap_ci("accuracy", y, pred, n_resamples=100),
                                     "b": (0.5, 0.4, 0.6)}, metric="accuracy", reference=1 / 3)
    assert [t.get_text() for t in forest.axes[0].get_yticklabels()] == ["a", "b"]
    with pytest.raises(ValueError, match="square"):
        viz.confusion_matrix_figure(np.ones((2, 3)))
    with pytest.raises(ValueError, match="outside its interval"):
        viz.metric_forest_plot({"a": (0.9, 0.1, 0.2)})
    with pytest.raises(ValueError, match="calibration="):
        viz.reliability_diagram(y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        viz.reliability_diagram(y, prob, n_bins=30)  # empty bins draw without warnings


def test_paired_bootstrap_on_probabilities_and_tensor_inputs() -> None:
    torch = pytest.importorskip("torch")
    y, prob, _ = _fake_model(13, 300, 2, skill=0.5)
    noise = np.random.default_rng(0).dirichlet([1, 1], 300)
    result = ev.paired_bootstrap("roc_auc", y, noise, torch.tensor(prob, dtype=torch.float32),
                                 n_resamples=300, name_a="noise", name_b="model")
    assert result.significant and result.verdict.startswith("model has the higher roc_auc")
    assert result.value_b == pytest.approx(skm.roc_auc_score(y, prob[:, 1]), abs=1e-6)


DEGENERATE_CASES = {
    "positive class absent from both": ([0, 0, 0], [0, 0, 0]),
    "positive class never predicted": ([0, 1, 1], [0, 0, 0]),
    "positive class predicted, never true": ([0, 0, 0], [1, 0, 1]),
    "every prediction wrong": ([0, 1, 0, 1], [1, 0, 1, 0]),
    "one class, all right": ([1, 1], [1, 1]),
}


@pytest.mark.parametrize("case", list(DEGENERATE_CASES))
@pytest.mark.parametrize("zero_division", [0.0, 1.0])
def test_precision_recall_f1_match_scikit_learn_on_degenerate_inputs(case: str, zero_division: float) -> None:
    import warnings

    import sklearn.metrics as skm

    y_true, y_pred = DEGENERATE_CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns about the zero division it is asked to handle
        for kind in ("precision", "recall", "f1"):
            for average in ("binary", "macro", "micro", "weighted"):
                ours = getattr(ev, kind)(y_true, y_pred, average=average, zero_division=zero_division)
                reference = getattr(skm, f"{kind}_score")(y_true, y_pred, average=average, zero_division=zero_division)
                assert ours == pytest.approx(reference), (kind, average)


@pytest.mark.parametrize("case", list(DEGENERATE_CASES))
def test_bootstrap_estimates_match_scikit_learn_on_degenerate_inputs(case: str) -> None:
    import warnings

    import sklearn.metrics as skm

    y_true, y_pred = DEGENERATE_CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kind in ("precision", "recall", "f1"):
            interval = ev.bootstrap_ci(kind, y_true, y_pred, n_resamples=200, seed=0)
            assert interval.estimate == pytest.approx(getattr(skm, f"{kind}_score")(y_true, y_pred, zero_division=0))
            assert interval.low <= interval.estimate <= interval.high


def test_binary_metric_with_one_string_class_asks_which_is_positive() -> None:
    with pytest.raises(ValueError, match="pass pos_label"):
        ev.f1(["neg", "neg"], ["neg", "neg"], average="binary")
    assert ev.f1(["neg", "neg"], ["neg", "neg"], average="binary", pos_label="pos", labels=["neg", "pos"]) == 0.0
