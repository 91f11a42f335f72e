"""What every feature-importance method returns: one score per input token, and what was explained."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TokenAttribution:
    """The attribution of one text's prediction to its input tokens.

    ``tokens`` are the model's input tokens in order, special tokens included: exactly
    ``tokenizer.convert_ids_to_tokens`` of the encoded text. ``scores`` has one float per token, shape
    ``(seq,)``: how much that token pushed the *target class's logit* up (positive) or down (negative),
    in the method's own units. ``target`` is the class index explained (the predicted class unless one
    was asked for); ``probabilities`` the model's predicted class probabilities for the text, shape
    ``(classes,)``. ``method`` names the method; ``details`` holds what a method wants to report beside
    the scores (the baseline and completeness gap of integrated gradients, the replacement token of
    occlusion...).
    """

    tokens: list[str]
    scores: np.ndarray
    target: int
    probabilities: np.ndarray
    method: str
    input_ids: list[int] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.tokens) != len(self.scores):
            raise ValueError(f"{len(self.tokens)} tokens but {len(self.scores)} scores: one score per token")

    @property
    def predicted(self) -> int:
        """The class the model predicts for the text (``argmax`` of ``probabilities``)."""
        return int(np.argmax(self.probabilities))

    def top_tokens(self, k: int = 5, *, skip_special: tuple[str, ...] = ("[CLS]", "[SEP]", "[PAD]")) -> list[str]:
        """The ``k`` tokens with the highest scores (special tokens left out), highest first."""
        order = [index for index in np.argsort(-self.scores, kind="stable") if self.tokens[index] not in skip_special]
        return [self.tokens[index] for index in order[:k]]
