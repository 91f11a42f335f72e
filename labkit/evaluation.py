"""Evaluate a classifier: metrics, their uncertainty, paired comparisons and what the model costs.

Three parts, each usable on its own:

* **metrics** -- accuracy, precision / recall / F1 (binary, macro, micro, weighted), the confusion
  matrix, ROC-AUC and PR-AUC (binary and one-vs-rest multiclass) and calibration (expected calibration
  error with the per-bin numbers a reliability diagram needs). Where scikit-learn has the metric we call
  it, so the numbers are scikit-learn's; we add input checks with plain-language errors.
  :func:`classification_report` gathers them in one dict (or a tidy ``pandas.DataFrame``).
* **uncertainty** -- :func:`bootstrap_ci` (percentile bootstrap for any metric, vectorised for the
  built-in ones), :func:`paired_bootstrap` and :func:`mcnemar_test` to say whether model B really beats
  model A on the same test set.
* **cost** -- :func:`count_parameters`, :func:`size_on_disk`, :func:`measure_latency` /
  :func:`latency_table` (p50/p95 per example, batch 1 and batched, throughput), :func:`peak_memory`
  and :func:`cpu_timer` (fine-tuning CPU time). These *measure*; nothing here asserts a time.

Shapes used throughout: ``y_true``, ``y_pred``: ``(n_examples,)`` class labels (ints or strings);
``y_prob``: ``(n_examples, n_classes)`` probabilities whose rows sum to 1, column ``j`` belonging to
class ``labels[j]``; for binary tasks ``y_prob`` may also be ``(n_examples,)``, the probability of the
positive class (``labels[1]``).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sklearn import metrics as skm

__all__ = [
    # metrics
    "accuracy", "precision", "recall", "f1", "confusion_matrix", "roc_auc", "pr_auc",
    "CalibrationBins", "calibration_bins", "expected_calibration_error", "classification_report",
    "METRICS",
    # uncertainty
    "BootstrapCI", "bootstrap_ci", "PairedBootstrapResult", "paired_bootstrap",
    "McNemarResult", "mcnemar_test", "mcnemar_from_counts", "MCNEMAR_EXACT_BELOW",
    # cost
    "ParameterCount", "count_parameters", "size_on_disk", "format_bytes", "LatencyResult",
    "measure_latency", "latency_table", "throughput", "MemoryResult", "peak_memory", "CPUTiming",
    "cpu_timer",
]

AVERAGES = ("binary", "macro", "micro", "weighted")
PROB_SUM_TOLERANCE = 1e-4  # |row sum - 1| allowed in y_prob (float32 softmax is well inside this)

# ----------------------------------------------------------------------------------------------------
# input checks
# ----------------------------------------------------------------------------------------------------


def _to_numpy(values: Any) -> np.ndarray:
    """A NumPy array from a list, array, pandas object or (CPU) torch tensor."""
    if hasattr(values, "detach") and hasattr(values, "cpu"):  # torch.Tensor, without importing torch
        values = values.detach().cpu().numpy()
    elif hasattr(values, "to_numpy"):  # pandas
        values = values.to_numpy()
    return np.asarray(values)


def _labels_1d(name: str, values: Any) -> np.ndarray:
    array = _to_numpy(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        hint = " (did you pass probabilities? use y_prob=, or take the argmax for y_pred)" \
            if array.ndim == 2 else ""
        raise ValueError(f"{name} must be 1-D, shape (n_examples,), got shape {array.shape}{hint}")
    if array.size == 0:
        raise ValueError(f"{name} is empty: a metric needs at least one example")
    return array


def _check_same_length(**arrays: np.ndarray) -> int:
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{name} has {length}" for name, length in lengths.items())
        raise ValueError(f"mismatched lengths: {described} examples; they must describe the same "
                         "examples in the same order")
    return next(iter(lengths.values()))


def _check_prob(y_prob: Any, n_examples: int | None = None) -> np.ndarray:
    """``y_prob`` as a float array ``(n, k)``, ``k >= 2``; a 1-D array becomes ``[1 - p, p]``."""
    prob = _to_numpy(y_prob)
    if prob.size == 0:
        raise ValueError("y_prob is empty: a metric needs at least one example")
    if not np.issubdtype(prob.dtype, np.number) or np.issubdtype(prob.dtype, np.complexfloating):
        raise ValueError(f"y_prob must hold numbers, got dtype {prob.dtype}")
    prob = prob.astype(np.float64)
    if prob.ndim == 1:
        prob = np.column_stack([1.0 - prob, prob])
        one_d = True
    elif prob.ndim == 2:
        one_d = False
        if prob.shape[1] < 2:
            raise ValueError(f"y_prob has shape {prob.shape}: give one column per class (at least 2), "
                             "or a 1-D array of positive-class probabilities for a binary task")
    else:
        raise ValueError(f"y_prob must be (n_examples, n_classes) or (n_examples,), got shape {prob.shape}")
    if n_examples is not None and prob.shape[0] != n_examples:
        raise ValueError(f"mismatched lengths: y_true has {n_examples} examples but y_prob has "
                         f"{prob.shape[0]} rows")
    if not np.all(np.isfinite(prob)):
        raise ValueError("y_prob contains NaN or infinite values")
    if prob.min() < 0.0 or prob.max() > 1.0:
        raise ValueError(f"y_prob must be probabilities in [0, 1], got values from {prob.min():.3g} to "
                         f"{prob.max():.3g}: did you pass logits? apply a softmax first")
    if not one_d:
        sums = prob.sum(axis=1)
        worst = int(np.argmax(np.abs(sums - 1.0)))
        if abs(sums[worst] - 1.0) > PROB_SUM_TOLERANCE:
            raise ValueError(f"each row of y_prob must sum to 1 (one probability per class); row {worst} "
                             f"sums to {sums[worst]:.6g}. Did you pass logits or a subset of the columns?")
    return prob


def _resolve_prob_labels(y_true: np.ndarray, n_classes: int, labels: Sequence | None) -> tuple[np.ndarray, np.ndarray]:
    """Which class each column of ``y_prob`` is: returns ``(labels (k,), y_true as column indices (n,))``.

    With ``labels`` given, column ``j`` is ``labels[j]``. Without, integer labels ``0..k-1`` are the
    column indices; otherwise the ``k`` distinct values of ``y_true``, sorted.
    """
    if labels is not None:
        label_array = _to_numpy(labels)
        if label_array.ndim != 1 or len(label_array) != n_classes:
            raise ValueError(f"labels has {label_array.size} entries but y_prob has {n_classes} columns: "
                             "give one label per column, in column order")
        if len(np.unique(label_array)) != len(label_array):
            raise ValueError("labels contains duplicates")
    else:
        present = np.unique(y_true)
        if (np.issubdtype(y_true.dtype, np.integer) or y_true.dtype == bool) and \
                present.min() >= 0 and present.max() < n_classes:
            label_array = np.arange(n_classes)
        elif len(present) == n_classes:
            label_array = present
        else:
            raise ValueError(f"cannot tell which column of y_prob belongs to which class: y_true has "
                             f"{len(present)} distinct labels ({_preview(present)}) and y_prob has "
                             f"{n_classes} columns. Pass labels=[...] in column order")
    index = {label: position for position, label in enumerate(label_array.tolist())}
    try:
        codes = np.fromiter((index[value] for value in y_true.tolist()), dtype=np.int64, count=len(y_true))
    except KeyError as error:
        raise ValueError(f"y_true contains the label {error.args[0]!r}, which is not among the classes of "
                         f"y_prob's columns ({_preview(label_array)})") from None
    return label_array, codes


def _preview(values: Sequence | np.ndarray, limit: int = 6) -> str:
    values = list(np.asarray(values).tolist())
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (", ..." if len(values) > limit else "")


def _pos_label(labels_present: np.ndarray, pos_label: Any) -> Any:
    """The positive class of a binary metric: ``pos_label`` if given; else, as scikit-learn, ``1`` for
    integer (or boolean) labels, even when 1 is absent from the data (the positive class is then never
    seen and precision, recall and F1 score ``zero_division``); else the last of the two labels in
    sorted order. With a single non-integer label there is no way to tell which class is positive."""
    if pos_label is not None:
        return pos_label
    values = labels_present.tolist()
    if all(isinstance(value, (bool, int, np.integer, np.bool_)) for value in values):
        return 1
    if len(values) < 2:
        raise ValueError(f"only one class ({_preview(values)}) is present, so the positive class is unknown: "
                         "pass pos_label= (or labels= with both classes)")
    return values[-1]


# ----------------------------------------------------------------------------------------------------
# classification metrics
# ----------------------------------------------------------------------------------------------------


def _check_pred(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    true = _labels_1d("y_true", y_true)
    pred = _labels_1d("y_pred", y_pred)
    _check_same_length(y_true=true, y_pred=pred)
    return true, pred


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of examples predicted correctly. ``y_true``, ``y_pred``: ``(n_examples,)``."""
    true, pred = _check_pred(y_true, y_pred)
    return float(skm.accuracy_score(true, pred))


def _prf(kind: str, y_true: Any, y_pred: Any, average: str, labels: Sequence | None,
         pos_label: Any, zero_division: float) -> float:
    true, pred = _check_pred(y_true, y_pred)
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")
    kwargs: dict[str, Any] = {"average": average, "zero_division": zero_division}
    if labels is not None:
        kwargs["labels"] = list(labels)
    if average == "binary":
        present = np.unique(np.concatenate([true, pred])) if labels is None else np.asarray(labels)
        if len(present) > 2:
            raise ValueError(f"average='binary' needs at most two classes, found {len(present)} "
                             f"({_preview(present)}); use 'macro', 'micro' or 'weighted'")
        kwargs["pos_label"] = _pos_label(present, pos_label)
        kwargs.pop("labels", None)
    function = {"precision": skm.precision_score, "recall": skm.recall_score, "f1": skm.f1_score}[kind]
    return float(function(true, pred, **kwargs))


def precision(y_true: Any, y_pred: Any, average: str = "macro", labels: Sequence | None = None,
              pos_label: Any = None, zero_division: float = 0.0) -> float:
    """Precision: of the examples predicted as a class, the fraction that are that class.

    ``y_true``, ``y_pred``: ``(n_examples,)``. ``average``: ``"binary"`` (the positive class only:
    ``pos_label``, by default ``1`` if it is a label, else the last label in sorted order), ``"macro"``
    (unweighted mean over classes), ``"micro"`` (from pooled counts; equals accuracy for single-label
    data) or ``"weighted"`` (mean weighted by each class's support). A class never predicted scores
    ``zero_division`` (0) instead of raising a warning.
    """
    return _prf("precision", y_true, y_pred, average, labels, pos_label, zero_division)


def recall(y_true: Any, y_pred: Any, average: str = "macro", labels: Sequence | None = None,
           pos_label: Any = None, zero_division: float = 0.0) -> float:
    """Recall: of the examples of a class, the fraction predicted as it. Arguments as :func:`precision`."""
    return _prf("recall", y_true, y_pred, average, labels, pos_label, zero_division)


def f1(y_true: Any, y_pred: Any, average: str = "macro", labels: Sequence | None = None,
       pos_label: Any = None, zero_division: float = 0.0) -> float:
    """F1, the harmonic mean of precision and recall. Arguments as :func:`precision`."""
    return _prf("f1", y_true, y_pred, average, labels, pos_label, zero_division)


def confusion_matrix(y_true: Any, y_pred: Any, labels: Sequence | None = None,
                     normalize: Literal["true", "pred", "all"] | None = None) -> np.ndarray:
    """Counts ``C[i, j]`` of examples of class ``labels[i]`` predicted as ``labels[j]``: ``(k, k)``.

    ``labels`` fixes the order (default: every label in ``y_true`` or ``y_pred``, sorted).
    ``normalize="true"`` divides each row by its class's count (rows are recalls), ``"pred"`` each column,
    ``"all"`` the whole matrix.
    """
    true, pred = _check_pred(y_true, y_pred)
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"normalize must be None, 'true', 'pred' or 'all', got {normalize!r}")
    return skm.confusion_matrix(true, pred, labels=None if labels is None else list(labels),
                                normalize=normalize)


def _check_classes_present(codes: np.ndarray, labels: np.ndarray, metric: str, need_negatives: bool) -> None:
    counts = np.bincount(codes, minlength=len(labels))
    if len(labels) == 2:
        missing = [labels[c] for c in range(2) if counts[c] == 0] if need_negatives else \
            ([labels[1]] if counts[1] == 0 else [])
        if missing:
            raise ValueError(f"{metric} needs examples of both classes in y_true, but there are none of "
                             f"class {missing[0].item() if hasattr(missing[0], 'item') else missing[0]!r} "
                             f"(only {_preview(labels[counts > 0])} present)")
        return
    absent = labels[counts == 0]
    if len(absent):
        raise ValueError(f"one-vs-rest {metric} needs every class in y_true, but there are no examples of "
                         f"{_preview(absent)}; drop those columns (and pass labels=) or use more data")


def roc_auc(y_true: Any, y_prob: Any, labels: Sequence | None = None,
            average: Literal["macro", "weighted", "micro"] = "macro") -> float:
    """Area under the ROC curve.

    ``y_true``: ``(n_examples,)``; ``y_prob``: ``(n_examples, n_classes)`` or, binary, ``(n_examples,)``
    positive-class probabilities. Binary: the AUC of the positive class (column 1). Multiclass:
    one-vs-rest AUC per class, averaged (``average``). Needs both classes (binary) or every class
    (multiclass) in ``y_true``.
    """
    true = _labels_1d("y_true", y_true)
    prob = _check_prob(y_prob, len(true))
    label_array, codes = _resolve_prob_labels(true, prob.shape[1], labels)
    _check_classes_present(codes, label_array, "ROC-AUC", need_negatives=True)
    if prob.shape[1] == 2:
        return float(skm.roc_auc_score(codes == 1, prob[:, 1]))
    if average not in ("macro", "weighted", "micro"):
        raise ValueError(f"average must be 'macro', 'weighted' or 'micro', got {average!r}")
    return float(skm.roc_auc_score(codes, prob, multi_class="ovr", average=average,
                                   labels=np.arange(prob.shape[1])))


def pr_auc(y_true: Any, y_prob: Any, labels: Sequence | None = None,
           average: Literal["macro", "weighted", "micro"] = "macro") -> float:
    """Area under the precision-recall curve, as scikit-learn's *average precision* (step-wise sum
    ``sum_n (R_n - R_{n-1}) P_n``, no interpolation).

    Shapes as :func:`roc_auc`. Binary: for the positive class. Multiclass: one-vs-rest per class,
    averaged. Needs positive examples of every class scored.
    """
    true = _labels_1d("y_true", y_true)
    prob = _check_prob(y_prob, len(true))
    label_array, codes = _resolve_prob_labels(true, prob.shape[1], labels)
    _check_classes_present(codes, label_array, "PR-AUC", need_negatives=False)
    if prob.shape[1] == 2:
        return float(skm.average_precision_score(codes == 1, prob[:, 1]))
    if average not in ("macro", "weighted", "micro"):
        raise ValueError(f"average must be 'macro', 'weighted' or 'micro', got {average!r}")
    onehot = np.eye(prob.shape[1], dtype=int)[codes]
    return float(skm.average_precision_score(onehot, prob, average=average))


@dataclass(frozen=True)
class CalibrationBins:
    """Calibration of predicted probabilities, binned: everything a reliability diagram needs.

    Arrays are ``(n_bins,)`` except ``bin_edges`` ``(n_bins + 1,)``. Empty bins have count 0 and
    NaN confidence / accuracy.
    """

    ece: float  #: expected calibration error: sum over bins of (count / n) * |accuracy - confidence|
    mce: float  #: maximum calibration error: the largest |accuracy - confidence| over non-empty bins
    bin_edges: np.ndarray
    bin_count: np.ndarray
    bin_confidence: np.ndarray  #: mean predicted probability in the bin
    bin_accuracy: np.ndarray  #: fraction correct (top_label) or fraction positive (positive) in the bin
    n_examples: int
    kind: str

    @property
    def n_bins(self) -> int:
        return len(self.bin_count)


def _confidence_and_outcome(codes: np.ndarray, prob: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    if kind == "top_label":
        return prob.max(axis=1), (prob.argmax(axis=1) == codes).astype(np.float64)
    if kind == "positive":
        if prob.shape[1] != 2:
            raise ValueError(f"kind='positive' is for binary tasks; y_prob has {prob.shape[1]} classes "
                             "(use kind='top_label')")
        return prob[:, 1], (codes == 1).astype(np.float64)
    raise ValueError(f"kind must be 'top_label' or 'positive', got {kind!r}")


def _bin_index(confidence: np.ndarray, n_bins: int) -> np.ndarray:
    """Equal-width bins on [0, 1], closed on the right: ``(0, 1/B], (1/B, 2/B], ...``; 0 goes in bin 0."""
    return np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)


def calibration_bins(y_true: Any, y_prob: Any, n_bins: int = 15, labels: Sequence | None = None,
                     kind: Literal["top_label", "positive"] = "top_label") -> CalibrationBins:
    """Bin predictions by confidence and compare confidence with accuracy in each bin.

    ``y_true``: ``(n_examples,)``; ``y_prob``: ``(n_examples, n_classes)`` or binary ``(n_examples,)``.

    * ``kind="top_label"`` (default; Guo et al. 2017): confidence is the highest class probability and
      the outcome is whether that class is right. Works for any number of classes.
    * ``kind="positive"`` (binary only; like ``sklearn.calibration.calibration_curve``): confidence is
      the positive-class probability and the outcome is whether the example is positive.

    Bins are ``n_bins`` **equal-width** intervals of [0, 1], closed on the right (``(0.8, 0.9]``); a
    confidence of exactly 0 goes in the first bin. ECE = sum over bins of ``count/n * |acc - conf|``;
    it is 0 for a perfectly calibrated model with infinite data, and has a small positive bias on finite
    data (roughly ``sqrt(n_bins / n)``).
    """
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int, got {n_bins!r}")
    true = _labels_1d("y_true", y_true)
    prob = _check_prob(y_prob, len(true))
    _, codes = _resolve_prob_labels(true, prob.shape[1], labels)
    confidence, outcome = _confidence_and_outcome(codes, prob, kind)
    bins = _bin_index(confidence, n_bins)
    count = np.bincount(bins, minlength=n_bins)
    sum_conf = np.bincount(bins, weights=confidence, minlength=n_bins)
    sum_outcome = np.bincount(bins, weights=outcome, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(count > 0, sum_conf / count, np.nan)
        mean_outcome = np.where(count > 0, sum_outcome / count, np.nan)
    gaps = np.abs(sum_outcome - sum_conf)
    ece = float(gaps.sum() / len(true))
    nonempty = count > 0
    mce = float(np.max(np.abs(mean_outcome[nonempty] - mean_conf[nonempty])))
    return CalibrationBins(ece=ece, mce=mce, bin_edges=np.linspace(0.0, 1.0, n_bins + 1), bin_count=count,
                           bin_confidence=mean_conf, bin_accuracy=mean_outcome, n_examples=len(true),
                           kind=kind)


def expected_calibration_error(y_true: Any, y_prob: Any, n_bins: int = 15, labels: Sequence | None = None,
                               kind: Literal["top_label", "positive"] = "top_label") -> float:
    """Expected calibration error (equal-width bins; see :func:`calibration_bins`). In [0, 1]."""
    return calibration_bins(y_true, y_prob, n_bins=n_bins, labels=labels, kind=kind).ece


def classification_report(y_true: Any, y_pred: Any = None, y_prob: Any = None,
                          labels: Sequence | None = None, n_bins: int = 15,
                          as_frame: bool = False) -> dict[str, Any] | Any:
    """Every metric above for one model on one test set.

    ``y_true``: ``(n_examples,)``; ``y_pred``: ``(n_examples,)`` or ``None`` (then the argmax of
    ``y_prob``); ``y_prob``: ``(n_examples, n_classes)`` / binary ``(n_examples,)`` or ``None`` (then no
    AUC or calibration). ``labels``: the class order (and ``y_prob``'s column order).

    Returns a dict: ``n_examples``, ``n_classes``, ``labels``, ``accuracy``, ``precision_macro``,
    ``recall_macro``, ``f1_macro`` and the ``_micro`` / ``_weighted`` versions; for two classes also
    ``precision``, ``recall``, ``f1`` of the positive class (``labels[1]``); ``confusion_matrix``
    ``(k, k)``; ``per_class`` (``{label: {precision, recall, f1, support}}``); with ``y_prob`` also
    ``roc_auc``, ``pr_auc``, ``ece``, ``log_loss`` and ``brier`` (mean squared error of the probability
    vector). A metric that is undefined on this data (e.g. AUC with one class present) is NaN and the
    reason is in ``notes``. ``as_frame=True`` returns the scalar metrics as a tidy DataFrame
    (columns ``metric``, ``value``).
    """
    true = _labels_1d("y_true", y_true)
    prob = None
    notes: list[str] = []
    if y_prob is not None:
        prob = _check_prob(y_prob, len(true))
        label_array, codes = _resolve_prob_labels(true, prob.shape[1], labels)
        if y_pred is None:
            y_pred = label_array[prob.argmax(axis=1)]
    elif y_pred is None:
        raise ValueError("classification_report needs y_pred, y_prob or both")
    pred = _labels_1d("y_pred", y_pred)
    _check_same_length(y_true=true, y_pred=pred)
    if prob is None:
        label_array = np.asarray(labels) if labels is not None else np.unique(np.concatenate([true, pred]))
    label_list = label_array.tolist()
    report: dict[str, Any] = {"n_examples": len(true), "n_classes": len(label_list), "labels": label_list,
                              "accuracy": accuracy(true, pred)}
    for average in ("macro", "micro", "weighted"):
        for name, function in (("precision", precision), ("recall", recall), ("f1", f1)):
            report[f"{name}_{average}"] = function(true, pred, average=average, labels=label_list)
    if len(label_list) == 2:
        for name, function in (("precision", precision), ("recall", recall), ("f1", f1)):
            report[name] = function(true, pred, average="binary", pos_label=label_list[1])
    report["confusion_matrix"] = confusion_matrix(true, pred, labels=label_list)
    p, r, f, s = skm.precision_recall_fscore_support(true, pred, labels=label_list, zero_division=0)
    report["per_class"] = {label: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]),
                                   "support": int(s[i])} for i, label in enumerate(label_list)}
    if prob is not None:
        for key, function in (("roc_auc", roc_auc), ("pr_auc", pr_auc)):
            try:
                report[key] = function(true, prob, labels=label_list)
            except ValueError as error:
                report[key] = float("nan")
                notes.append(f"{key}: {error}")
        report["ece"] = expected_calibration_error(true, prob, n_bins=n_bins, labels=label_list)
        clipped = np.clip(prob[np.arange(len(codes)), codes], 1e-15, 1.0)
        report["log_loss"] = float(-np.mean(np.log(clipped)))
        onehot = np.eye(prob.shape[1])[codes]
        report["brier"] = float(np.mean(np.sum((prob - onehot) ** 2, axis=1)))
    report["notes"] = notes
    if as_frame:
        import pandas as pd

        rows = [(key, float(value)) for key, value in report.items()
                if isinstance(value, (int, float, np.number)) and not isinstance(value, bool)]
        return pd.DataFrame(rows, columns=["metric", "value"])
    return report


# ----------------------------------------------------------------------------------------------------
# bootstrap: vectorised metrics on resampled index arrays
# ----------------------------------------------------------------------------------------------------
#
# A resample is a row of indices into the test set. For the built-in metrics we compute all resamples
# of a chunk at once: confusion matrices with one bincount, AUC / average precision from per-example
# multiplicities (a weighted Mann-Whitney statistic), ECE from per-bin weighted sums. The generic path
# (any callable) loops and calls the metric on each resample. Both see the same indices for a seed.

_CHUNK_ELEMENTS = 2_000_000  # indices held at once (16 MB of int64)


def _encode(*arrays: np.ndarray, labels: Sequence | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
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
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), 0.0)


def _prf_from_confusions(cm: np.ndarray, kind: str, average: str, all_labels: bool, pos: int | None) -> np.ndarray:
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
    rows = idx.shape[0]
    flat = np.arange(rows)[:, None] * n + idx
    return np.bincount(flat.ravel(), minlength=rows * n).reshape(rows, n).astype(np.float64)


def _weighted_binary_auc(is_pos: np.ndarray, score: np.ndarray, weights: np.ndarray, kind: str) -> np.ndarray:
    """ROC-AUC or average precision of each resample, from multiplicities ``weights`` ``(r, n)``."""
    order = np.argsort(-score, kind="stable")  # descending score
    sorted_score = score[order]
    starts = np.flatnonzero(np.r_[True, sorted_score[1:] != sorted_score[:-1]])
    w = weights[:, order]
    pos_w = w * is_pos[order]
    neg_w = w - pos_w
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
    k = prob.shape[1]
    if k == 2:
        return _weighted_binary_auc(codes == 1, prob[:, 1], weights, kind)
    per_class = np.stack([_weighted_binary_auc(codes == c, prob[:, c], weights, kind) for c in range(k)],
                         axis=1)
    # one-vs-rest macro average; a resample missing a class is undefined (NaN), as in roc_auc()
    return per_class.mean(axis=1)


@dataclass(frozen=True)
class _MetricSpec:
    name: str
    uses_prob: bool
    scalar: Callable[..., float]  # metric(y_true, y_x) on one (re)sample


def _builtin_spec(name: str) -> _MetricSpec | None:
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
            raise ValueError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)} or pass a callable "
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
                    raise ValueError(f"{spec.name!r} is the binary metric but there are {len(self.labels)} "
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


def _check_bootstrap_args(n_resamples: int, confidence: float) -> None:
    if not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive int, got {n_resamples!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}")


def _percentiles(samples: np.ndarray, confidence: float, what: str) -> tuple[float, float, int]:
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
    milliseconds), one of this module's metric functions (mapped to its name, default arguments), or any
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
    differences ``<= 0`` and ``>= 0``, capped at 1 (so identical models get 1). The difference is called real (``significant``) when the ``confidence`` interval excludes 0.
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
    p_text = f"p ~ {p_value:.3f}" if p_value >= 0.001 else "p < 0.001"
    level = f"{confidence:.0%}"
    interval = f"{level} CI of {name_b} - {name_a}: {low:+.3f} to {high:+.3f}"
    if significant:
        better, worse = (name_b, name_a) if difference > 0 else (name_a, name_b)
        verdict = (f"{better} has the higher {name} ({max(a.estimate, b.estimate):.3f} vs "
                   f"{min(a.estimate, b.estimate):.3f}) and the difference is real at the {level} level: "
                   f"the {interval} excludes 0 (bootstrap {p_text}).")
    else:
        verdict = (f"No real difference in {name} at the {level} level: {name_a} {a.estimate:.3f}, "
                   f"{name_b} {b.estimate:.3f}; the {interval} includes 0 (bootstrap {p_text}), "
                   "so the gap could be chance on a test set this size.")
    return PairedBootstrapResult(name, name_a, name_b, a.estimate, b.estimate, difference, low, high,
                                 p_value, confidence, n_resamples, significant, verdict, differences)


# ----------------------------------------------------------------------------------------------------
# McNemar's test
# ----------------------------------------------------------------------------------------------------

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
        raise ValueError(f"alpha must be between 0 and 1 (e.g. 0.05), got {alpha!r}")
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
    a = _labels_1d("pred_a", pred_a)
    b = _labels_1d("pred_b", pred_b)
    _check_same_length(y_true=true, pred_a=a, pred_b=b)
    right_a, right_b = a == true, b == true
    return mcnemar_from_counts(int(np.sum(right_a & ~right_b)), int(np.sum(~right_a & right_b)), alpha=alpha,
                               exact=exact, name_a=name_a, name_b=name_b)


# ----------------------------------------------------------------------------------------------------
# cost: parameters, disk, latency, throughput, memory, CPU time
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParameterCount:
    """Numbers of learned parameters."""

    total: int
    trainable: int

    @property
    def frozen(self) -> int:
        return self.total - self.trainable

    def __str__(self) -> str:
        return f"{self.total:,} parameters ({self.trainable:,} trainable)"


def count_parameters(model: Any) -> ParameterCount:
    """Count a model's parameters.

    * a torch ``nn.Module`` (or anything with ``.parameters()`` yielding tensors): the sum of
      ``numel()``; trainable = those with ``requires_grad``. Shared (tied) tensors count once.
    * a fitted scikit-learn estimator or ``Pipeline``: every fitted floating-point array attribute
      (names ending in ``_``, e.g. ``coef_``, ``intercept_``, ``idf_``) of each step; all trainable.
      A vocabulary (a dict) is not counted.
    """
    if hasattr(model, "parameters") and callable(model.parameters):
        seen: set[int] = set()
        total = trainable = 0
        for parameter in model.parameters():
            key = id(parameter)
            if key in seen:
                continue
            seen.add(key)
            count = int(parameter.numel())
            total += count
            if getattr(parameter, "requires_grad", False):
                trainable += count
        return ParameterCount(total, trainable)
    steps = [step for _, step in model.steps] if hasattr(model, "steps") else [model]
    if not any(hasattr(step, "get_params") for step in steps):
        raise TypeError(f"count_parameters takes a torch module or a scikit-learn estimator, got "
                        f"{type(model).__name__}")
    total = 0
    for step in steps:
        if step is None or isinstance(step, str):  # None / "passthrough"
            continue
        for attribute in dir(step):  # dir(), not vars(): some fitted arrays are properties (idf_)
            if not attribute.endswith("_") or attribute.startswith("_"):
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    value = getattr(step, attribute)
                except Exception:  # an unfitted or deprecated attribute
                    continue
            if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
                total += value.size
            elif hasattr(value, "nnz") and np.issubdtype(value.dtype, np.floating):  # sparse coef_
                total += int(np.prod(value.shape))
    return ParameterCount(total, total)


def size_on_disk(path: str | Path) -> int:
    """Bytes a saved model takes: a file's size, or the sum over all files under a folder.

    Symbolic links are not followed (a linked file counts as the link itself).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no file or folder at {path}")
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            total += os.lstat(os.path.join(root, name)).st_size
    return total


def format_bytes(n_bytes: float) -> str:
    """``1536 -> '1.5 KiB'``."""
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover


@dataclass(frozen=True)
class LatencyResult:
    """Inference latency of one batch size, from ``time.perf_counter`` around each call."""

    batch_size: int
    n_batches: int  #: timed calls (after warmup)
    n_examples: int  #: examples in the timed calls
    warmup: int  #: untimed calls made first
    per_example_ms_p50: float  #: median over calls of (call time / examples in the call)
    per_example_ms_p95: float
    per_example_ms_mean: float
    per_batch_ms_p50: float
    per_batch_ms_p95: float
    examples_per_second: float  #: n_examples / total timed seconds
    total_seconds: float

    def as_dict(self) -> dict[str, float | int]:
        return dict(vars(self))


def _slice(inputs: Any, start: int, stop: int) -> Any:
    if hasattr(inputs, "iloc"):
        return inputs.iloc[start:stop]
    return inputs[start:stop]


def _inference_context() -> contextlib.AbstractContextManager:
    torch = sys.modules.get("torch")
    return torch.inference_mode() if torch is not None else contextlib.nullcontext()


def measure_latency(predict: Callable[[Any], Any], inputs: Any, batch_size: int = 1, warmup: int = 3,
                    max_batches: int | None = None, repeats: int = 1) -> LatencyResult:
    """Time ``predict(batch)`` over consecutive batches of ``inputs``.

    ``predict``: any callable taking a batch (a slice of ``inputs``): a torch model wrapped with its
    tokenizer, ``pipeline.predict``, ...; its return value is ignored. ``inputs``: a sliceable sequence
    with ``len`` (list of texts, array, tensor, pandas object), ``(n_examples, ...)``. The first
    ``warmup`` batches are run untimed (caches, lazy initialisation, allocator); then up to
    ``max_batches`` batches (all by default) are timed one call each, ``repeats`` times over. If torch is
    imported, calls run under ``torch.inference_mode()``. Results depend on the machine and its load:
    compare models measured in the same process, never assert a time.
    """
    if not callable(predict):
        raise TypeError("predict must be a callable taking a batch of inputs")
    n = len(inputs)
    if n == 0:
        raise ValueError("inputs is empty: need at least one example to time")
    if batch_size < 1 or warmup < 0 or repeats < 1:
        raise ValueError(f"need batch_size >= 1, warmup >= 0 and repeats >= 1, got {batch_size}, {warmup}, "
                         f"{repeats}")
    starts = list(range(0, n, batch_size))
    if max_batches is not None:
        if max_batches < 1:
            raise ValueError(f"max_batches must be >= 1, got {max_batches}")
        starts = starts[:max_batches]
    batches = [_slice(inputs, start, min(start + batch_size, n)) for start in starts]
    sizes = np.array([min(start + batch_size, n) - start for start in starts], dtype=np.float64)
    times: list[float] = []
    with _inference_context():
        for i in range(warmup):
            predict(batches[i % len(batches)])
        for _ in range(repeats):
            for batch in batches:
                begin = time.perf_counter()
                predict(batch)
                times.append(time.perf_counter() - begin)
    seconds = np.array(times)
    all_sizes = np.tile(sizes, repeats)
    per_example_ms = seconds / all_sizes * 1000.0
    total = float(seconds.sum())
    return LatencyResult(
        batch_size=batch_size, n_batches=len(seconds), n_examples=int(all_sizes.sum()), warmup=warmup,
        per_example_ms_p50=float(np.percentile(per_example_ms, 50)),
        per_example_ms_p95=float(np.percentile(per_example_ms, 95)),
        per_example_ms_mean=float(per_example_ms.mean()),
        per_batch_ms_p50=float(np.percentile(seconds * 1000.0, 50)),
        per_batch_ms_p95=float(np.percentile(seconds * 1000.0, 95)),
        examples_per_second=float(all_sizes.sum() / total) if total > 0 else float("inf"),
        total_seconds=total)


def latency_table(predict: Callable[[Any], Any], inputs: Any, batch_sizes: Sequence[int] = (1, 32),
                  warmup: int = 3, max_batches: int | None = None, repeats: int = 1) -> Any:
    """:func:`measure_latency` for each batch size, as a ``pandas.DataFrame`` with one row per size."""
    import pandas as pd

    rows = [measure_latency(predict, inputs, batch_size=size, warmup=warmup, max_batches=max_batches,
                            repeats=repeats).as_dict() for size in batch_sizes]
    return pd.DataFrame(rows)


def throughput(predict: Callable[[Any], Any], inputs: Any, batch_size: int = 32, warmup: int = 1,
               max_batches: int | None = None) -> float:
    """Examples per second when ``predict`` runs over ``inputs`` in batches of ``batch_size``."""
    return measure_latency(predict, inputs, batch_size=batch_size, warmup=warmup,
                           max_batches=max_batches).examples_per_second


@dataclass(frozen=True)
class MemoryResult:
    """Peak memory while a callable ran."""

    method: str  #: "rss" or "tracemalloc"
    baseline_bytes: int  #: before the call (RSS, or traced Python memory)
    peak_bytes: int  #: the highest value seen during the call
    n_samples: int  #: RSS readings taken (rss method); 0 for tracemalloc
    result: Any = field(repr=False, default=None)  #: what the callable returned

    @property
    def increase_bytes(self) -> int:
        """Peak minus baseline: what the call added at its highest point."""
        return max(0, self.peak_bytes - self.baseline_bytes)

    def __str__(self) -> str:
        return (f"peak {format_bytes(self.peak_bytes)} ({self.method}), "
                f"+{format_bytes(self.increase_bytes)} over the baseline")


def peak_memory(function: Callable[..., Any], *args: Any, method: Literal["rss", "tracemalloc"] = "rss",
                interval_s: float = 0.002, **kwargs: Any) -> MemoryResult:
    """Run ``function(*args, **kwargs)`` and report the peak memory it reached.

    * ``method="rss"`` (default): a background thread reads the process's resident set size with
      ``psutil`` every ``interval_s`` seconds. Sees everything (torch tensors, NumPy, C libraries) but:
      it is the **whole process** (other threads count too); a spike shorter than the interval can be
      missed; memory freed earlier but kept by the allocator is already in the baseline, so the increase
      can under-state what the call needs in a fresh process.
    * ``method="tracemalloc"``: Python's allocation tracer; exact for memory allocated through Python's
      allocators (Python objects, NumPy arrays) but **blind to torch tensors** and other C/C++
      allocations, and it slows the call down. The peak is reset at the start.

    Returns a :class:`MemoryResult` (the callable's return value is in ``.result``).
    """
    if not callable(function):
        raise TypeError("peak_memory needs a callable")
    if method == "tracemalloc":
        started_here = not tracemalloc.is_tracing()
        if started_here:
            tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            baseline, _ = tracemalloc.get_traced_memory()
            result = function(*args, **kwargs)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            if started_here:
                tracemalloc.stop()
        return MemoryResult("tracemalloc", int(baseline), int(peak), 0, result)
    if method != "rss":
        raise ValueError(f"method must be 'rss' or 'tracemalloc', got {method!r}")
    import psutil

    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = [baseline]
    readings = [1]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            rss = process.memory_info().rss
            readings[0] += 1
            if rss > peak[0]:
                peak[0] = rss
            stop.wait(interval_s)

    thread = threading.Thread(target=sample, name="labkit-peak-memory", daemon=True)
    thread.start()
    try:
        result = function(*args, **kwargs)
    finally:
        stop.set()
        thread.join()
    final = process.memory_info().rss
    return MemoryResult("rss", int(baseline), int(max(peak[0], final)), readings[0] + 1, result)


@dataclass
class CPUTiming:
    """Filled in when a :func:`cpu_timer` block ends."""

    cpu_seconds: float = math.nan  #: process CPU time (all threads of this process, user + system)
    wall_seconds: float = math.nan

    @property
    def cores_used(self) -> float:
        """Average number of cores busy: CPU time / wall time."""
        return self.cpu_seconds / self.wall_seconds if self.wall_seconds > 0 else math.nan

    def __str__(self) -> str:
        return (f"{self.cpu_seconds:.3g} s CPU in {self.wall_seconds:.3g} s wall "
                f"({self.cores_used:.2g} cores on average)")


@contextlib.contextmanager
def cpu_timer() -> Iterator[CPUTiming]:
    """Time a block (e.g. fine-tuning) in CPU seconds and wall seconds::

        with cpu_timer() as timing:
            trainer.train()
        print(timing.cpu_seconds)

    CPU time is ``time.process_time()``: every thread of this process, user plus system, so with 2
    threads busy it runs about twice as fast as the wall clock; child processes (e.g. DataLoader workers)
    are **not** included.
    """
    timing = CPUTiming()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        yield timing
    finally:
        timing.cpu_seconds = time.process_time() - cpu0
        timing.wall_seconds = time.perf_counter() - wall0
