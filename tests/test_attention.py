"""labkit.attention against PyTorch's kernels and against transformers' BERT (MiniLM)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from labkit import attention as A

TOLERANCE = 1e-5  # float32, our attention vs PyTorch's
MODEL_TOLERANCE = 1e-4  # our encoder vs transformers' BertModel

SENTENCES = [
    "The film is a charming, funny and deeply moving portrait of a family.",
    "Dull.",
    "It never quite decides whether it wants to be a thriller or a comedy, and it fails at both.",
    "A small gem.",
]


def _random_key_mask(batch: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """An attention_mask (B, L) of 0/1 with right padding; every row keeps at least one real token.

    The first row is full (when B > 1) and the last is always padded, so padding is really exercised.
    """
    lengths = torch.randint(1, length + 1, (batch,), generator=generator)
    lengths[0] = length
    lengths[-1] = torch.randint(1, length, (1,), generator=generator)
    return (torch.arange(length)[None, :] < lengths[:, None]).long()


# ------------------------------------------------------------------------------------------------
# masks
# ------------------------------------------------------------------------------------------------


def test_padding_mask_shape_and_meaning() -> None:
    mask = A.padding_mask(torch.tensor([[1, 1, 0], [1, 0, 0]]))
    assert mask.shape == (2, 1, 1, 3) and mask.dtype == torch.bool
    assert mask[0, 0, 0].tolist() == [True, True, False]
    assert mask[1, 0, 0].tolist() == [True, False, False]


def test_causal_mask_is_lower_triangular() -> None:
    mask = A.causal_mask(4)
    assert mask.shape == (4, 4) and mask.dtype == torch.bool
    assert mask.tolist() == [[j <= i for j in range(4)] for i in range(4)]
    assert A.causal_mask(2, key_length=4).tolist() == [[True, True, True, False], [True, True, True, True]]


def test_combine_masks_is_logical_and() -> None:
    combined = A.combine_masks(A.padding_mask(torch.tensor([[1, 1, 0]])), A.causal_mask(3), None)
    assert combined.shape == (1, 1, 3, 3)
    assert combined[0, 0].tolist() == [[True, False, False], [True, True, False], [True, True, False]]
    assert A.combine_masks(None, None) is None


# ------------------------------------------------------------------------------------------------
# scaled dot-product attention == torch's
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mask_kind", ["none", "padding", "causal", "padding+causal", "arbitrary"])
@pytest.mark.parametrize("seed", range(4))
def test_sdpa_matches_torch(mask_kind: str, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    batch, heads = (int(x) for x in torch.randint(1, 5, (2,), generator=generator))
    length = int(torch.randint(2, 17, (1,), generator=generator))
    d_k, d_v = (int(x) for x in torch.randint(1, 33, (2,), generator=generator))
    q = torch.randn(batch, heads, length, d_k, generator=generator)
    k = torch.randn(batch, heads, length, d_k, generator=generator)
    v = torch.randn(batch, heads, length, d_v, generator=generator)
    mask = {
        "none": None,
        "padding": A.padding_mask(_random_key_mask(batch, length, generator)),
        "causal": A.causal_mask(length),
        "padding+causal": A.combine_masks(
            A.padding_mask(_random_key_mask(batch, length, generator)), A.causal_mask(length)
        ),
        "arbitrary": torch.rand(batch, heads, length, length, generator=generator) < 0.6,
    }[mask_kind]
    outputs, weights = A.scaled_dot_product_attention(q, k, v, mask)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert outputs.shape == (batch, heads, length, d_v)
    assert weights.shape == (batch, heads, length, length)
    assert (outputs - expected).abs().max().item() <= TOLERANCE
    # the weights are a distribution over the allowed keys (rows with no allowed key are all zero)
    if mask is not None:
        allowed = mask.expand_as(weights)
        assert weights[~allowed].abs().sum().item() == 0.0
        has_key = allowed.any(-1)
        assert torch.allclose(weights.sum(-1)[has_key], torch.ones(()), atol=1e-6)
    else:
        assert torch.allclose(weights.sum(-1), torch.ones(()), atol=1e-6)


def test_sdpa_is_causal_equals_torch_is_causal() -> None:
    generator = torch.Generator().manual_seed(7)
    q, k, v = (torch.randn(2, 3, 9, 8, generator=generator) for _ in range(3))
    ours, _ = A.scaled_dot_product_attention(q, k, v, A.causal_mask(9))
    assert (ours - F.scaled_dot_product_attention(q, k, v, is_causal=True)).abs().max().item() <= TOLERANCE


def test_sdpa_cross_attention_different_lengths_and_scale() -> None:
    generator = torch.Generator().manual_seed(3)
    q = torch.randn(2, 5, 16, generator=generator)
    k = torch.randn(2, 11, 16, generator=generator)
    v = torch.randn(2, 11, 4, generator=generator)
    mask = A.padding_mask(_random_key_mask(2, 11, generator))[:, 0]  # (B, 1, Lk)
    ours, weights = A.scaled_dot_product_attention(q, k, v, mask, scale=0.3)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.3)
    assert weights.shape == (2, 5, 11)
    assert (ours - expected).abs().max().item() <= TOLERANCE


def test_fully_blocked_row_gives_zeros_like_torch() -> None:
    """Left padding + causal leaves the first query with no allowed key: zeros, not NaN, as in PyTorch."""
    generator = torch.Generator().manual_seed(5)
    q, k, v = (torch.randn(1, 2, 4, 8, generator=generator) for _ in range(3))
    mask = A.combine_masks(A.padding_mask(torch.tensor([[0, 1, 1, 1]])), A.causal_mask(4))
    ours, weights = A.scaled_dot_product_attention(q, k, v, mask)
    assert not torch.isnan(ours).any() and weights[0, :, 0].abs().sum().item() == 0.0
    assert (ours - F.scaled_dot_product_attention(q, k, v, attn_mask=mask)).abs().max().item() <= TOLERANCE


def test_mask_changes_the_result() -> None:
    """Guard against a mask that is silently ignored."""
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 1, 6, 4, generator=generator) for _ in range(3))
    unmasked, _ = A.scaled_dot_product_attention(q, k, v)
    masked, weights = A.scaled_dot_product_attention(q, k, v, A.causal_mask(6))
    assert (unmasked - masked).abs().max().item() > 1e-2
    assert weights[0, 0, 0].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0]


# ------------------------------------------------------------------------------------------------
# multi-head attention == torch.nn.MultiheadAttention
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mask_kind", ["none", "padding", "causal", "padding+causal"])
@pytest.mark.parametrize("seed", range(3))
def test_multi_head_matches_torch(mask_kind: str, seed: int) -> None:
    generator = torch.Generator().manual_seed(100 + seed)
    heads = int(torch.randint(1, 5, (1,), generator=generator))
    d_model = heads * int(torch.randint(1, 9, (1,), generator=generator))
    batch = int(torch.randint(1, 4, (1,), generator=generator))
    length = int(torch.randint(2, 13, (1,), generator=generator))
    torch.manual_seed(seed)
    reference = torch.nn.MultiheadAttention(d_model, heads, batch_first=True).eval()
    with torch.no_grad():  # non-zero biases, so that copying them is tested too
        reference.in_proj_bias.normal_()
        reference.out_proj.bias.normal_()
    ours = A.MultiHeadAttention.from_torch(reference).eval()
    x = torch.randn(batch, length, d_model, generator=generator)
    attention_mask = _random_key_mask(batch, length, generator)

    # PyTorch's nn.MultiheadAttention: boolean True means *blocked* (the opposite of ours)
    torch_kwargs: dict[str, torch.Tensor] = {}
    our_mask = None
    if "padding" in mask_kind:
        torch_kwargs["key_padding_mask"] = attention_mask == 0
        our_mask = A.padding_mask(attention_mask)
    if "causal" in mask_kind:
        torch_kwargs["attn_mask"] = ~A.causal_mask(length)
        our_mask = A.combine_masks(our_mask, A.causal_mask(length))
    with torch.no_grad():
        expected, expected_weights = reference(x, x, x, need_weights=True, average_attn_weights=False, **torch_kwargs)
        output, weights = ours(x, mask=our_mask)
    assert output.shape == (batch, length, d_model)
    assert weights.shape == (batch, heads, length, length)
    assert (output - expected).abs().max().item() <= TOLERANCE
    assert (weights - expected_weights).abs().max().item() <= TOLERANCE


def test_multi_head_is_concat_of_heads_times_w_o() -> None:
    """MultiHead(Q,K,V) = Concat(head_1..head_h) W^O, computed head by head."""
    torch.manual_seed(0)
    mha = A.MultiHeadAttention(12, 3).eval()
    x = torch.randn(2, 5, 12)
    with torch.no_grad():
        output, _ = mha(x)
        heads = []
        for h in range(3):
            cols = slice(4 * h, 4 * (h + 1))
            q = x @ mha.q_proj.weight[cols].T + mha.q_proj.bias[cols]
            k = x @ mha.k_proj.weight[cols].T + mha.k_proj.bias[cols]
            v = x @ mha.v_proj.weight[cols].T + mha.v_proj.bias[cols]
            heads.append(torch.softmax(q @ k.transpose(-1, -2) / 2.0, -1) @ v)
        by_hand = mha.out_proj(torch.cat(heads, dim=-1))
    assert (output - by_hand).abs().max().item() <= TOLERANCE


def test_self_attention_is_permutation_equivariant() -> None:
    torch.manual_seed(0)
    mha = A.MultiHeadAttention(8, 2).eval()
    x = torch.randn(1, 6, 8)
    permutation = torch.tensor([3, 0, 5, 1, 4, 2])
    with torch.no_grad():
        output, _ = mha(x)
        permuted, _ = mha(x[:, permutation])
    assert (permuted - output[:, permutation]).abs().max().item() <= TOLERANCE
    # adding positions breaks the symmetry
    encode = A.SinusoidalPositionalEncoding(8, max_length=16)
    with torch.no_grad():
        output, _ = mha(encode(x))
        permuted, _ = mha(encode(x[:, permutation]))
    assert (permuted - output[:, permutation]).abs().max().item() > 1e-3


# ------------------------------------------------------------------------------------------------
# positional encodings
# ------------------------------------------------------------------------------------------------


def test_sinusoidal_encoding_values() -> None:
    encoding = A.sinusoidal_positional_encoding(50, 16)
    assert encoding.shape == (50, 16)
    assert encoding[0, 0::2].abs().max().item() == 0.0 and encoding[0, 1::2].tolist() == [1.0] * 8
    position, i = 7, 3
    angle = position / 10000 ** (2 * i / 16)
    assert abs(encoding[position, 2 * i].item() - torch.sin(torch.tensor(angle)).item()) < 1e-6
    assert abs(encoding[position, 2 * i + 1].item() - torch.cos(torch.tensor(angle)).item()) < 1e-6


def test_learned_encoding_adds_one_vector_per_position() -> None:
    torch.manual_seed(0)
    learned = A.LearnedPositionalEncoding(4, max_length=10)
    x = torch.zeros(2, 3, 4)
    assert torch.equal(learned(x)[1], learned.embedding.weight[:3])
    with pytest.raises(ValueError, match="seq_len <= 10"):
        learned(torch.zeros(1, 11, 4))


# ------------------------------------------------------------------------------------------------
# the BERT encoder == transformers' BertModel (packaged MiniLM)
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm():
    from labkit import models

    return models.load("minilm-l6", task="base", attn_implementation="eager")


@pytest.fixture(scope="module")
def encoder(minilm):
    return A.from_hf(minilm.model)


def test_encoder_reproduces_minilm(minilm, encoder) -> None:
    tokenizer, model = minilm
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    assert (batch["attention_mask"] == 0).any(), "the test must include padding"
    with torch.no_grad():
        expected = model(**batch, output_attentions=True)
        ours = encoder(**batch)
    assert len(expected.attentions) == len(ours.attentions) == 6
    assert ours.last_hidden_state.shape == expected.last_hidden_state.shape == (4, batch["input_ids"].shape[1], 384)
    real = batch["attention_mask"].bool()
    # every position, padding included (padding queries are computed the same way in both)
    assert (ours.last_hidden_state - expected.last_hidden_state).abs().max().item() <= MODEL_TOLERANCE
    assert (ours.pooler_output - expected.pooler_output).abs().max().item() <= MODEL_TOLERANCE
    for theirs, mine in zip(expected.attentions, ours.attentions, strict=True):
        assert mine.shape == theirs.shape == (4, 12, batch["input_ids"].shape[1], batch["input_ids"].shape[1])
        assert (mine - theirs).abs().max().item() <= MODEL_TOLERANCE
        # padding keys get exactly zero weight
        assert mine.masked_select(~real[:, None, None, :]).abs().sum().item() == 0.0


def test_encoder_with_sentence_pairs(minilm, encoder) -> None:
    tokenizer, model = minilm
    batch = tokenizer(SENTENCES[:2], SENTENCES[2:], padding=True, return_tensors="pt")
    assert batch["token_type_ids"].max().item() == 1
    with torch.no_grad():
        expected = model(**batch)
        ours = encoder(**batch)
    real = batch["attention_mask"].bool()
    assert (ours.last_hidden_state - expected.last_hidden_state)[real].abs().max().item() <= MODEL_TOLERANCE


def test_encoder_detects_a_wrong_weight(minilm) -> None:
    """The comparison above can fail: perturb one weight and it does."""
    tokenizer, model = minilm
    broken = A.from_hf(model)
    with torch.no_grad():
        broken.layers[3].attention.k_proj.weight[0, 0] += 0.5
    batch = tokenizer(SENTENCES[:1], return_tensors="pt")
    with torch.no_grad():
        expected = model(**batch, output_attentions=True)
        ours = broken(**batch)
    assert (ours.attentions[3] - expected.attentions[3]).abs().max().item() > MODEL_TOLERANCE


def test_parameter_counts_and_flops_match_the_model(minilm, encoder) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    tokenizer, model = minilm
    counts = A.parameter_counts(encoder.config)
    assert counts["total"] == sum(p.numel() for p in model.parameters())
    assert counts["total"] == sum(p.numel() for p in encoder.parameters())
    batch = tokenizer(SENTENCES[:1], return_tensors="pt")
    length = batch["input_ids"].shape[1]
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(**batch)
    assert counter.get_total_flops() / length == pytest.approx(A.flops_per_token(encoder.config, length)["total"])


# ------------------------------------------------------------------------------------------------
# bad input -> clear errors
# ------------------------------------------------------------------------------------------------


def test_mismatched_q_k_dimension() -> None:
    with pytest.raises(ValueError, match=r"expected k of shape \(\.\.\., Lk, 8\)"):
        A.scaled_dot_product_attention(torch.randn(2, 4, 8), torch.randn(2, 4, 6), torch.randn(2, 4, 8))


def test_mismatched_k_v_length() -> None:
    with pytest.raises(ValueError, match=r"expected v of shape \(\.\.\., 4, Dv\)"):
        A.scaled_dot_product_attention(torch.randn(2, 4, 8), torch.randn(2, 4, 8), torch.randn(2, 5, 8))


def test_mask_of_wrong_shape() -> None:
    q = torch.randn(2, 3, 5, 8)
    with pytest.raises(ValueError, match=r"\(2, 3, 5, 5\)"):
        A.scaled_dot_product_attention(q, q, q, torch.ones(2, 3, 5, 4, dtype=torch.bool))


def test_mask_of_wrong_dtype() -> None:
    q = torch.randn(1, 4, 8)
    with pytest.raises(TypeError, match="torch.bool"):
        A.scaled_dot_product_attention(q, q, q, torch.ones(1, 4, 4, dtype=torch.long))


def test_d_model_not_divisible_by_heads() -> None:
    with pytest.raises(ValueError, match=r"d_model \(10\) must be divisible by num_heads \(3\)"):
        A.MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="divisible"):
        A.EncoderConfig(hidden_size=100, num_attention_heads=12)


def test_multi_head_wrong_input_width() -> None:
    mha = A.MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match=r"\(batch, seq_len, d_model=8\)"):
        mha(torch.randn(1, 4, 6))


def test_padding_mask_rejects_bad_attention_mask() -> None:
    with pytest.raises(ValueError, match=r"\(batch, seq_len\)"):
        A.padding_mask(torch.ones(4))
    with pytest.raises(ValueError, match="0/1"):
        A.padding_mask(torch.tensor([[1, 2]]))


def test_encoder_rejects_mismatched_attention_mask(encoder) -> None:
    with pytest.raises(ValueError, match=r"shape of input_ids \(1, 4\)"):
        encoder(torch.ones(1, 4, dtype=torch.long), attention_mask=torch.ones(1, 5, dtype=torch.long))


def test_from_hf_rejects_other_models() -> None:
    with pytest.raises(TypeError, match="BertModel"):
        A.from_hf(torch.nn.Linear(2, 2))
