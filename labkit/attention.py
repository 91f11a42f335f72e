"""Self-attention and a BERT encoder, written from scratch in plain PyTorch.

Everything here is meant to be read. Shapes use these letters:

* ``B``: batch size, ``H``: number of heads;
* ``Lq`` / ``Lk``: number of query / key positions (``L`` when they are the same sequence);
* ``D``: model width (``d_model``, BERT's ``hidden_size``); ``Dk``/``Dv``: width of one head's keys/values.

Masks follow one convention everywhere, the one of ``torch.nn.functional.scaled_dot_product_attention``
and of the ``attention_mask`` a Hugging Face tokenizer returns: a **boolean** mask where ``True`` means
"this query may attend to this key". (``torch.nn.MultiheadAttention`` uses the opposite convention for its
boolean ``attn_mask`` and ``key_padding_mask``: there ``True`` means "blocked". See
:meth:`MultiHeadAttention.from_torch` and the tests.)

The pieces, from small to large:

* :func:`scaled_dot_product_attention` -> ``(outputs, weights)``;
* :func:`padding_mask`, :func:`causal_mask`, :func:`combine_masks`: build boolean masks;
* :class:`MultiHeadAttention`: split into heads, attend per head, concatenate, project with ``W^O``;
* :func:`sinusoidal_positional_encoding`, :class:`SinusoidalPositionalEncoding`,
  :class:`LearnedPositionalEncoding`;
* :class:`BertEmbeddings`, :class:`EncoderLayer` (post-LN), :class:`BertEncoder` with
  :meth:`BertEncoder.from_hf` to load the weights of a Hugging Face BERT;
* :func:`parameter_counts` and :func:`flops_per_token`: what each component costs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "scaled_dot_product_attention",
    "padding_mask",
    "causal_mask",
    "combine_masks",
    "check_mask",
    "MultiHeadAttention",
    "sinusoidal_positional_encoding",
    "SinusoidalPositionalEncoding",
    "LearnedPositionalEncoding",
    "EncoderConfig",
    "BertEmbeddings",
    "EncoderLayer",
    "BertEncoder",
    "EncoderOutput",
    "from_hf",
    "parameter_counts",
    "flops_per_token",
]


# --------------------------------------------------------------------------------------------------
# masks
# --------------------------------------------------------------------------------------------------


def padding_mask(attention_mask: Tensor) -> Tensor:
    """Turn a tokenizer's ``attention_mask`` into a boolean key mask for attention.

    Args:
        attention_mask: shape ``(B, Lk)``, 1/``True`` for real tokens and 0/``False`` for padding
            (what ``tokenizer(..., padding=True)`` returns).

    Returns:
        bool tensor of shape ``(B, 1, 1, Lk)``: ``True`` = may attend. It broadcasts against scores of
        shape ``(B, H, Lq, Lk)``: every query (and every head) may look at every real token and at no
        padding token. Padding *queries* are not masked: their outputs are computed but meaningless.
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
        length: number of query positions ``Lq``.
        key_length: number of key positions ``Lk`` (default: ``length``). When ``Lk > Lq`` the queries
            are taken to be the *last* ``Lq`` positions (as when decoding with a cache).
        device: where to build the mask.

    Returns:
        bool tensor of shape ``(Lq, Lk)``, lower-triangular, ``True`` = may attend. It broadcasts against
        scores of shape ``(B, H, Lq, Lk)``.
    """
    key_length = length if key_length is None else key_length
    if length < 1 or key_length < length:
        raise ValueError(f"causal_mask needs 1 <= length <= key_length, got length={length}, key_length={key_length}")
    ones = torch.ones(length, key_length, dtype=torch.bool, device=device)
    return torch.tril(ones, diagonal=key_length - length)


def combine_masks(*masks: Tensor | None) -> Tensor | None:
    """Combine boolean masks: a query may attend to a key only if **every** mask allows it.

    Masks broadcast against each other, e.g. ``padding_mask(am)`` ``(B, 1, 1, L)`` with
    ``causal_mask(L)`` ``(L, L)`` gives ``(B, 1, L, L)``. ``None`` entries are skipped; returns ``None``
    if all are ``None``.
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
    """Check that ``mask`` is boolean and broadcasts to ``scores_shape`` ``(..., Lq, Lk)``; return it.

    Raises ``TypeError`` for a non-boolean mask and ``ValueError`` naming the expected shape otherwise.
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


# --------------------------------------------------------------------------------------------------
# scaled dot-product attention
# --------------------------------------------------------------------------------------------------


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
        q: queries, shape ``(..., Lq, Dk)`` (e.g. ``(B, H, Lq, Dk)``).
        k: keys, shape ``(..., Lk, Dk)``.
        v: values, shape ``(..., Lk, Dv)``.
        mask: optional bool tensor broadcastable to ``(..., Lq, Lk)``; ``True`` = may attend (as in
            ``torch.nn.functional.scaled_dot_product_attention``). A query row with no allowed key gets
            all-zero weights and a zero output (as PyTorch's kernels do) instead of NaN.
        scale: multiply the scores by this instead of ``1 / sqrt(Dk)``.
        dropout_p: dropout on the weights (pass 0 at evaluation time; the returned weights are the ones
            actually used).

    Returns:
        ``(outputs, weights)``: outputs of shape ``(..., Lq, Dv)`` and weights of shape ``(..., Lq, Lk)``
        (each row sums to 1 over the allowed keys).
    """
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
        batch_shape = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError as error:
        raise ValueError(
            f"the leading (batch, head) dimensions of q {tuple(q.shape)}, k {tuple(k.shape)} and "
            f"v {tuple(v.shape)} do not broadcast"
        ) from error
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale

    # (in-place operations below only save memory: each works on a fresh (..., Lq, Lk) tensor)
    scores = torch.matmul(q, k.transpose(-2, -1)).mul_(scale)  # (..., Lq, Lk)
    if mask is not None:
        check_mask(mask, (*batch_shape, q.shape[-2], k.shape[-2]))
        scores.masked_fill_(~mask, float("-inf"))  # exp(-inf) = 0: blocked keys get no weight
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:
        # a row whose keys are all blocked is NaN after softmax(-inf, ..., -inf): make it zero
        no_key = ~mask.any(dim=-1, keepdim=True)  # (..., Lq or 1, 1): small, computed on the mask only
        if bool(no_key.any()):
            weights = weights.masked_fill(no_key, 0.0)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p, training=True)
    return torch.matmul(weights, v), weights


# --------------------------------------------------------------------------------------------------
# multi-head attention
# --------------------------------------------------------------------------------------------------


class MultiHeadAttention(nn.Module):
    """MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O, with head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V).

    The ``h`` projections ``W_i^Q`` (each ``D x D/h``) are stored side by side as one ``D x D`` linear
    layer ``q_proj`` (likewise ``k_proj``, ``v_proj``); splitting its output into ``h`` slices of width
    ``D/h`` gives the heads. ``out_proj`` is ``W^O``. Inputs are batch-first.

    Args:
        d_model: model width ``D``.
        num_heads: number of heads ``H``; must divide ``D``.
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
        """``(B, L, D)`` -> ``(B, H, L, D/H)``."""
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def merge_heads(self, x: Tensor) -> Tensor:
        """``(B, H, L, D/H)`` -> ``(B, L, D)`` (the "Concat" of the formula)."""
        batch, _, length, _ = x.shape
        return x.transpose(1, 2).reshape(batch, length, self.d_model)

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
            query: ``(B, Lq, D)``.
            key: ``(B, Lk, D)`` (default: ``query``).
            value: ``(B, Lk, D)`` (default: ``key``).
            mask: bool, broadcastable to ``(B, H, Lq, Lk)``, ``True`` = may attend; e.g.
                ``padding_mask(attention_mask)`` ``(B, 1, 1, Lk)`` or ``causal_mask(L)`` ``(L, L)``.
            scale: score scale (default ``1 / sqrt(D/H)``).

        Returns:
            ``(output, weights)``: output ``(B, Lq, D)`` and per-head weights ``(B, H, Lq, Lk)``.
        """
        key = query if key is None else key
        value = key if value is None else value
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
        q = self.split_heads(self.q_proj(query))  # (B, H, Lq, D/H)
        k = self.split_heads(self.k_proj(key))  # (B, H, Lk, D/H)
        v = self.split_heads(self.v_proj(value))  # (B, H, Lk, D/H)
        heads, weights = scaled_dot_product_attention(
            q, k, v, mask, scale=scale, dropout_p=self.dropout if self.training else 0.0
        )
        return self.out_proj(self.merge_heads(heads)), weights

    @classmethod
    def from_torch(cls, module: nn.MultiheadAttention) -> MultiHeadAttention:
        """Copy the weights of a ``torch.nn.MultiheadAttention`` (same ``embed_dim`` for q, k, v).

        PyTorch stores ``W^Q, W^K, W^V`` stacked in ``in_proj_weight`` ``(3D, D)``; we split them.
        Remember that PyTorch's boolean masks mean the opposite of ours (``True`` = blocked).
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


# --------------------------------------------------------------------------------------------------
# positional encodings
# --------------------------------------------------------------------------------------------------


def sinusoidal_positional_encoding(length: int, d_model: int, base: float = 10000.0) -> Tensor:
    """The fixed encoding of "Attention Is All You Need".

    ``PE[pos, 2i] = sin(pos / base^(2i/D))`` and ``PE[pos, 2i+1] = cos(pos / base^(2i/D))``.

    Returns:
        float tensor of shape ``(length, d_model)``.
    """
    if length < 1 or d_model < 2 or d_model % 2:
        raise ValueError(f"need length >= 1 and an even d_model >= 2, got length={length}, d_model={d_model}")
    positions = torch.arange(length, dtype=torch.float32)[:, None]  # (L, 1)
    frequencies = base ** (-torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)  # (D/2,)
    angles = positions * frequencies  # (L, D/2)
    encoding = torch.empty(length, d_model)
    encoding[:, 0::2] = torch.sin(angles)
    encoding[:, 1::2] = torch.cos(angles)
    return encoding


class SinusoidalPositionalEncoding(nn.Module):
    """Adds :func:`sinusoidal_positional_encoding` to its input: ``(B, L, D)`` -> ``(B, L, D)``.

    Nothing is learned; it works for any ``L <= max_length``.
    """

    def __init__(self, d_model: int, max_length: int = 512) -> None:
        super().__init__()
        self.d_model = d_model
        self.max_length = max_length
        self.register_buffer("encoding", sinusoidal_positional_encoding(max_length, d_model), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[-1] != self.d_model or x.shape[1] > self.max_length:
            raise ValueError(
                f"expected input of shape (batch, seq_len <= {self.max_length}, d_model={self.d_model}), "
                f"got {tuple(x.shape)}"
            )
        return x + self.encoding[: x.shape[1]]


class LearnedPositionalEncoding(nn.Module):
    """A learned vector per position (BERT's and GPT-2's choice): ``(B, L, D)`` -> ``(B, L, D)``."""

    def __init__(self, d_model: int, max_length: int = 512) -> None:
        super().__init__()
        self.d_model = d_model
        self.max_length = max_length
        self.embedding = nn.Embedding(max_length, d_model)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[-1] != self.d_model or x.shape[1] > self.max_length:
            raise ValueError(
                f"expected input of shape (batch, seq_len <= {self.max_length}, d_model={self.d_model}), "
                f"got {tuple(x.shape)}"
            )
        positions = torch.arange(x.shape[1], device=x.device)
        return x + self.embedding(positions)


# --------------------------------------------------------------------------------------------------
# BERT encoder
# --------------------------------------------------------------------------------------------------

_ACTIVATIONS = {
    "gelu": lambda x: F.gelu(x),
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


@dataclass(frozen=True)
class EncoderConfig:
    """The shape of a BERT encoder (names follow Hugging Face's ``BertConfig``)."""

    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    hidden_act: str = "gelu"
    pad_token_id: int = 0

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"hidden_size ({self.hidden_size}) must be divisible by num_attention_heads "
                f"({self.num_attention_heads})"
            )
        if self.hidden_act not in _ACTIVATIONS:
            raise ValueError(f"hidden_act must be one of {sorted(_ACTIVATIONS)}, got {self.hidden_act!r}")

    @classmethod
    def from_hf(cls, config: Any) -> EncoderConfig:
        """Read the fields we need from a Hugging Face ``BertConfig`` (or anything with those attributes)."""
        fields = {name: getattr(config, name) for name in cls.__dataclass_fields__ if hasattr(config, name)}
        if fields.get("pad_token_id") is None:
            fields["pad_token_id"] = 0
        position_type = getattr(config, "position_embedding_type", "absolute")
        if position_type != "absolute":
            raise ValueError(f"only absolute position embeddings are supported, got {position_type!r}")
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class BertEmbeddings(nn.Module):
    """Token + position + segment embeddings, then LayerNorm and dropout.

    ``input_ids`` ``(B, L)`` (+ optional ``token_type_ids`` ``(B, L)``) -> ``(B, L, D)``.
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.word = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position = nn.Embedding(config.max_position_embeddings, config.hidden_size)  # learned positions
        self.segment = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.max_length = config.max_position_embeddings

    def forward(self, input_ids: Tensor, token_type_ids: Tensor | None = None) -> Tensor:
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must have shape (batch, seq_len), got {tuple(input_ids.shape)}")
        length = input_ids.shape[1]
        if length > self.max_length:
            raise ValueError(f"sequences of at most {self.max_length} tokens, got {length}")
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        elif token_type_ids.shape != input_ids.shape:
            raise ValueError(
                f"token_type_ids must have the shape of input_ids {tuple(input_ids.shape)}, "
                f"got {tuple(token_type_ids.shape)}"
            )
        positions = torch.arange(length, device=input_ids.device)[None, :]  # (1, L)
        x = self.word(input_ids) + self.segment(token_type_ids) + self.position(positions)
        return self.dropout(self.norm(x))


class EncoderLayer(nn.Module):
    """One post-LN Transformer encoder layer, as in BERT.

    ``x = LayerNorm(x + Dropout(MultiHeadAttention(x)))`` then ``x = LayerNorm(x + Dropout(FFN(x)))`` with
    ``FFN(x) = W_2 act(W_1 x + b_1) + b_2``. ``(B, L, D)`` -> ``(B, L, D)`` and weights ``(B, H, L, L)``.
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.attention = MultiHeadAttention(
            config.hidden_size, config.num_attention_heads, dropout=config.attention_probs_dropout_prob
        )
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.ffn_in = nn.Linear(config.hidden_size, config.intermediate_size)
        self.ffn_out = nn.Linear(config.intermediate_size, config.hidden_size)
        self.ffn_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.activation = _ACTIVATIONS[config.hidden_act]

    def forward(self, x: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        attended, weights = self.attention(x, mask=mask)
        x = self.attention_norm(x + self.dropout(attended))  # post-LN: normalise after the residual sum
        x = self.ffn_norm(x + self.dropout(self.ffn_out(self.activation(self.ffn_in(x)))))
        return x, weights


class EncoderOutput(NamedTuple):
    """What :class:`BertEncoder` returns.

    * ``last_hidden_state``: ``(B, L, D)``;
    * ``pooler_output``: ``(B, D)``, ``tanh(W h_[CLS] + b)``;
    * ``hidden_states``: embeddings then each layer's output, ``num_layers + 1`` tensors ``(B, L, D)``;
    * ``attentions``: each layer's weights, ``num_layers`` tensors ``(B, H, L, L)``.
    """

    last_hidden_state: Tensor
    pooler_output: Tensor
    hidden_states: tuple[Tensor, ...]
    attentions: tuple[Tensor, ...]


class BertEncoder(nn.Module):
    """A BERT encoder built from the pieces above: embeddings, ``N`` post-LN layers, pooler.

    Build a fresh one with ``BertEncoder(EncoderConfig(...))`` or load a Hugging Face BERT's weights with
    ``BertEncoder.from_hf(model)``.
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.num_hidden_layers))
        self.pooler = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
    ) -> EncoderOutput:
        """Encode a batch.

        Args:
            input_ids: ``(B, L)`` token ids.
            attention_mask: ``(B, L)``, 1 = real token, 0 = padding (as the tokenizer returns it).
            token_type_ids: ``(B, L)`` segment ids (0 for sentence A, 1 for sentence B).

        Returns:
            :class:`EncoderOutput` (hidden states and every layer's attention weights).
        """
        if attention_mask is not None and attention_mask.shape != input_ids.shape:
            raise ValueError(
                f"attention_mask must have the shape of input_ids {tuple(input_ids.shape)}, "
                f"got {tuple(attention_mask.shape)}"
            )
        mask = None if attention_mask is None else padding_mask(attention_mask)  # (B, 1, 1, L)
        x = self.embeddings(input_ids, token_type_ids)
        hidden_states = [x]
        attentions = []
        for layer in self.layers:
            x, weights = layer(x, mask)
            hidden_states.append(x)
            attentions.append(weights)
        pooled = torch.tanh(self.pooler(x[:, 0]))  # the [CLS] position
        return EncoderOutput(x, pooled, tuple(hidden_states), tuple(attentions))

    @classmethod
    def from_hf(cls, model: nn.Module) -> BertEncoder:
        """Build an encoder with the weights of a Hugging Face ``BertModel`` (or a model wrapping one as ``.bert``).

        Every tensor is copied by name; a missing or extra tensor, or a shape mismatch, raises. The result
        is in eval mode, like the model ``labkit.models.load`` returns.
        """
        bert = getattr(model, "bert", model)
        for needed in ("embeddings", "encoder", "config"):
            if not hasattr(bert, needed):
                raise TypeError(f"from_hf needs a Hugging Face BertModel (or a model with .bert), got {type(model).__name__}")
        if getattr(bert, "pooler", None) is None:
            raise ValueError("from_hf needs a BertModel with its pooler (add_pooling_layer=True)")
        ours = cls(EncoderConfig.from_hf(bert.config))
        source = bert.state_dict()
        mapping = {
            "embeddings.word.weight": "embeddings.word_embeddings.weight",
            "embeddings.position.weight": "embeddings.position_embeddings.weight",
            "embeddings.segment.weight": "embeddings.token_type_embeddings.weight",
            "embeddings.norm.weight": "embeddings.LayerNorm.weight",
            "embeddings.norm.bias": "embeddings.LayerNorm.bias",
            "pooler.weight": "pooler.dense.weight",
            "pooler.bias": "pooler.dense.bias",
        }
        per_layer = {
            "attention.q_proj": "attention.self.query",
            "attention.k_proj": "attention.self.key",
            "attention.v_proj": "attention.self.value",
            "attention.out_proj": "attention.output.dense",
            "attention_norm": "attention.output.LayerNorm",
            "ffn_in": "intermediate.dense",
            "ffn_out": "output.dense",
            "ffn_norm": "output.LayerNorm",
        }
        for index in range(ours.config.num_hidden_layers):
            for mine, theirs in per_layer.items():
                for kind in ("weight", "bias"):
                    mapping[f"layers.{index}.{mine}.{kind}"] = f"encoder.layer.{index}.{theirs}.{kind}"
        target = ours.state_dict()
        if set(mapping) != set(target):
            raise RuntimeError(f"internal: unmapped parameters {sorted(set(target) ^ set(mapping))}")
        missing = [name for name in mapping.values() if name not in source]
        if missing:
            raise ValueError(f"the Hugging Face model lacks {missing[:5]}{'...' if len(missing) > 5 else ''}")
        for mine, theirs in mapping.items():
            if source[theirs].shape != target[mine].shape:
                raise ValueError(
                    f"shape mismatch for {theirs}: expected {tuple(target[mine].shape)}, got {tuple(source[theirs].shape)}"
                )
        ours.load_state_dict({mine: source[theirs] for mine, theirs in mapping.items()})
        return ours.eval()


def from_hf(model: nn.Module) -> BertEncoder:
    """Shortcut for :meth:`BertEncoder.from_hf`."""
    return BertEncoder.from_hf(model)


# --------------------------------------------------------------------------------------------------
# cost: parameters and FLOPs
# --------------------------------------------------------------------------------------------------


def parameter_counts(config: EncoderConfig) -> dict[str, int]:
    """Number of parameters per component of a :class:`BertEncoder` (weights + biases + LayerNorms).

    Keys: ``embeddings`` (token, position, segment tables and their LayerNorm), ``attention`` (all layers:
    Q, K, V, W^O and the LayerNorm after it), ``feed-forward`` (all layers: both linears and their
    LayerNorm), ``pooler``, and ``total``.
    """
    d, f, n = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    embeddings = (config.vocab_size + config.max_position_embeddings + config.type_vocab_size) * d + 2 * d
    attention = n * (4 * (d * d + d) + 2 * d)
    feed_forward = n * ((d * f + f) + (f * d + d) + 2 * d)
    pooler = d * d + d
    counts = {"embeddings": embeddings, "attention": attention, "feed-forward": feed_forward, "pooler": pooler}
    counts["total"] = sum(counts.values())
    return counts


def flops_per_token(config: EncoderConfig, seq_len: int) -> dict[str, float]:
    """Matrix-multiply FLOPs per token of one forward pass over a sequence of ``seq_len`` tokens.

    A multiply-add counts as 2 FLOPs; embeddings (table look-ups), LayerNorm, softmax, GELU and biases are
    left out (they are a few percent). Per layer and token: Q, K, V and W^O projections ``4 * 2 D^2``;
    scores ``Q K^T`` ``2 L D``; weighted sum of values ``2 L D``; feed-forward ``2 * 2 D F``. The pooler
    (``2 D^2`` per *sequence*) is divided by ``seq_len``. Keys: ``attention projections``,
    ``attention scores + values``, ``feed-forward``, ``pooler``, ``total``.
    """
    d, f, n = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    flops = {
        "attention projections": n * 4 * 2 * d * d,
        "attention scores + values": n * 2 * 2 * seq_len * d,
        "feed-forward": n * 2 * 2 * d * f,
        "pooler": 2 * d * d / seq_len,
    }
    flops["total"] = sum(flops.values())
    return flops
