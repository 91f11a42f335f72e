"""Self-attention and a BERT encoder, written from scratch in plain PyTorch.

Everything here is meant to be read. The pieces, from small to large, one file each:

* ``masks``: :func:`padding_mask`, :func:`causal_mask`, :func:`combine_masks`, :func:`check_mask`:
  boolean masks, ``True`` = "this query may attend to this key" (the convention of
  ``torch.nn.functional.scaled_dot_product_attention`` and of a tokenizer's ``attention_mask``;
  ``torch.nn.MultiheadAttention``'s boolean masks mean the opposite);
* ``scaled_dot_product``: :func:`scaled_dot_product_attention` -> ``(outputs, weights)``;
* ``multi_head``: :class:`MultiHeadAttention`: split into heads, attend per head, concatenate, project
  with ``W^O``;
* ``positional``: :func:`sinusoidal_positional_encoding`, :class:`SinusoidalPositionalEncoding`,
  :class:`LearnedPositionalEncoding`;
* ``encoder``: :class:`EncoderConfig`, :class:`BertEmbeddings`, :class:`EncoderLayer` (post-LN),
  :class:`BertEncoder` and :func:`from_hf` to load the weights of a Hugging Face BERT;
* ``costs``: :func:`parameter_counts` and :func:`flops_per_token`: what each component costs.

Shapes are written with names, each meaning one thing: ``batch``; ``heads`` (number of attention heads);
``seq_len`` (positions, when queries and keys are the same sequence), ``query_len`` / ``key_len``
(when they are not); ``d_model`` (model width, BERT's ``hidden_size``); ``d_k`` / ``d_v`` (width of one
head's keys / values; ``head_dim = d_model / heads``). Error messages shorten ``query_len``,
``key_len``, ``d_k``, ``d_v`` to ``Lq``, ``Lk``, ``Dk``, ``Dv``, as notebook 01 does.

Everything is importable from ``labkit.attention`` directly (``from labkit.attention import from_hf``).
"""

from __future__ import annotations

from labkit.attention.costs import flops_per_token, parameter_counts
from labkit.attention.encoder import (
    BertEmbeddings,
    BertEncoder,
    EncoderConfig,
    EncoderLayer,
    EncoderOutput,
    from_hf,
)
from labkit.attention.masks import causal_mask, check_mask, combine_masks, padding_mask
from labkit.attention.multi_head import MultiHeadAttention
from labkit.attention.positional import (
    LearnedPositionalEncoding,
    SinusoidalPositionalEncoding,
    sinusoidal_positional_encoding,
)
from labkit.attention.scaled_dot_product import scaled_dot_product_attention

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
