"""Scaled dot-product attention, softmax(Q K^T / sqrt(d_k)) V, returning the weights as well as the outputs.

Shapes: queries ``(..., query_len, d_k)``, keys ``(..., key_len, d_k)``, values ``(..., key_len, d_v)``,
where ``...`` is usually ``(batch, heads)``. Error messages shorten ``query_len`` / ``key_len`` /
``d_k`` / ``d_v`` to ``Lq`` / ``Lk`` / ``Dk`` / ``Dv``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from labkit.attention.masks import check_mask


def _check_shapes(q: Tensor, k: Tensor, v: Tensor) -> torch.Size:
    """Check that q, k, v fit together; return their broadcast leading (batch, heads, ...) shape."""
    if not all(isinstance(t, Tensor) for t in (q, k, v)):
        raise TypeError("q, k and v must be torch tensors")
    if q.dim() < 2 or k.dim() < 2 or v.dim() < 2:
        raise ValueError(
            f"q, k, v need at least 2 dimensions: q (..., Lq, Dk), k (..., Lk, Dk), v (..., Lk, Dv); "
            f"got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must have the same last dimension Dk: expected k of shape (..., Lk, {q.shape[-1]}), "
            f"got q {tuple(q.shape)} and k {tuple(k.shape)}"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of positions Lk: expected v of shape (..., {k.shape[-2]}, Dv), "
            f"got k {tuple(k.shape)} and v {tuple(v.shape)}"
        )
    try:
        return torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError as error:
        raise ValueError(
            f"the leading (batch, head) dimensions of q {tuple(q.shape)}, k {tuple(k.shape)} and "
            f"v {tuple(v.shape)} do not broadcast"
        ) from error


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    *,
    scale: float | None = None,
    dropout_p: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V, returning the outputs **and** the weights.

    Args:
        q: queries, shape ``(..., query_len, d_k)`` (e.g. ``(batch, heads, query_len, d_k)``).
        k: keys, shape ``(..., key_len, d_k)``.
        v: values, shape ``(..., key_len, d_v)``.
        mask: optional bool tensor broadcastable to ``(..., query_len, key_len)``; ``True`` = may attend
            (as in ``torch.nn.functional.scaled_dot_product_attention``). A query row with no allowed key
            gets all-zero weights and a zero output (as PyTorch's kernels do) instead of NaN.
        scale: multiply the scores by this instead of ``1 / sqrt(d_k)``.
        dropout_p: dropout on the weights (pass 0 at evaluation time; the returned weights are the ones
            actually used).

    Returns:
        ``(outputs, weights)``: outputs of shape ``(..., query_len, d_v)`` and weights of shape
        ``(..., query_len, key_len)`` (each row sums to 1 over the allowed keys).
    """
    batch_shape = _check_shapes(q, k, v)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale

    # (in-place operations below only save memory: each works on a fresh (..., query_len, key_len) tensor)
    scores = torch.matmul(q, k.transpose(-2, -1)).mul_(scale)  # (..., query_len, key_len)
    if mask is not None:
        check_mask(mask, (*batch_shape, q.shape[-2], k.shape[-2]))
        scores.masked_fill_(~mask, float("-inf"))  # exp(-inf) = 0: blocked keys get no weight
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        # a row whose keys are all blocked is NaN after softmax(-inf, ..., -inf): make it zero
        no_key = ~mask.any(dim=-1, keepdim=True)  # (..., query_len or 1, 1): small, computed on the mask only
        if bool(no_key.any()):
            weights = weights.masked_fill(no_key, 0.0)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p, training=True)
    return torch.matmul(weights, v), weights
