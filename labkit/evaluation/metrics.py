"""Classification metrics: accuracy, precision / recall / F1, the confusion matrix, ROC-AUC, PR-AUC,
calibration, and :func:`classification_report`, which gathers them for one model on one test set.

Where scikit-learn has the metric we call it, so the numbers are scikit-learn's; we add input checks
with plain-language errors (:mod:`labkit.evaluation.inputs`). Calibration is binned by hand
(:func:`calibration_bins`: expected calibration error with the per-bin numbers a reliability diagram
needs).

Shapes: ``y_true``, ``y_pred``: ``(n_examples,)`` class labels (ints or strings); ``y_prob``:
``(n_examples, n_classes)`` probabilities whose rows sum to 1, column ``j`` belonging to class
``labels[j]``; for binary tasks ``y_prob`` may also be ``(n_examples,)``, the probability of the
positive class (``labels[1]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from sklearn import metrics as skm

from labkit.errors import ConfigError
from labkit.evaluation.inputs import (
    _check_pred,
    _check_prob,
    _check_same_length,
    _labels_1d,
    _pos_label,
    _preview,
    _resolve_prob_labels,
)

AVERAGES = ("binary", "macro", "micro", "weighted")


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of examples predicted correctly. ``y_true``, ``y_pred``: ``(n_examples,)``."""
    true, pred = _check_pred(y_true, y_pred)
    return float(skm.accuracy_score(true, pred))


def _prf(kind: str, y_true: Any, y_pred: Any, average: str, labels: Sequence | None,
         pos_label: Any, zero_division: float) -> float:
    true, pred = _check_pred(y_true, y_pred)
    if average not in AVERAGES:
        raise ConfigError(f"average must be one of {AVERAGES}, got {average!r}")
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
        raise ConfigError(f"normalize must be None, 'true', 'pred' or 'all', got {normalize!r}")
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
        raise ConfigError(f"average must be 'macro', 'weighted' or 'micro', got {average!r}")
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
        raise ConfigError(f"average must be 'macro', 'weighted' or 'micro', got {average!r}")
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
    raise ConfigError(f"kind must be 'top_label' or 'positive', got {kind!r}")


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
        raise ConfigError(f"n_bins must be a positive int, got {n_bins!r}")
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
    prob = codes = None
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
                              **_label_metrics(true, pred, label_list)}
    notes: list[str] = []
    if prob is not None:
        report.update(_probability_metrics(true, prob, codes, label_list, n_bins, notes))
    report["notes"] = notes
    if as_frame:
        import pandas as pd

        rows = [(key, float(value)) for key, value in report.items()
                if isinstance(value, (int, float, np.number)) and not isinstance(value, bool)]
        return pd.DataFrame(rows, columns=["metric", "value"])
    return report


def _label_metrics(true: np.ndarray, pred: np.ndarray, label_list: list) -> dict[str, Any]:
    """The part of :func:`classification_report` computed from predicted labels ``(n_examples,)``."""
    report: dict[str, Any] = {"accuracy": accuracy(true, pred)}
    for average in ("macro", "micro", "weighted"):
        for name, function in (("precision", precision), ("recall", recall), ("f1", f1)):
            report[f"{name}_{average}"] = function(true, pred, average=average, labels=label_list)
    if len(label_list) == 2:
        for name, function in (("precision", precision), ("recall", recall), ("f1", f1)):
            report[name] = function(true, pred, average="binary", pos_label=label_list[1])
    report["confusion_matrix"] = confusion_matrix(true, pred, labels=label_list)
    precisions, recalls, f1s, supports = skm.precision_recall_fscore_support(true, pred, labels=label_list,
                                                                             zero_division=0)
    report["per_class"] = {label: {"precision": float(precisions[i]), "recall": float(recalls[i]),
                                   "f1": float(f1s[i]), "support": int(supports[i])}
                           for i, label in enumerate(label_list)}
    return report


def _probability_metrics(true: np.ndarray, prob: np.ndarray, codes: np.ndarray, label_list: list, n_bins: int,
                         notes: list[str]) -> dict[str, float]:
    """The part of :func:`classification_report` computed from ``prob`` ``(n_examples, n_classes)``.

    ``codes`` ``(n_examples,)``: each example's true class as a column of ``prob``. A metric undefined on
    this data is NaN, and why is appended to ``notes``.
    """
    report: dict[str, float] = {}
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
    return report
