"""A metric on many bootstrap resamples at once: the engine behind :mod:`labkit.evaluation.resampling`.

A resample is a row of indices into the test set, ``(n_examples,)``; a chunk of them is an index array
``(n_resamples, n_examples)``. For the built-in metrics (:data:`METRICS`) all resamples of a chunk are
computed at once: confusion matrices ``(n_resamples, k, k)`` with one bincount, AUC / average precision
from per-example multiplicities (a weighted Mann-Whitney statistic), ECE from per-bin weighted sums. The
generic path (any callable) loops and calls the metric on each resample. Both see the same indices for
a seed, and each built-in agrees with its function in :mod:`labkit.evaluation.metrics` on every resample.

Letters: ``n`` examples, ``k`` classes, ``r`` resamples in a chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from labkit.errors import ConfigError
from labkit.evaluation.inputs import (
    _check_prob,
    _check_same_length,
    _labels_1d,
    _pos_label,
    _preview,
    _resolve_prob_labels,
    _to_numpy,
)
from labkit.evaluation.metrics import (
    _bin_index,
    _confidence_and_outcome,
    accuracy,
    expected_calibration_error,
    f1,
    pr_auc,
    precision,
    recall,
    roc_auc,
)

_CHUNK_ELEMENTS = 2_000_000  # indices held at once (16 MB of int64)


def _encode(*arrays: np.ndarray, labels: Sequence | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """``(classes (k,), [each array as class indices 0..k-1])``: ``labels`` in order, or all values sorted."""
    if labels is not None:
        classes = np.asarray(labels)
        index = {label: i for i, label in enumerate(classes.tolist())}
        try:
            return classes, [np.fromiter((index[v] for v in a.tolist()), np.int64, len(a)) for a in arrays]
        except KeyError as error:
            raise ValueError(f"label {error.args[0]!r} is not among labels ({_preview(classes)})") from None
    classes, inverse = np.unique(np.concatenate(arrays), return_inverse=True)
    out, start = [], 0
    for array in arrays:
        out.append(inverse[start:start + len(array)].astype(np.int64))
        start += len(array)
    return classes, out


def _confusions(true_codes: np.ndarray, pred_codes: np.ndarray, idx: np.ndarray, k: int) -> np.ndarray:
    """Confusion matrices ``(n_resamples, k, k)`` of the resamples ``idx`` ``(n_resamples, n)``."""
    rows = idx.shape[0]
    flat = (np.arange(rows)[:, None] * k + true_codes[idx]) * k + pred_codes[idx]
    return np.bincount(flat.ravel(), minlength=rows * k * k).reshape(rows, k, k)


def _safe_div(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``numerator / denominator``, 0 where the denominator is 0 (scikit-learn's ``zero_division=0``)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), 0.0)


def _prf_from_confusions(cm: np.ndarray, kind: str, average: str, all_labels: bool, pos: int | None) -> np.ndarray:
    """Precision, recall or F1 (``kind``) of each confusion matrix ``cm`` ``(r, k, k)``: ``(r,)``."""
    tp = np.diagonal(cm, axis1=1, axis2=2).astype(np.float64)
    support = cm.sum(axis=2).astype(np.float64)  # true counts per class
    predicted = cm.sum(axis=1).astype(np.float64)
    if kind == "precision":
        per_class = _safe_div(tp, predicted)
    elif kind == "recall":
        per_class = _safe_div(tp, support)
    else:
        per_class = _safe_div(2 * tp, support + predicted)
    if average == "binary":
        return per_class[:, pos]
    if average == "micro":
        return tp.sum(axis=1) / cm.sum(axis=(1, 2))
    if average == "weighted":
        return (per_class * support).sum(axis=1) / support.sum(axis=1)
    # macro: over the labels scikit-learn would use on that resample (those present in y_true or y_pred),
    # unless the caller fixed the label set
    present = np.ones_like(support, dtype=bool) if all_labels else (support + predicted) > 0
    return (per_class * present).sum(axis=1) / present.sum(axis=1)


def _multiplicities(idx: np.ndarray, n: int) -> np.ndarray:
    """How often each example is drawn in each resample of ``idx`` ``(r, n)``: ``(r, n)`` floats."""
    rows = idx.shape[0]
    flat = np.arange(rows)[:, None] * n + idx
    return np.bincount(flat.ravel(), minlength=rows * n).reshape(rows, n).astype(np.float64)


def _weighted_binary_auc(is_pos: np.ndarray, score: np.ndarray, weights: np.ndarray, kind: str) -> np.ndarray:
    """ROC-AUC or average precision of each resample, from multiplicities ``weights`` ``(r, n)``."""
    order = np.argsort(-score, kind="stable")  # descending score
    sorted_score = score[order]
    starts = np.flatnonzero(np.r_[True, sorted_score[1:] != sorted_score[:-1]])
    sorted_weights = weights[:, order]
    pos_w = sorted_weights * is_pos[order]
    neg_w = sorted_weights - pos_w
    pos_g = np.add.reduceat(pos_w, starts, axis=1)  # (r, groups), groups by descending distinct score
    neg_g = np.add.reduceat(neg_w, starts, axis=1)
    n_pos = pos_g.sum(axis=1)
    n_neg = neg_g.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        if kind == "roc_auc":
            # negatives scored strictly lower than a group = all negatives in later groups
            neg_below = n_neg[:, None] - np.cumsum(neg_g, axis=1)
            value = (pos_g * (neg_below + 0.5 * neg_g)).sum(axis=1) / (n_pos * n_neg)
            return np.where((n_pos > 0) & (n_neg > 0), value, np.nan)
        tp = np.cumsum(pos_g, axis=1)
        fp = np.cumsum(neg_g, axis=1)
        prec = _safe_div(tp, tp + fp)
        value = (pos_g * prec).sum(axis=1) / n_pos
        return np.where(n_pos > 0, value, np.nan)


def _auc_from_weights(codes: np.ndarray, prob: np.ndarray, weights: np.ndarray, kind: str) -> np.ndarray:
    """ROC-AUC or average precision (``kind``) of each resample, one-vs-rest macro for ``k > 2``: ``(r,)``."""
    k = prob.shape[1]
    if k == 2:
        return _weighted_binary_auc(codes == 1, prob[:, 1], weights, kind)
    per_class = np.stack([_weighted_binary_auc(codes == c, prob[:, c], weights, kind) for c in range(k)],
                         axis=1)
    # one-vs-rest macro average; a resample missing a class is undefined (NaN), as in roc_auc()
    return per_class.mean(axis=1)


@dataclass(frozen=True)
class _MetricSpec:
    """A built-in metric: its name, whether it takes probabilities, and the function for one sample."""

    name: str
    uses_prob: bool
    scalar: Callable[..., float]  # metric(y_true, y_x) on one (re)sample


def _builtin_spec(name: str) -> _MetricSpec | None:
    """The built-in metric called ``name`` (one of :data:`METRICS`), or ``None``."""
    if name == "accuracy":
        return _MetricSpec(name, False, lambda t, p, labels=None: accuracy(t, p))
    for kind, function in (("precision", precision), ("recall", recall), ("f1", f1)):
        if name == kind:
            return _MetricSpec(name, False, lambda t, p, labels=None, f=function: f(t, p, average="binary",
                                                                                   labels=labels))
        if name.startswith(kind + "_") and name[len(kind) + 1:] in ("macro", "micro", "weighted"):
            average = name[len(kind) + 1:]
            return _MetricSpec(name, False, lambda t, p, labels=None, f=function, a=average:
                               f(t, p, average=a, labels=labels))
    if name == "roc_auc":
        return _MetricSpec(name, True, roc_auc)
    if name == "pr_auc":
        return _MetricSpec(name, True, pr_auc)
    if name == "ece":
        return _MetricSpec(name, True, expected_calibration_error)
    return None


METRICS: tuple[str, ...] = (
    "accuracy", "precision", "recall", "f1",
    *(f"{kind}_{average}" for kind in ("precision", "recall", "f1") for average in ("macro", "micro", "weighted")),
    "roc_auc", "pr_auc", "ece",
)
"""Metric names :func:`bootstrap_ci` and :func:`paired_bootstrap` compute vectorised.
``precision`` / ``recall`` / ``f1`` alone mean the binary (positive-class) version; ``roc_auc`` and
``pr_auc`` are one-vs-rest macro averages for more than two classes; ``ece`` is top-label with 15 bins."""

_CALLABLE_NAMES = {accuracy: "accuracy", precision: "precision_macro", recall: "recall_macro",
                   f1: "f1_macro", roc_auc: "roc_auc", pr_auc: "pr_auc", expected_calibration_error: "ece"}


def _resolve_metric(metric: str | Callable[..., float]) -> tuple[str, _MetricSpec | None, Callable | None]:
    """``(display name, built-in spec or None, user callable or None)``."""
    if isinstance(metric, str):
        spec = _builtin_spec(metric)
        if spec is None:
            raise ConfigError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)} or pass a callable "
                              "metric(y_true, y_pred_or_prob) -> float")
        return metric, spec, None
    if not callable(metric):
        raise TypeError(f"metric must be a name or a callable, got {type(metric).__name__}")
    if metric in _CALLABLE_NAMES:
        name = _CALLABLE_NAMES[metric]
        return name, _builtin_spec(name), None
    return getattr(metric, "__name__", "metric"), None, metric


class _Resampler:
    """The resample indices for a seed, in chunks; identical every time it is iterated."""

    def __init__(self, n: int, n_resamples: int, seed: int | None) -> None:
        self.n, self.n_resamples = n, n_resamples
        self.seed = seed
        self.chunk = max(1, min(n_resamples, _CHUNK_ELEMENTS // max(n, 1)))

    def __iter__(self) -> Iterator[np.ndarray]:
        rng = np.random.default_rng(self.seed)
        done = 0
        while done < self.n_resamples:
            rows = min(self.chunk, self.n_resamples - done)
            yield rng.integers(0, self.n, size=(rows, self.n))
            done += rows


class _Prepared:
    """One model's predictions, checked and encoded once, evaluated on many resamples."""

    def __init__(self, name: str, spec: _MetricSpec | None, function: Callable | None, true: np.ndarray,
                 y_x: Any, labels: Sequence | None) -> None:
        self.name, self.spec, self.function, self.true = name, spec, function, true
        if function is not None:  # user callable: keep raw arrays
            x = _to_numpy(y_x)
            if x.ndim == 0 or len(x) != len(true):
                raise ValueError(f"mismatched lengths: y_true has {len(true)} examples but the predictions "
                                 f"have {x.shape[0] if x.ndim else 0}")
            self.x = x
            self.estimate = float(function(true, x))
            return
        assert spec is not None
        if spec.uses_prob:
            self.prob = _check_prob(y_x, len(true))
            self.labels, self.codes = _resolve_prob_labels(true, self.prob.shape[1], labels)
            if spec.name == "ece":
                confidence, outcome = _confidence_and_outcome(self.codes, self.prob, "top_label")
                self.bins = _bin_index(confidence, 15)
                self.conf, self.outcome = confidence, outcome
            self.estimate = float(spec.scalar(true, self.prob, labels=self.labels))
        else:
            pred = _labels_1d("y_pred", y_x)
            _check_same_length(y_true=true, y_pred=pred)
            self.labels, (self.codes, self.pred_codes) = _encode(true, pred, labels=labels)
            self.all_labels = labels is not None
            self.pos = None
            if spec.name in ("precision", "recall", "f1"):
                if len(self.labels) > 2:
                    raise ConfigError(f"{spec.name!r} is the binary metric but there are {len(self.labels)} "
                                      f"classes; use '{spec.name}_macro', '_micro' or '_weighted'")
                pos_label = _pos_label(self.labels, None)
                # the positive class may be absent from y_true and y_pred alike: it then scores 0 everywhere
                self.pos = self.labels.tolist().index(pos_label) if pos_label in self.labels.tolist() else None
            self.estimate = float(spec.scalar(true, pred, labels=labels))

    def on(self, idx: np.ndarray) -> np.ndarray:
        """The metric on each resample in ``idx`` ``(r, n)``: ``(r,)``, NaN where undefined."""
        if self.function is not None:
            out = np.empty(idx.shape[0])
            for row, sample in enumerate(idx):
                try:
                    out[row] = self.function(self.true[sample], self.x[sample])
                except ValueError:
                    out[row] = np.nan
            return out
        name = self.spec.name
        n = len(self.true)
        if name == "accuracy":
            return (self.codes == self.pred_codes)[idx].mean(axis=1)
        if not self.spec.uses_prob:
            kind, _, average = name.partition("_")
            if not average and self.pos is None:  # binary metric of a class that never occurs
                return np.zeros(idx.shape[0])
            cm = _confusions(self.codes, self.pred_codes, idx, len(self.labels))
            return _prf_from_confusions(cm, kind, average or "binary", self.all_labels, self.pos)
        weights = _multiplicities(idx, n)
        if name == "ece":
            onehot = np.eye(15)[self.bins]  # (n, 15)
            gaps = np.abs(weights @ (onehot * self.outcome[:, None]) - weights @ (onehot * self.conf[:, None]))
            return gaps.sum(axis=1) / n
        return _auc_from_weights(self.codes, self.prob, weights, name)

    def samples(self, resampler: _Resampler) -> np.ndarray:
        return np.concatenate([self.on(idx) for idx in resampler])

