"""Multi-head attention: split into heads, attend per head, concatenate, project with W^O.

Shapes: inputs and output ``(batch, seq_len, d_model)``; per-head tensors
``(batch, heads, seq_len, head_dim)`` with ``head_dim = d_model / heads`` (the ``d_k`` of each head);
weights ``(batch, heads, query_len, key_len)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from labkit.attention.scaled_dot_product import scaled_dot_product_attention


class MultiHeadAttention(nn.Module):
    """MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O, with head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V).

    The ``num_heads`` projections ``W_i^Q`` (each ``d_model x head_dim``) are stored side by side as one
    ``d_model x d_model`` linear layer ``q_proj`` (likewise ``k_proj``, ``v_proj``); splitting its output
    into ``num_heads`` slices of width ``head_dim`` gives the heads. ``out_proj`` is ``W^O``. Inputs are
    batch-first.

    Args:
        d_model: model width (BERT's ``hidden_size``).
        num_heads: number of heads; must divide ``d_model``.
        bias: whether the four projections have biases.
        dropout: dropout on the attention weights during training.
    """

    def __init__(self, d_model: int, num_heads: int, bias: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        if d_model <= 0 or num_heads <= 0:
            raise ValueError(f"d_model and num_heads must be positive, got {d_model} and {num_heads}")
        if d_model % num_heads != 0:
            raise ValueError(
                f"d_model ({d_model}) must be divisible by num_heads ({num_heads}): each head gets "
                f"d_model / num_heads dimensions"
            )
        self.d_model = d_model
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def split_heads(self, x: Tensor) -> Tensor:
        """``(batch, seq_len, d_model)`` -> ``(batch, heads, seq_len, head_dim)``."""
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def merge_heads(self, x: Tensor) -> Tensor:
        """``(batch, heads, seq_len, head_dim)`` -> ``(batch, seq_len, d_model)`` (the "Concat" of the formula)."""
        batch, _, length, _ = x.shape
        return x.transpose(1, 2).reshape(batch, length, self.d_model)

    def _check_inputs(self, query: Tensor, key: Tensor, value: Tensor) -> None:
        for name, tensor in (("query", query), ("key", key), ("value", value)):
            if tensor.dim() != 3 or tensor.shape[-1] != self.d_model:
                raise ValueError(
                    f"{name} must have shape (batch, seq_len, d_model={self.d_model}), got {tuple(tensor.shape)}"
                )
        if key.shape[:2] != value.shape[:2] or key.shape[0] != query.shape[0]:
            raise ValueError(
                f"key and value must have shape (batch={query.shape[0]}, Lk, {self.d_model}) with the same Lk, "
                f"got key {tuple(key.shape)} and value {tuple(value.shape)}"
            )

    def forward(
        self,
        query: Tensor,
        key: Tensor | None = None,
        value: Tensor | None = None,
        mask: Tensor | None = None,
        scale: float | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Attend from ``query`` to ``key``/``value`` (self-attention when they are omitted).

        Args:
            query: ``(batch, query_len, d_model)``.
            key: ``(batch, key_len, d_model)`` (default: ``query``).
            value: ``(batch, key_len, d_model)`` (default: ``key``).
            mask: bool, broadcastable to ``(batch, heads, query_len, key_len)``, ``True`` = may attend;
                e.g. ``padding_mask(attention_mask)`` ``(batch, 1, 1, key_len)`` or
                ``causal_mask(seq_len)`` ``(seq_len, seq_len)``.
            scale: score scale (default ``1 / sqrt(head_dim)``).

        Returns:
            ``(output, weights)``: output ``(batch, query_len, d_model)`` and per-head weights
            ``(batch, heads, query_len, key_len)``.
        """
        key = query if key is None else key
        value = key if value is None else value
        self._check_inputs(query, key, value)
        q = self.split_heads(self.q_proj(query))  # (batch, heads, query_len, head_dim)
        k = self.split_heads(self.k_proj(key))  # (batch, heads, key_len, head_dim)
        v = self.split_heads(self.v_proj(value))  # (batch, heads, key_len, head_dim)
        heads, weights = scaled_dot_product_attention(
            q, k, v, mask, scale=scale, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out_proj(self.merge_heads(heads)), weights

    @classmethod
    def from_torch(cls, module: nn.MultiheadAttention) -> MultiHeadAttention:
        """Copy the weights of a ``torch.nn.MultiheadAttention`` (same ``embed_dim`` for q, k, v).

        PyTorch stores ``W^Q, W^K, W^V`` stacked in ``in_proj_weight`` ``(3 * d_model, d_model)``; we
        split them. Remember that PyTorch's boolean masks mean the opposite of ours (``True`` = blocked).
        """
        if not module._qkv_same_embed_dim:
            raise ValueError("from_torch needs a torch.nn.MultiheadAttention with kdim == vdim == embed_dim")
        bias = module.in_proj_bias is not None
        ours = cls(module.embed_dim, module.num_heads, bias=bias, dropout=module.dropout)
        with torch.no_grad():
            for index, projection in enumerate((ours.q_proj, ours.k_proj, ours.v_proj)):
                rows = slice(index * module.embed_dim, (index + 1) * module.embed_dim)
                projection.weight.copy_(module.in_proj_weight[rows])
                if bias:
                    projection.bias.copy_(module.in_proj_bias[rows])
            ours.out_proj.weight.copy_(module.out_proj.weight)
            if bias:
                ours.out_proj.bias.copy_(module.out_proj.bias)
        return ours
