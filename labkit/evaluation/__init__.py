"""Evaluate a classifier: metrics, their uncertainty, paired comparisons and what the model costs.

Every name is importable from here (``labkit.evaluation.f1``, ``from labkit.evaluation import
bootstrap_ci``); each lives in the module that owns its concept:

* :mod:`~labkit.evaluation.metrics` -- accuracy, precision / recall / F1 (binary, macro, micro,
  weighted), the confusion matrix, ROC-AUC and PR-AUC (binary and one-vs-rest multiclass), calibration
  (expected calibration error with the per-bin numbers a reliability diagram needs) and
  :func:`classification_report`. The numbers are scikit-learn's, with plain-language input checks
  (:mod:`~labkit.evaluation.inputs`).
* :mod:`~labkit.evaluation.resampling` -- :func:`bootstrap_ci` (percentile bootstrap for any metric,
  vectorised for the built-in ones by :mod:`~labkit.evaluation.resampled_metrics`) and
  :func:`paired_bootstrap`; :mod:`~labkit.evaluation.paired_tests` -- :func:`mcnemar_test`. Together
  they say whether model B really beats model A on the same test set.
* :mod:`~labkit.evaluation.costs` -- :func:`count_parameters`, :func:`size_on_disk`,
  :func:`measure_latency` / :func:`latency_table` (p50/p95 per example, batch 1 and batched,
  throughput, and the device that measured them), :func:`peak_memory` and :func:`cpu_timer`. These
  *measure*; nothing here asserts a time.

Names are imported on first use, so ``from labkit.evaluation.costs import count_parameters`` (what
fine-tuning and pretraining need) never loads scikit-learn.

Shapes used throughout: ``y_true``, ``y_pred``: ``(n_examples,)`` class labels (ints or strings);
``y_prob``: ``(n_examples, n_classes)`` probabilities whose rows sum to 1, column ``j`` belonging to
class ``labels[j]``; for binary tasks ``y_prob`` may also be ``(n_examples,)``, the probability of the
positive class (``labels[1]``).
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES: dict[str, tuple[str, ...]] = {
    "metrics": ("accuracy", "precision", "recall", "f1", "confusion_matrix", "roc_auc", "pr_auc",
                "CalibrationBins", "calibration_bins", "expected_calibration_error", "classification_report",
                "AVERAGES"),
    "resampling": ("METRICS", "BootstrapCI", "bootstrap_ci", "PairedBootstrapResult", "paired_bootstrap"),
    "paired_tests": ("McNemarResult", "mcnemar_test", "mcnemar_from_counts", "MCNEMAR_EXACT_BELOW"),
    "costs": ("ParameterCount", "count_parameters", "size_on_disk", "format_bytes", "LatencyResult",
              "measure_latency", "latency_table", "throughput", "MemoryResult", "peak_memory", "CPUTiming",
              "cpu_timer"),
    # private, but imported by labkit.calibration: one converter for lists, arrays, pandas and torch
    "inputs": ("_to_numpy", "PROB_SUM_TOLERANCE"),
}
"""Which module of the package defines each name this package exports."""

_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [  # the public names, as before the package split (AVERAGES etc. stay importable, as before)
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


def __getattr__(name: str) -> Any:
    """Import the module that owns ``name`` on first use (``labkit.evaluation.f1`` loads ``metrics``)."""
    if name in _HOME_OF:
        value = getattr(importlib.import_module(f"labkit.evaluation.{_HOME_OF[name]}"), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    if name in _HOMES or name == "resampled_metrics":
        return importlib.import_module(f"labkit.evaluation.{name}")
    raise AttributeError(f"module 'labkit.evaluation' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME_OF) | set(_HOMES))
