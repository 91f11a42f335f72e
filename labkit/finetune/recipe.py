"""How a transformer is fine-tuned: the recipe as a typed, validated dataclass, and the kit's recipes.

A recipe is everything about *how* a run trains (epochs, batch size, learning rate and its schedule,
how often validation is checked and when to stop); *what* trains (model, initialisation, data, seed)
is given beside it. A results folder is recognised as done by comparing recipes as dataclasses, so a
field added later can never be left out of that comparison.

The recipes below were chosen on validation data, never on test data: ``tiny-bert``'s by a sweep on
the movie snippets (it also suits the same architecture from random weights), MiniLM's by the usual
BERT fine-tuning range, and random-init MiniLM's by its own sweep on a subset
(``data/results/sweep-minilm-random-sentiment``), so that the pretrained-vs-random comparison is not won
by an under-trained control.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from labkit.errors import ConfigError


@dataclass(frozen=True)
class FineTuneRecipe:
    """The training settings of one fine-tuning run.

    ``warmup_fraction`` of the steps ramp the learning rate up linearly, the rest decay it linearly to 0;
    validation is checked ``evaluations_per_epoch`` times per epoch, and training stops early after
    ``patience`` checks without a better validation accuracy (checks during warmup never count).
    """

    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    warmup_fraction: float = 0.1
    evaluations_per_epoch: int = 1
    patience: int = 2

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "evaluations_per_epoch", "patience"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"recipe: {name} must be a whole number of at least 1, got {value!r}")
        if not self.learning_rate > 0:
            raise ConfigError(f"recipe: learning_rate must be positive, got {self.learning_rate!r}")
        if self.weight_decay < 0:
            raise ConfigError(f"recipe: weight_decay must not be negative, got {self.weight_decay!r}")
        if not 0 <= self.warmup_fraction < 1:
            raise ConfigError(f"recipe: warmup_fraction must be in [0, 1), got {self.warmup_fraction!r}")

    def updated(self, **changes: Any) -> FineTuneRecipe:
        """A copy with some fields changed; an unknown field name is a ``ConfigError`` (not ignored)."""
        known = {item.name for item in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(f"unknown recipe setting(s) {unknown}; a recipe has {sorted(known)}")
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Every field by name (what a run records, and the recipe part of its cache key)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FineTuneRecipe:
        """A recipe from a record; fields the record does not name take their defaults."""
        return cls().updated(**values)


# Per model family. Chosen once, on validation data.
RECIPES: dict[str, FineTuneRecipe] = {
    "minilm-l6": FineTuneRecipe(learning_rate=5e-5, epochs=2, batch_size=32, evaluations_per_epoch=2),
    "tiny-bert": FineTuneRecipe(learning_rate=3e-4, epochs=6, batch_size=32, evaluations_per_epoch=2),
    "tiny-gpt": FineTuneRecipe(learning_rate=3e-4, epochs=6, batch_size=32, evaluations_per_epoch=2),
    "default": FineTuneRecipe(learning_rate=5e-5, epochs=3, batch_size=32, evaluations_per_epoch=2),
}
RECIPES["tiny-bert-movies"] = RECIPES["tiny-bert"]  # the same network, further pretrained: the same recipe
# A network that starts from random weights may need its own recipe; those not listed use their model's.
# MiniLM from random weights: a sweep on 2,000 training sentences (4 epochs, no early stopping; `labkit
# finetune --train-limit 2000 ... --learning-rate {1e-4,3e-4}`, shipped in
# data/results/sweep-minilm-random-sentiment) gave the same best validation accuracy at both learning rates
# (0.715); at 3e-4 it peaked in epoch 3 and its validation loss rose after epoch 2, at 1e-4 it was still
# improving at the end, so the full runs use 1e-4 for 3 epochs (3x the sweep's steps), stopping early on
# validation as every run does.
RANDOM_INIT_RECIPES: dict[str, FineTuneRecipe] = {
    "minilm-l6": FineTuneRecipe(learning_rate=1e-4, epochs=3, batch_size=32, evaluations_per_epoch=2),
}
# LoRA trains a few small matrices from zero: it takes larger steps than full fine-tuning. Chosen on
# validation by a sweep on 2,000 training sentences (4 epochs, no early stopping; `labkit finetune
# --candidates minilm-l6:lora --train-limit 2000 --epochs 4 --patience 100 --learning-rate {1e-3,3e-4}`,
# shipped in data/results/sweep-minilm-lora-sentiment): best validation accuracy 0.813 at 1e-3 against
# 0.770 at 3e-4, which was still climbing slowly; at 1e-3 validation loss was lowest in epoch 3, so the full
# run uses 1e-3 for 3 epochs (4x the data: about 3x the sweep's steps), stopping early on validation.
LORA_RECIPES: dict[str, FineTuneRecipe] = {
    "minilm-l6": FineTuneRecipe(learning_rate=1e-3, epochs=3, batch_size=32, evaluations_per_epoch=2),
}
FROZEN_LEARNING_RATE = 1e-3  # only the small head trains: it can take a much larger step


def recipe_for(model: str, initialisation: str = "pretrained", freeze: bool = False,
               lora: bool = False) -> FineTuneRecipe:
    """The kit's recipe for a model (``"default"`` for one it has no recipe for)."""
    recipe = RECIPES.get(model, RECIPES["default"])
    if lora:
        recipe = LORA_RECIPES.get(model, recipe)
    if initialisation == "random":
        recipe = RANDOM_INIT_RECIPES.get(model, recipe)
    if freeze:
        recipe = recipe.updated(learning_rate=FROZEN_LEARNING_RATE)
    return recipe
