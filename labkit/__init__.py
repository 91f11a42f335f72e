"""labkit: the reusable helpers and figures behind the Transformer Lab Kit notebooks.

Each module owns one concept (see ``../shared/DESIGN.md`` in the kit's repository):

- ``labkit.data``        shipped corpora and task datasets, and the reproducible build of ``data/``
- ``labkit.models``      the offline model registry (short names -> local checkpoints)
- ``labkit.viz``         every figure, in the kit's one style
- ``labkit.attention``   attention, masks, multi-head attention and a BERT encoder built by hand
- ``labkit.pretraining``  tokenizers, MLM/NSP data, the pretraining loop and presets
- ``labkit.decoding``    decoding by hand: top-p, beam search, the KV cache's speed-up
- ``labkit.finetune``    fine-tuning and the TF-IDF baseline
- ``labkit.evaluation``  metrics, confidence intervals, significance tests, cost measurement
- ``labkit.selection``   comparing candidates, Pareto fronts, recommendations, reports
- ``labkit.widgets``     ipywidgets explorers
- ``labkit.reproducibility``  seeding and environment reports
- ``labkit.calibration`` temperature scaling fitted on validation
- ``labkit.claims``      checks that a notebook's prose still matches its numbers

Modules are imported lazily, so ``import labkit`` stays fast and never pulls in torch by itself.
"""

from __future__ import annotations

import importlib
from typing import Any

from labkit.reproducibility import environment_report, seed_everything

__version__ = "0.1.0"

__all__ = ["seed_everything", "environment_report", "__version__"]

_LAZY_SUBMODULES = {
    "attention",
    "calibration",
    "claims",
    "cli",
    "data",
    "decoding",
    "evaluation",
    "finetune",
    "models",
    "paths",
    "pretraining",
    "selection",
    "viz",
    "widgets",
}


def __getattr__(name: str) -> Any:
    """Import ``labkit.<name>`` on first access (``labkit.data``, ``labkit.viz``, ...)."""
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"labkit.{name}")
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")
