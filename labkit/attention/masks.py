"""Boolean attention masks: padding (BERT), causal (GPT), their combination, and the check attention applies.

One convention everywhere, the one of ``torch.nn.functional.scaled_dot_product_attention`` and of the
``attention_mask`` a Hugging Face tokenizer returns: ``True`` means "this query may attend to this key".
(``torch.nn.MultiheadAttention`` uses the opposite convention for its boolean ``attn_mask`` and
``key_padding_mask``: there ``True`` means "blocked".)

Masks broadcast against attention scores of shape ``(batch, heads, query_len, key_len)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def padding_mask(attention_mask: Tensor) -> Tensor:
    """Turn a tokenizer's ``attention_mask`` into a boolean key mask for attention.

    Args:
        attention_mask: shape ``(batch, key_len)``, 1/``True`` for real tokens and 0/``False`` for
            padding (what ``tokenizer(..., padding=True)`` returns).

    Returns:
        bool tensor of shape ``(batch, 1, 1, key_len)``: ``True`` = may attend. It broadcasts against
        scores of shape ``(batch, heads, query_len, key_len)``: every query (and every head) may look at
        every real token and at no padding token. Padding *queries* are not masked: their outputs are
        computed but meaningless.
    """
    if not isinstance(attention_mask, Tensor):
        attention_mask = torch.as_tensor(attention_mask)
    if attention_mask.dim() != 2:
        raise ValueError(
            f"attention_mask must have shape (batch, seq_len), got shape {tuple(attention_mask.shape)}"
        )
    if attention_mask.dtype != torch.bool:
        if attention_mask.is_floating_point() or not bool(((attention_mask == 0) | (attention_mask == 1)).all()):
            raise ValueError("attention_mask must hold only 0/1 (or False/True): 1 = real token, 0 = padding")
        attention_mask = attention_mask.bool()
    return attention_mask[:, None, None, :]


def causal_mask(length: int, key_length: int | None = None, device: torch.device | str | None = None) -> Tensor:
    """The mask of an autoregressive (GPT-style) model: position ``i`` may attend to positions ``<= i``.

    Args:
        length: number of query positions ``query_len``.
        key_length: number of key positions ``key_len`` (default: ``length``). When
            ``key_len > query_len`` the queries are taken to be the *last* ``query_len`` positions (as
            when decoding with a cache).
        device: where to build the mask.

    Returns:
        bool tensor of shape ``(query_len, key_len)``, lower-triangular, ``True`` = may attend. It
        broadcasts against scores of shape ``(batch, heads, query_len, key_len)``.
    """
    key_length = length if key_length is None else key_length
    if length < 1 or key_length < length:
        raise ValueError(f"causal_mask needs 1 <= length <= key_length, got length={length}, key_length={key_length}")
    ones = torch.ones(length, key_length, dtype=torch.bool, device=device)
    return torch.tril(ones, diagonal=key_length - length)


def combine_masks(*masks: Tensor | None) -> Tensor | None:
    """Combine boolean masks: a query may attend to a key only if **every** mask allows it.

    Masks broadcast against each other, e.g. ``padding_mask(am)`` ``(batch, 1, 1, seq_len)`` with
    ``causal_mask(seq_len)`` ``(seq_len, seq_len)`` gives ``(batch, 1, seq_len, seq_len)``. ``None``
    entries are skipped; returns ``None`` if all are ``None``.
    """
    result: Tensor | None = None
    for mask in masks:
        if mask is None:
            continue
        if mask.dtype != torch.bool:
            raise TypeError(f"combine_masks takes boolean masks (True = may attend), got dtype {mask.dtype}")
        result = mask if result is None else result & mask
    return result


def check_mask(mask: Tensor, scores_shape: Sequence[int]) -> Tensor:
    """Check that ``mask`` is boolean and broadcasts to ``scores_shape`` ``(..., query_len, key_len)``; return it.

    Raises ``TypeError`` for a non-boolean mask and ``ValueError`` naming the expected shape otherwise
    (error messages shorten ``query_len`` / ``key_len`` to ``Lq`` / ``Lk``).
    """
    expected = "(..., Lq, Lk) = " + str(tuple(scores_shape))
    if not isinstance(mask, Tensor):
        raise TypeError(f"mask must be a torch.Tensor of dtype bool with a shape that broadcasts to {expected}")
    if mask.dtype != torch.bool:
        raise TypeError(
            f"mask must have dtype torch.bool (True = may attend), got {mask.dtype}. "
            "Build one with padding_mask(attention_mask) or causal_mask(length), or use mask.bool()."
        )
    if mask.dim() < 2 or mask.dim() > len(scores_shape):
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to scores of shape {expected}")
    try:
        shape = torch.broadcast_shapes(mask.shape, tuple(scores_shape))
    except RuntimeError:
        shape = None
    if shape != tuple(scores_shape):
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to scores of shape {expected}")
    return mask
