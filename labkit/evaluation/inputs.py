"""Checking and converting what the metrics are given: labels, probabilities, class order.

Every metric and test in :mod:`labkit.evaluation` takes its inputs through these checks, so a wrong
shape, a mismatched length, logits where probabilities belong or an unknown label gives the same
plain-language error everywhere. NumPy only (no scikit-learn), so light modules can use
:func:`_to_numpy` too.

Shapes: ``y_true``, ``y_pred``: ``(n_examples,)`` class labels (ints or strings); ``y_prob``:
``(n_examples, n_classes)`` probabilities whose rows sum to 1, column ``j`` belonging to class
``labels[j]``; for binary tasks ``y_prob`` may also be ``(n_examples,)``, the probability of the
positive class (``labels[1]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

PROB_SUM_TOLERANCE = 1e-4  # |row sum - 1| allowed in y_prob (float32 softmax is well inside this)


def _to_numpy(values: Any) -> np.ndarray:
    """A NumPy array from a list, array, pandas object or (CPU) torch tensor."""
    if hasattr(values, "detach") and hasattr(values, "cpu"):  # torch.Tensor, without importing torch
        values = values.detach().cpu().numpy()
    elif hasattr(values, "to_numpy"):  # pandas
        values = values.to_numpy()
    return np.asarray(values)


def _labels_1d(name: str, values: Any) -> np.ndarray:
    """``values`` as a non-empty 1-D array ``(n_examples,)`` (a single column ``(n, 1)`` is accepted)."""
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
    """The common length of ``arrays`` (given by name, for the error message)."""
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
    """The first ``limit`` values for an error message: ``"0, 1, 2, ..."``."""
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


def _check_pred(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """``y_true`` and ``y_pred`` as 1-D arrays ``(n_examples,)`` of the same length."""
    true = _labels_1d("y_true", y_true)
    pred = _labels_1d("y_pred", y_pred)
    _check_same_length(y_true=true, y_pred=pred)
    return true, pred
