"""Reading a model's attention weights, and attention rollout (Abnar & Zuidema, 2020).

Attention weights say, for every layer and head, how much each token's new vector draws on each
token's vector from the layer below: row ``i`` of a ``(seq, seq)`` attention matrix is a probability
distribution over the tokens that token ``i`` attends to. Reading them needs a model loaded with
``attn_implementation="eager"``: in transformers 5 the default (SDPA) attention computes the same
output without ever forming those matrices, so it has none to return.

One layer's attention tells only part of the story, because every layer mixes tokens that earlier
layers have already mixed. *Attention rollout* follows the mixing through the layers: average the heads
of each layer, add the identity (the residual connection carries each token's own vector past the
attention), renormalise the rows, and multiply the layers together from the first upward.

Shapes used here: ``layers`` (encoder layers), ``batch`` (texts), ``heads`` (attention heads per layer),
``seq`` (tokens, special tokens included).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from labkit.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = [
    "attention_rollout",
    "attention_weights",
    "attention_weights_many",
    "cls_attention",
    "cls_rollout",
    "stack_attentions",
]

_EAGER_HINT = ('load it with attn_implementation="eager" (labkit.models.load(name, task=..., '
               'attn_implementation="eager")) or call model.set_attn_implementation("eager") first')


def _check_eager(model: PreTrainedModel) -> None:
    """Refuse a model whose attention implementation cannot return attention weights."""
    implementation = getattr(model.config, "_attn_implementation", None)
    if implementation != "eager":
        raise ConfigError(
            f"this model computes attention with {implementation!r}, which returns no attention weights "
            f"in transformers 5: {_EAGER_HINT}")


def _encode(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int) -> dict[str, torch.Tensor]:
    """Tokenise texts (padded to the longest, truncated at ``max_length``) as a batch of tensors."""
    if not isinstance(texts, (list, tuple)) or not all(isinstance(text, str) for text in texts):
        raise ConfigError(f"texts must be a list of strings, got {type(texts).__name__}")
    if not texts:
        raise ConfigError("no texts given: pass at least one text")
    if not all(text.strip() for text in texts):
        raise ConfigError("every text must be a non-empty string (one is empty or only spaces)")
    if max_length < 2:
        raise ConfigError(f"max_length must leave room for [CLS] and [SEP] (at least 2), got {max_length}")
    return tokenizer(texts, truncation=True, max_length=max_length, padding=True, return_tensors="pt")


def _run_with_attentions(model: PreTrainedModel, encoding: dict[str, torch.Tensor]) -> torch.Tensor:
    """One forward pass that returns the attention weights, stacked: ``(layers, batch, heads, seq, seq)``."""
    _check_eager(model)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()  # dropout off: the weights of the model as it predicts
    try:
        with torch.no_grad():
            outputs = model(**{key: value.to(device) for key, value in encoding.items()}, output_attentions=True)
    finally:
        model.train(was_training)
    attentions = getattr(outputs, "attentions", None)
    if not attentions or any(layer is None for layer in attentions):
        raise ConfigError(f"the model returned no attention weights: {_EAGER_HINT}")
    return torch.stack([layer.detach().cpu() for layer in attentions])


def attention_weights(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, text: str,
                      max_length: int = 128) -> tuple[list[str], torch.Tensor]:
    """The attention weights of every layer and head for one text.

    Returns ``(tokens, attentions)``: ``tokens`` are the model's input tokens
    (``tokenizer.convert_ids_to_tokens`` of the encoded text, special tokens included, truncated at
    ``max_length``); ``attentions`` has shape ``(layers, heads, seq, seq)`` and
    ``attentions[layer, head, i]`` is the distribution of token ``i``'s attention over the tokens
    (each row sums to one). The model must be loaded with ``attn_implementation="eager"``.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"text must be a non-empty string, got {text!r}")
    encoding = _encode(tokenizer, [text], max_length)
    tokens = tokenizer.convert_ids_to_tokens(encoding["input_ids"][0].tolist())
    return tokens, _run_with_attentions(model, encoding)[:, 0]


def attention_weights_many(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str],
                           max_length: int = 128) -> list[tuple[list[str], torch.Tensor]]:
    """:func:`attention_weights` for several texts in one padded forward pass.

    Each text gets its own ``(tokens, attentions)`` pair, cut to its own length: ``attentions`` is
    ``(layers, heads, seq_i, seq_i)`` for text ``i``. The padding positions are masked out of the
    attention, so they receive zero weight and the cut rows still sum to one: the result equals one
    :func:`attention_weights` call per text (up to float rounding).
    """
    encoding = _encode(tokenizer, texts, max_length)
    attentions = _run_with_attentions(model, encoding)
    results = []
    for index, mask in enumerate(encoding["attention_mask"]):
        positions = mask.nonzero().flatten()  # the real tokens (padding may sit on the left or the right)
        ids = encoding["input_ids"][index, positions].tolist()
        one_text = attentions[:, index][:, :, positions][:, :, :, positions]  # (layers, heads, seq_i, seq_i)
        results.append((tokenizer.convert_ids_to_tokens(ids), one_text))
    return results


def stack_attentions(attentions: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
    """Per-layer attentions as one tensor ``(layers, batch, heads, seq, seq)``, with their shapes checked.

    Takes what a Hugging Face model returns (a tuple with one ``(batch, heads, seq, seq)`` tensor per
    layer) or an already stacked 5-D tensor. A 4-D tensor is refused because it is ambiguous (one layer
    of a batch, or every layer of one text): for the ``(layers, heads, seq, seq)`` output of
    :func:`attention_weights` pass ``attentions.unsqueeze(1)``.
    """
    if isinstance(attentions, torch.Tensor):
        if attentions.dim() == 4:
            raise ConfigError(
                "a 4-D attention tensor is ambiguous: pass a list of per-layer (batch, heads, seq, seq) "
                "tensors, a stacked (layers, batch, heads, seq, seq) tensor, or, for one text's "
                "(layers, heads, seq, seq) from attention_weights, attentions.unsqueeze(1)")
        layers = list(attentions) if attentions.dim() == 5 else None
        if layers is None:
            raise ConfigError(f"expected attentions of shape (layers, batch, heads, seq, seq), got "
                              f"{tuple(attentions.shape)}")
    else:
        layers = list(attentions)
    if not layers:
        raise ConfigError("no attention layers given (an empty sequence): was the model loaded with "
                          'attn_implementation="eager" and run with output_attentions=True?')
    for number, layer in enumerate(layers):
        if not isinstance(layer, torch.Tensor) or layer.dim() != 4:
            shape = tuple(layer.shape) if isinstance(layer, torch.Tensor) else type(layer).__name__
            raise ConfigError(f"layer {number}: expected a (batch, heads, seq, seq) tensor, got {shape}")
        if layer.shape[-1] != layer.shape[-2]:
            raise ConfigError(f"layer {number}: attention matrices must be square (seq, seq), got "
                              f"{tuple(layer.shape[-2:])}")
        if layer.shape != layers[0].shape:
            raise ConfigError(f"layer {number} has shape {tuple(layer.shape)} but layer 0 has "
                              f"{tuple(layers[0].shape)}: every layer must have the same shape")
    return torch.stack([layer.float() for layer in layers])


def attention_rollout(attentions: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema, 2020): how much each token draws on each input token overall.

    ``attentions``: a sequence with one ``(batch, heads, seq, seq)`` tensor per layer (what a Hugging
    Face model returns with ``output_attentions=True``), or a stacked ``(layers, batch, heads, seq, seq)``
    tensor. Returns ``(batch, seq, seq)``: row ``i`` says how much token ``i`` at the top of the model
    is made of each input token; every row sums to one.

    For each layer ``l`` (first to last):

    1. average the heads: ``A_l`` is ``(batch, seq, seq)``;
    2. add the identity, for the residual connection that carries each token's own vector past the
       attention, and renormalise each row to sum to one: ``Â_l = (A_l + I) / rowsum``;
    3. multiply: ``rollout = Â_l · rollout``, starting from ``rollout = Â_1``.

    So ``rollout = Â_L · ... · Â_2 · Â_1``, the *last* layer on the *left*. Why this order: row ``i`` of
    ``Â_l`` mixes the vectors coming out of layer ``l - 1`` into token ``i``'s vector at layer ``l``.
    Token ``i`` at layer ``L`` takes ``Â_L[i, k]`` of token ``k`` at layer ``L - 1``, which itself is
    ``Â_{L-1}[k, j]`` token ``j`` from the layer below, and so on: summing over ``k`` is the matrix
    product ``Â_L · Â_{L-1}``, with the lower layer on the right. A product of matrices whose rows sum
    to one also has rows summing to one.
    """
    stacked = stack_attentions(attentions)  # (layers, batch, heads, seq, seq)
    seq = stacked.shape[-1]
    identity = torch.eye(seq, dtype=stacked.dtype, device=stacked.device)
    rollout = None
    for layer in stacked:  # from the first layer upward
        averaged = layer.mean(dim=1)  # (batch, seq, seq): the heads averaged
        with_residual = averaged + identity
        with_residual = with_residual / with_residual.sum(dim=-1, keepdim=True)
        rollout = with_residual if rollout is None else with_residual @ rollout
    return rollout


def cls_attention(attentions: Sequence[torch.Tensor] | torch.Tensor, layer: int = -1) -> torch.Tensor:
    """The ``[CLS]`` token's attention row in one layer (the last by default), heads averaged: ``(batch, seq)``.

    ``[CLS]`` is the first token, and a BERT classifier reads its prediction from ``[CLS]``'s final
    vector, so this row is the attention most often shown as "what the classifier looked at".
    ``attentions`` as for :func:`attention_rollout`. Each row sums to one.
    """
    stacked = stack_attentions(attentions)
    if not -len(stacked) <= layer < len(stacked):
        raise ConfigError(f"layer {layer} out of range for a model with {len(stacked)} layers")
    return stacked[layer].mean(dim=1)[:, 0, :]


def cls_rollout(attentions: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
    """The ``[CLS]`` row of :func:`attention_rollout`: ``(batch, seq)``, each row summing to one.

    Put beside :func:`cls_attention` and a gradient attribution to compare what each says the
    classifier's ``[CLS]`` vector is made of.
    """
    return attention_rollout(attentions)[:, 0, :]
