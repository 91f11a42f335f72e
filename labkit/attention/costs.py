"""What each component of a BERT encoder costs: parameters and matrix-multiply FLOPs per token.

Both take an :class:`~labkit.attention.encoder.EncoderConfig`; nothing is built or run.
"""

from __future__ import annotations

from labkit.attention.encoder import EncoderConfig


def parameter_counts(config: EncoderConfig) -> dict[str, int]:
    """Number of parameters per component of a :class:`BertEncoder` (weights + biases + LayerNorms).

    Keys: ``embeddings`` (token, position, segment tables and their LayerNorm), ``attention`` (all layers:
    Q, K, V, W^O and the LayerNorm after it), ``feed-forward`` (all layers: both linears and their
    LayerNorm), ``pooler``, and ``total``.
    """
    hidden, intermediate, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    table_rows = config.vocab_size + config.max_position_embeddings + config.type_vocab_size
    embeddings = table_rows * hidden + 2 * hidden
    attention = layers * (4 * (hidden * hidden + hidden) + 2 * hidden)
    feed_forward = layers * ((hidden * intermediate + intermediate) + (intermediate * hidden + hidden) + 2 * hidden)
    pooler = hidden * hidden + hidden
    counts = {"embeddings": embeddings, "attention": attention, "feed-forward": feed_forward, "pooler": pooler}
    counts["total"] = sum(counts.values())
    return counts


def flops_per_token(config: EncoderConfig, seq_len: int) -> dict[str, float]:
    """Matrix-multiply FLOPs per token of one forward pass over a sequence of ``seq_len`` tokens.

    A multiply-add counts as 2 FLOPs; embeddings (table look-ups), LayerNorm, softmax, GELU and biases are
    left out (they are a few percent). With ``d = hidden_size`` and ``f = intermediate_size``, per layer
    and token: Q, K, V and W^O projections ``4 * 2 d^2``; scores ``Q K^T`` ``2 seq_len d``; weighted sum
    of values ``2 seq_len d``; feed-forward ``2 * 2 d f``. The pooler (``2 d^2`` per *sequence*) is
    divided by ``seq_len``. Keys: ``attention projections``, ``attention scores + values``,
    ``feed-forward``, ``pooler``, ``total``.
    """
    hidden, intermediate, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    flops = {
        "attention projections": layers * 4 * 2 * hidden * hidden,
        "attention scores + values": layers * 2 * 2 * seq_len * hidden,
        "feed-forward": layers * 2 * 2 * hidden * intermediate,
        "pooler": 2 * hidden * hidden / seq_len,
    }
    flops["total"] = sum(flops.values())
    return flops
