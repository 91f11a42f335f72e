"""Where a run's weights start: a fresh model for a config, its unigram output bias, or an existing checkpoint.

The models are plain ``transformers`` classes (``BertForPreTraining``, ``GPT2LMHeadModel``) with SDPA
attention, so a trained model is saved with ``save_pretrained`` and loads with the Auto classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from labkit.errors import ConfigError
from labkit.pretraining.presets import PretrainConfig


def build_model(config: PretrainConfig, tokenizer: Any) -> nn.Module:
    """A freshly initialised ``BertForPreTraining`` or ``GPT2LMHeadModel`` for ``config`` (SDPA attention).

    The weights are a function of ``config.seed`` (the global torch seed is set to it first).
    """
    from transformers import BertConfig, BertForPreTraining, GPT2Config, GPT2LMHeadModel

    torch.manual_seed(config.seed)
    if config.kind == "bert":
        model_config = BertConfig(
            vocab_size=len(tokenizer), hidden_size=config.hidden_size, num_hidden_layers=config.num_layers,
            num_attention_heads=config.num_heads, intermediate_size=config.intermediate_size,
            max_position_embeddings=max(512, config.max_length), hidden_dropout_prob=config.dropout,
            attention_probs_dropout_prob=config.dropout, pad_token_id=tokenizer.pad_token_id,
            tie_word_embeddings=True,
        )
        return BertForPreTraining._from_config(model_config, attn_implementation="sdpa")
    model_config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=max(1024, config.max_length), n_embd=config.hidden_size,
        n_layer=config.num_layers, n_head=config.num_heads, n_inner=config.intermediate_size,
        resid_pdrop=config.dropout, embd_pdrop=config.dropout, attn_pdrop=config.dropout,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
    )
    return GPT2LMHeadModel._from_config(model_config, attn_implementation="sdpa")


def init_unigram_bias(model: nn.Module, documents: Sequence[Sequence[Sequence[int]]]) -> None:
    """Start BERT's MLM output bias at the log unigram frequencies of the corpus.

    An untrained model then already predicts the unigram distribution, the plateau every MLM run
    must first reach, so training spends its first steps on context instead of on word counts.
    """
    bias = model.cls.predictions.bias  # (vocab,)
    counts = torch.ones(bias.numel())
    for document in documents:
        for sentence in document:
            counts += torch.bincount(torch.tensor(sentence), minlength=bias.numel())[: bias.numel()]
    with torch.no_grad():
        bias.copy_(torch.log(counts / counts.sum()))


def load_initial_checkpoint(config: PretrainConfig) -> tuple[Any, nn.Module]:
    """``(tokenizer, BertForPreTraining)`` of ``config.initial_checkpoint``, checked against ``config``'s shape.

    Continued (domain-adaptive) pretraining starts from these weights and keeps their tokenizer: a new
    vocabulary would make the learned embeddings meaningless.
    """
    from transformers import AutoTokenizer, BertForPreTraining

    from labkit.models import resolve

    if config.kind != "bert":
        raise ConfigError("initial_checkpoint is supported for BERT (kind='bert') runs")
    location = resolve(str(config.initial_checkpoint))
    tokenizer = AutoTokenizer.from_pretrained(location)
    model = BertForPreTraining.from_pretrained(location, attn_implementation="sdpa", dtype=torch.float32)
    shape = {"hidden_size": model.config.hidden_size, "num_layers": model.config.num_hidden_layers,
             "num_heads": model.config.num_attention_heads, "intermediate_size": model.config.intermediate_size}
    wanted = {key: getattr(config, key) for key in shape}
    if shape != wanted:
        raise ConfigError(f"{config.initial_checkpoint} has shape {shape}, but the config asks for {wanted}")
    return tokenizer, model
