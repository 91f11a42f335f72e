"""A BERT encoder built from the attention pieces, able to load the weights of a Hugging Face BERT.

:class:`EncoderConfig` (the shape, named as in Hugging Face's ``BertConfig``), :class:`BertEmbeddings`,
:class:`EncoderLayer` (post-LN, as in BERT), :class:`BertEncoder` and :func:`from_hf`, which copies a
Hugging Face ``BertModel``'s weights into it by name.

Shapes: token ids ``(batch, seq_len)``; hidden states ``(batch, seq_len, hidden_size)``; attention weights
``(batch, heads, seq_len, seq_len)``. (``hidden_size`` is the ``d_model`` of the attention modules.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from labkit.attention.masks import padding_mask
from labkit.attention.multi_head import MultiHeadAttention

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

    ``input_ids`` ``(batch, seq_len)`` (+ optional ``token_type_ids`` ``(batch, seq_len)``) ->
    ``(batch, seq_len, hidden_size)``.
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
        positions = torch.arange(length, device=input_ids.device)[None, :]  # (1, seq_len)
        x = self.word(input_ids) + self.segment(token_type_ids) + self.position(positions)
        return self.dropout(self.norm(x))


class EncoderLayer(nn.Module):
    """One post-LN Transformer encoder layer, as in BERT.

    ``x = LayerNorm(x + Dropout(MultiHeadAttention(x)))`` then ``x = LayerNorm(x + Dropout(FFN(x)))`` with
    ``FFN(x) = W_2 act(W_1 x + b_1) + b_2``. ``(batch, seq_len, hidden_size)`` -> same shape, and weights
    ``(batch, heads, seq_len, seq_len)``.
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

    * ``last_hidden_state``: ``(batch, seq_len, hidden_size)``;
    * ``pooler_output``: ``(batch, hidden_size)``, ``tanh(W h_[CLS] + b)``;
    * ``hidden_states``: embeddings then each layer's output, ``num_hidden_layers + 1`` tensors
      ``(batch, seq_len, hidden_size)``;
    * ``attentions``: each layer's weights, ``num_hidden_layers`` tensors ``(batch, heads, seq_len, seq_len)``.
    """

    last_hidden_state: Tensor
    pooler_output: Tensor
    hidden_states: tuple[Tensor, ...]
    attentions: tuple[Tensor, ...]


def _hf_parameter_names(num_layers: int) -> dict[str, str]:
    """``{our parameter name: the name of the same tensor in a Hugging Face BertModel}``."""
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
    for index in range(num_layers):
        for mine, theirs in per_layer.items():
            for kind in ("weight", "bias"):
                mapping[f"layers.{index}.{mine}.{kind}"] = f"encoder.layer.{index}.{theirs}.{kind}"
    return mapping


class BertEncoder(nn.Module):
    """A BERT encoder built from the pieces above: embeddings, ``num_hidden_layers`` post-LN layers, pooler.

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
            input_ids: ``(batch, seq_len)`` token ids.
            attention_mask: ``(batch, seq_len)``, 1 = real token, 0 = padding (as the tokenizer returns it).
            token_type_ids: ``(batch, seq_len)`` segment ids (0 for sentence A, 1 for sentence B).

        Returns:
            :class:`EncoderOutput` (hidden states and every layer's attention weights).
        """
        if attention_mask is not None and attention_mask.shape != input_ids.shape:
            raise ValueError(
                f"attention_mask must have the shape of input_ids {tuple(input_ids.shape)}, "
                f"got {tuple(attention_mask.shape)}"
            )
        mask = None if attention_mask is None else padding_mask(attention_mask)  # (batch, 1, 1, seq_len)
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
                raise TypeError(
                    f"from_hf needs a Hugging Face BertModel (or a model with .bert), got {type(model).__name__}"
                )
        if getattr(bert, "pooler", None) is None:
            raise ValueError("from_hf needs a BertModel with its pooler (add_pooling_layer=True)")
        ours = cls(EncoderConfig.from_hf(bert.config))
        source = bert.state_dict()
        mapping = _hf_parameter_names(ours.config.num_hidden_layers)
        target = ours.state_dict()
        if set(mapping) != set(target):
            raise RuntimeError(f"internal: unmapped parameters {sorted(set(target) ^ set(mapping))}")
        missing = [name for name in mapping.values() if name not in source]
        if missing:
            raise ValueError(f"the Hugging Face model lacks {missing[:5]}{'...' if len(missing) > 5 else ''}")
        for mine, theirs in mapping.items():
            if source[theirs].shape != target[mine].shape:
                raise ValueError(
                    f"shape mismatch for {theirs}: expected {tuple(target[mine].shape)}, "
                    f"got {tuple(source[theirs].shape)}"
                )
        ours.load_state_dict({mine: source[theirs] for mine, theirs in mapping.items()})
        return ours.eval()


def from_hf(model: nn.Module) -> BertEncoder:
    """Shortcut for :meth:`BertEncoder.from_hf`."""
    return BertEncoder.from_hf(model)
