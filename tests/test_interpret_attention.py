"""labkit.interpret.attention: attention weights as the model returns them, and rollout against numpy.

The reference for rollout is Abnar & Zuidema's formula written out in numpy a different way: each layer
is ``0.5 * head-mean + 0.5 * I`` (the same as "add I and renormalise" when attention rows sum to one)
and the product is one ``np.linalg.multi_dot`` over the layers listed last first.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from labkit.errors import ConfigError
from labkit.interpret.attention import (
    attention_rollout,
    attention_weights,
    attention_weights_many,
    cls_attention,
    cls_rollout,
    stack_attentions,
)
from labkit.models import load

TEXTS = ["The plot was thin, but the actors were wonderful.", "Dull.", "A moving, funny film."]


@pytest.fixture(scope="module")
def eager_bert():
    torch.manual_seed(0)
    return load("tiny-bert", task="sequence-classification", num_labels=2, attn_implementation="eager")


def random_attentions(layers: int, batch: int, heads: int, seq: int, seed: int = 0) -> list[torch.Tensor]:
    """Per-layer (batch, heads, seq, seq) tensors whose rows are probability distributions."""
    generator = torch.Generator().manual_seed(seed)
    return [torch.softmax(3 * torch.randn(batch, heads, seq, seq, generator=generator), dim=-1)
            for _ in range(layers)]


def numpy_rollout(per_layer: list[np.ndarray]) -> np.ndarray:
    """(batch, seq, seq) by the explicit formula: multi_dot(Â_L, ..., Â_1), Â_l = 0.5 A_l + 0.5 I."""
    batch, _, seq, _ = per_layer[0].shape
    result = np.empty((batch, seq, seq))
    for b in range(batch):
        mixed = [0.5 * layer[b].astype(np.float64).mean(axis=0) + 0.5 * np.eye(seq) for layer in per_layer]
        result[b] = np.linalg.multi_dot(mixed[::-1]) if len(mixed) > 1 else mixed[0]
    return result


def test_rollout_rows_sum_to_one_and_equal_a_direct_numpy_computation() -> None:
    attentions = random_attentions(layers=4, batch=3, heads=5, seq=9)
    rollout = attention_rollout(attentions)
    assert rollout.shape == (3, 9, 9)
    np.testing.assert_allclose(rollout.sum(dim=-1).numpy(), 1.0, atol=1e-6)
    expected = numpy_rollout([layer.numpy() for layer in attentions])
    np.testing.assert_allclose(rollout.numpy(), expected, atol=1e-6)
    # the order matters: the product taken the other way round (first layer on the left) is different
    reversed_order = numpy_rollout([layer.numpy() for layer in attentions[::-1]])
    assert np.abs(rollout.numpy() - reversed_order).max() > 1e-3


def test_rollout_takes_a_stacked_tensor_and_renormalises_rows_that_do_not_sum_to_one() -> None:
    attentions = random_attentions(layers=3, batch=2, heads=2, seq=5, seed=1)
    np.testing.assert_allclose(attention_rollout(torch.stack(attentions)).numpy(),
                               attention_rollout(tuple(attentions)).numpy(), atol=0)
    one_layer = [attentions[0] * 3.0]  # rows sum to 3: (A + I) renormalised is (3A + I) / 4
    expected = (3 * attentions[0].numpy().mean(axis=1) + np.eye(5)) / 4
    np.testing.assert_allclose(attention_rollout(one_layer).numpy(), expected, atol=1e-6)


def test_attention_weights_are_the_models_own_attentions(eager_bert) -> None:
    tokenizer, model = eager_bert
    tokens, attentions = attention_weights(model, tokenizer, TEXTS[0])
    encoding = tokenizer(TEXTS[0], return_tensors="pt")
    assert tokens == tokenizer.convert_ids_to_tokens(encoding["input_ids"][0])
    with torch.no_grad():
        reference = model(**encoding, output_attentions=True).attentions
    layers, heads = model.config.num_hidden_layers, model.config.num_attention_heads
    assert attentions.shape == (layers, heads, len(tokens), len(tokens))
    np.testing.assert_allclose(attentions.numpy(), torch.stack(reference)[:, 0].numpy(), atol=1e-7)
    np.testing.assert_allclose(attentions.sum(dim=-1).numpy(), 1.0, atol=1e-5)


def test_rollout_of_a_real_models_attentions_equals_numpy(eager_bert) -> None:
    tokenizer, model = eager_bert
    encoding = tokenizer(TEXTS, return_tensors="pt", padding=True)
    with torch.no_grad():
        attentions = model(**encoding, output_attentions=True).attentions  # tuple of (batch, heads, seq, seq)
    rollout = attention_rollout(attentions)
    np.testing.assert_allclose(rollout.sum(dim=-1).numpy(), 1.0, atol=1e-5)
    np.testing.assert_allclose(rollout.numpy(), numpy_rollout([layer.numpy() for layer in attentions]), atol=1e-5)
    _, one = attention_weights(model, tokenizer, TEXTS[1])
    np.testing.assert_allclose(attention_rollout(one.unsqueeze(1))[0].numpy(),
                               numpy_rollout([layer[None].numpy() for layer in one])[0], atol=1e-5)


def test_cls_rows_of_the_last_layer_and_of_rollout(eager_bert) -> None:
    tokenizer, model = eager_bert
    _, attentions = attention_weights(model, tokenizer, TEXTS[0])
    batched = attentions.unsqueeze(1)  # (layers, 1, heads, seq, seq)
    last = cls_attention(batched)
    assert last.shape == (1, attentions.shape[-1])
    np.testing.assert_allclose(last[0].numpy(), attentions[-1, :, 0, :].numpy().mean(axis=0), atol=1e-7)
    np.testing.assert_allclose(cls_attention(batched, layer=0)[0].numpy(), attentions[0, :, 0].numpy().mean(axis=0),
                               atol=1e-7)
    rollout_row = cls_rollout(batched)
    np.testing.assert_allclose(rollout_row[0].numpy(), numpy_rollout([a[None].numpy() for a in attentions])[0, 0],
                               atol=1e-5)
    np.testing.assert_allclose(rollout_row.sum().item(), 1.0, atol=1e-5)
    with pytest.raises(ConfigError, match="out of range"):
        cls_attention(batched, layer=attentions.shape[0])


def test_batched_attention_weights_equal_one_text_at_a_time(eager_bert) -> None:
    tokenizer, model = eager_bert
    batched = attention_weights_many(model, tokenizer, TEXTS)
    assert len(batched) == len(TEXTS)
    lengths = set()
    for text, (tokens, attentions) in zip(TEXTS, batched, strict=True):
        single_tokens, single = attention_weights(model, tokenizer, text)
        assert tokens == single_tokens and "[PAD]" not in tokens
        assert attentions.shape == single.shape
        np.testing.assert_allclose(attentions.numpy(), single.numpy(), atol=1e-5)
        lengths.add(len(tokens))
    assert len(lengths) == len(TEXTS)  # the texts had different lengths, so padding was exercised


def test_an_sdpa_model_is_refused_with_a_clear_message() -> None:
    tokenizer, model = load("tiny-bert", task="sequence-classification", num_labels=2, attn_implementation="sdpa")
    with pytest.raises(ConfigError, match='attn_implementation="eager"'):
        attention_weights(model, tokenizer, TEXTS[0])
    with pytest.raises(ConfigError, match="no attention weights"):
        attention_weights_many(model, tokenizer, TEXTS)


def test_attention_weights_refuse_bad_text(eager_bert) -> None:
    tokenizer, model = eager_bert
    for text in ["", "   ", None]:
        with pytest.raises(ConfigError, match="non-empty string"):
            attention_weights(model, tokenizer, text)
    for texts in ["one text, not a list", None, [1, 2]]:
        with pytest.raises(ConfigError, match="list of strings"):
            attention_weights_many(model, tokenizer, texts)
    with pytest.raises(ConfigError, match="non-empty"):
        attention_weights_many(model, tokenizer, ["fine", " "])
    with pytest.raises(ConfigError, match="at least one"):
        attention_weights_many(model, tokenizer, [])
    with pytest.raises(ConfigError, match="max_length"):
        attention_weights(model, tokenizer, "fine", max_length=1)


@pytest.mark.parametrize("attentions, message", [
    ([], "empty"),
    ([torch.ones(1, 2, 3, 4)], "square"),
    ([torch.ones(1, 2, 3, 3), torch.ones(1, 2, 4, 4)], "same shape"),
    ([torch.ones(1, 2, 3, 3), torch.ones(1, 3, 3, 3)], "same shape"),
    ([torch.ones(2, 3, 3)], r"\(batch, heads, seq, seq\)"),
    (torch.ones(2, 2, 3, 3), "ambiguous"),
    (torch.ones(3, 3), r"\(layers, batch, heads, seq, seq\)"),
])
def test_wrong_shapes_raise_clear_errors(attentions, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        attention_rollout(attentions)
    with pytest.raises(ValueError):  # ConfigError is a ValueError too
        stack_attentions(attentions)
