"""BERT's masked-language-model corruption: which tokens become questions, and what the model sees there.

``mlm_probability`` (15%) of the ordinary tokens are selected; 80% of those become ``[MASK]``, 10% a
random ordinary token, 10% stay as they are. The loss counts the selected positions only: every other
position has the label ``IGNORE_INDEX``. Special tokens and padding are never selected, and a random
replacement never draws a special token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

IGNORE_INDEX = -100  # label of a position that does not count in the MLM loss


def mask_tokens(
    input_ids: torch.Tensor,
    special_tokens_mask: torch.Tensor,
    mask_token_id: int,
    replacement_ids: torch.Tensor,
    mlm_probability: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking: select ``mlm_probability`` of the ordinary tokens; 80/10/10 mask/random/keep.

    ``input_ids``: ``(batch, seq)`` long. ``special_tokens_mask``: ``(batch, seq)`` bool, True where a
    token must never be selected (``[CLS]``, ``[SEP]``, ``[PAD]``...). ``replacement_ids``: ``(ids,)``
    long, the ids a random replacement may draw (the non-special vocabulary). Returns
    ``(masked_ids, labels)``, both ``(batch, seq)``: ``labels`` holds the original id at selected
    positions and ``IGNORE_INDEX`` (-100) everywhere else. The input is not modified.
    """
    if input_ids.shape != special_tokens_mask.shape:
        raise ValueError(f"input_ids {tuple(input_ids.shape)} and special_tokens_mask "
                         f"{tuple(special_tokens_mask.shape)} must have the same shape")
    if not 0.0 < mlm_probability < 1.0:
        raise ValueError(f"mlm_probability must be in (0, 1), got {mlm_probability}")
    if replacement_ids.ndim != 1 or replacement_ids.numel() == 0:
        raise ValueError("replacement_ids must be a non-empty 1-D tensor of token ids")
    probabilities = torch.full(input_ids.shape, mlm_probability)
    probabilities.masked_fill_(special_tokens_mask.bool(), 0.0)
    selected = torch.bernoulli(probabilities, generator=generator).bool()
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    action = torch.rand(input_ids.shape, generator=generator)
    to_mask = selected & (action < 0.8)
    to_random = selected & (action >= 0.8) & (action < 0.9)
    random_tokens = replacement_ids[
        torch.randint(len(replacement_ids), input_ids.shape, generator=generator)
    ].to(input_ids.dtype)
    masked = input_ids.clone()
    masked[to_mask] = mask_token_id
    masked[to_random] = random_tokens[to_random]
    return masked, labels


def special_tokens_mask_for(input_ids: torch.Tensor, special_ids: Sequence[int]) -> torch.Tensor:
    """``(batch, seq)`` bool: True where ``input_ids`` is one of ``special_ids`` (padding included)."""
    return torch.isin(input_ids, torch.tensor(sorted(set(special_ids)), dtype=input_ids.dtype))


def replacement_ids_for(tokenizer: Any) -> torch.Tensor:
    """The ids a random MLM replacement may draw: the whole vocabulary minus special/added tokens."""
    special = set(tokenizer.all_special_ids)
    return torch.tensor([i for i in range(len(tokenizer)) if i not in special], dtype=torch.long)


def format_masked(tokenizer: Any, original_ids: torch.Tensor, masked_ids: torch.Tensor, labels: torch.Tensor,
                  skip_padding: bool = True) -> str:
    """One sequence as text with the MLM corruption marked (all arguments ``(seq,)``).

    ``[MASK]>word`` a selected token replaced by ``[MASK]`` (``word`` is what the model must predict),
    ``~rnd~>word`` replaced by a random token, ``=word=`` selected but kept; other tokens as they are.
    """
    if not (original_ids.shape == masked_ids.shape == labels.shape) or original_ids.ndim != 1:
        raise ValueError("format_masked takes three 1-D tensors of the same length (one sequence)")
    pieces = []
    for original, shown, label in zip(original_ids.tolist(), masked_ids.tolist(), labels.tolist(), strict=True):
        if skip_padding and original == tokenizer.pad_token_id:
            continue
        word = tokenizer.convert_ids_to_tokens(original)
        if label == IGNORE_INDEX:
            pieces.append(word)
        elif shown == tokenizer.mask_token_id:
            pieces.append(f"[MASK]>{word}")
        elif shown != original:
            pieces.append(f"~{tokenizer.convert_ids_to_tokens(shown)}~>{word}")
        else:
            pieces.append(f"={word}=")
    return " ".join(pieces)
