"""Candidates: the ways of getting a classifier that a selection compares, and their recipes.

A spec is ``"model[:random][:frozen]"`` or ``"model:lora"``: a registered model fine-tuned in full
(``"tiny-bert"``), the same architecture from random initialisation (``"tiny-bert:random"``), a frozen
encoder with a trained head (``"minilm-l6:frozen"``), a frozen encoder with trained LoRA adapters and head
(``"minilm-l6:lora"``, see ``labkit.finetune.lora``), the TF-IDF + logistic regression baseline
(``"tfidf-lr"``), or a Hub id when online. Three more candidates train without a recipe and take no
option: ``"tfidf-lr-all-text"`` (the baseline with its vectoriser fitted on every split's text, no labels),
``"tfidf-mlp"`` (a wide MLP on TF-IDF features) and ``"textgcn"`` (the graph model of ``labkit.graph``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labkit import finetune
from labkit.errors import ConfigError
from labkit.finetune.baseline import ALL_TEXT_BASELINE_NAME, MLP_BASELINE_NAME
from labkit.graph.training import GRAPH_CANDIDATE

CLASSICAL_MODELS = (finetune.BASELINE_NAME, ALL_TEXT_BASELINE_NAME, MLP_BASELINE_NAME, GRAPH_CANDIDATE)
"""Candidates that are not transformers: no recipe, no checkpoint, no options."""


@dataclass(frozen=True)
class Candidate:
    """One way of getting a classifier for a task (see the module docstring for the spec syntax)."""

    model: str
    initialisation: str = "pretrained"
    freeze: bool = False
    lora: bool = False

    @property
    def name(self) -> str:
        """A short, file-safe name: ``tiny-bert``, ``tiny-bert-random-init``, ``minilm-l6-frozen``..."""
        name = self.model.replace("/", "--")
        if self.initialisation == "random":
            name += "-random-init"
        if self.freeze:
            name += "-frozen"
        if self.lora:
            name += "-lora"
        return name

    @property
    def is_baseline(self) -> bool:
        return self.model == finetune.BASELINE_NAME

    @property
    def is_classical(self) -> bool:
        """Not a transformer (``CLASSICAL_MODELS``): trained by its own function, without a recipe."""
        return self.model in CLASSICAL_MODELS

    def recipe(self, overrides: dict[str, Any] | None = None) -> finetune.FineTuneRecipe | None:
        """The ``FineTuneRecipe`` this candidate trains with (``overrides`` win).

        None for the baseline and the other classical candidates, which have no recipe (overrides given to a
        whole comparison do not apply to them).
        """
        if self.is_classical:
            return None
        return finetune.recipe_for(self.model, self.initialisation, self.freeze,
                                   self.lora).updated(**(overrides or {}))

    def lora_settings(self) -> finetune.LoraSettings | None:
        """The LoRA settings this candidate trains with (the kit's defaults), or None without LoRA."""
        return finetune.LoraSettings() if self.lora else None


def parse_candidate(spec: str) -> Candidate:
    """``"model[:random][:frozen]"`` or ``"model:lora"`` -> ``Candidate``; e.g. ``"tiny-bert:random"``."""
    parts = [part.strip() for part in spec.strip().split(":")]
    if not parts[0]:
        raise ConfigError(f"empty candidate name in {spec!r}")
    flags = set(parts[1:])
    unknown = flags - {"random", "frozen", "lora"}
    if unknown:
        raise ConfigError(f"unknown candidate option(s) {sorted(unknown)} in {spec!r}; "
                          "use :random and/or :frozen, or :lora")
    if "lora" in flags and flags != {"lora"}:
        raise ConfigError(f"{spec!r}: :lora adapts pretrained weights it keeps frozen; it takes no other option")
    if parts[0] in CLASSICAL_MODELS and flags:
        raise ConfigError(f"{parts[0]} takes no options, got {spec!r}")
    return Candidate(parts[0], "random" if "random" in flags else "pretrained", "frozen" in flags, "lora" in flags)


def candidate_licence(model: str) -> str:
    """The licence of a candidate's pretrained weights (a selection criterion like latency)."""
    from labkit import models

    if model in (finetune.BASELINE_NAME, ALL_TEXT_BASELINE_NAME):
        return "BSD-3-Clause (scikit-learn code; no pretrained weights)"
    if model in (MLP_BASELINE_NAME, GRAPH_CANDIDATE):
        return "no pretrained weights (trained from scratch by the kit's code)"
    try:
        return models.licence(model)
    except models.ModelNotAvailableError:
        return "unknown"
