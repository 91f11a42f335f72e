"""labkit: the reusable helpers and figures behind the Transformer Lab Kit notebooks.

Each module owns one concept; the map of modules, which notebook teaches each and which may import
which is the "Architecture" section of the kit's README.md (in the repository's root, beside
``labkit/``):

- ``labkit.errors``, ``labkit.files``, ``labkit.devices``, ``labkit.reproducibility``, ``labkit.paths``,
  ``labkit.claims``: the foundations (errors, atomic files, device policy, seeding, the data folder,
  checks of a notebook's prose)
- ``labkit.data``        shipped corpora and task datasets, and the reproducible build of ``data/``
- ``labkit.models``      the offline model registry (short names -> local checkpoints)
- ``labkit.evaluation``  metrics, confidence intervals, paired tests, cost measurement
- ``labkit.attention``   attention, masks, multi-head attention and a BERT encoder built by hand
- ``labkit.decoding``    decoding by hand: top-p, beam search, the KV cache's speed-up
- ``labkit.viz``         every figure, in the kit's one style
- ``labkit.calibration`` temperature scaling fitted on validation
- ``labkit.pretraining`` tokenizers, MLM/NSP data, the pretraining loop and presets
- ``labkit.finetune``    fine-tuning recipes and runs, the TF-IDF baseline, linear probes
- ``labkit.selection``   comparing candidates, choosing on validation, Pareto fronts, reports
- ``labkit.widgets``     ipywidgets explorers
- ``labkit.cli``         the ``labkit`` command

Modules are imported lazily, so ``import labkit`` stays fast and never pulls in torch by itself.
"""

from __future__ import annotations

import importlib
from typing import Any

from labkit.reproducibility import environment_report, seed_everything

__version__ = "0.1.0"

__all__ = ["seed_everything", "environment_report", "__version__"]

_LAZY_SUBMODULES = {
    "adapters",
    "attention",
    "bias",
    "calibration",
    "claims",
    "cli",
    "compression",
    "data",
    "decoding",
    "devices",
    "errors",
    "evaluation",
    "exercises",
    "figures",
    "files",
    "finetune",
    "graph",
    "interpret",
    "models",
    "paths",
    "pretraining",
    "reproducibility",
    "selection",
    "viz",
    "widgets",
}


def __getattr__(name: str) -> Any:
    """Import ``labkit.<name>`` on first access (``labkit.data``, ``labkit.viz``, ...)."""
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"labkit.{name}")
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")
