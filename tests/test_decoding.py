"""labkit.decoding against transformers: TopPLogitsWarper, generate(num_beams=...), generate(use_cache=...)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.generation.logits_process import TopPLogitsWarper

from labkit.decoding import CacheSpeedup, beam_search, kv_cache_speedup, top_p_filter

EOS = 3


@pytest.fixture(scope="module")
def random_gpt() -> GPT2LMHeadModel:
    """A 1-layer GPT-2 over 24 tokens, initialised with a wide spread so some beams end on EOS (id 3)."""
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=24, n_embd=16, n_layer=1, n_head=2, n_positions=32, bos_token_id=EOS,
                        eos_token_id=EOS, pad_token_id=EOS, initializer_range=0.5, tie_word_embeddings=False)
    return GPT2LMHeadModel(config).eval()


# ------------------------------------------------------------------------------------------------
# top-p
# ------------------------------------------------------------------------------------------------


def test_top_p_keeps_the_smallest_set_that_reaches_p() -> None:
    logits = torch.tensor([0.5, 0.3, 0.15, 0.05]).log()   # probabilities 0.5, 0.3, 0.15, 0.05
    kept = lambda p: torch.isfinite(top_p_filter(logits, p)).tolist()  # noqa: E731
    assert kept(0.4) == [True, False, False, False]      # 0.5 alone reaches 0.4
    assert kept(0.75) == [True, True, False, False]      # 0.5 + 0.3 = 0.8 reaches 0.75
    assert kept(0.85) == [True, True, True, False]       # 0.95 needed
    assert kept(0.99) == [True, True, True, True]
    assert kept(1.0) == [True, True, True, True]
    probs = top_p_filter(logits, 0.75).softmax(-1)        # renormalised over the nucleus
    torch.testing.assert_close(probs, torch.tensor([0.625, 0.375, 0.0, 0.0]))


def test_top_p_order_does_not_depend_on_position() -> None:
    logits = torch.tensor([0.05, 0.3, 0.5, 0.15]).log()
    assert torch.isfinite(top_p_filter(logits, 0.75)).tolist() == [False, True, True, False]


@pytest.mark.parametrize("top_p", [0.05, 0.3, 0.5, 0.8, 0.9, 0.95, 0.999])
def test_top_p_equals_transformers_warper(top_p: float) -> None:
    generator = torch.Generator().manual_seed(int(top_p * 1000))
    logits = torch.randn(16, 500, generator=generator) * 2.5    # (B, V): 16 different distributions
    ours = top_p_filter(logits, top_p)
    theirs = TopPLogitsWarper(top_p)(None, logits.clone())
    assert torch.equal(torch.isfinite(ours), torch.isfinite(theirs))
    torch.testing.assert_close(ours.softmax(-1), theirs.softmax(-1))
    assert 1 < int(torch.isfinite(ours).sum(-1).max()) < 500 or top_p < 0.1   # the test is not trivial


def test_top_p_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="top_p"):
        top_p_filter(torch.zeros(5), 0.0)
    with pytest.raises(ValueError, match="top_p"):
        top_p_filter(torch.zeros(5), 1.5)
    with pytest.raises(TypeError, match="floating-point"):
        top_p_filter(torch.arange(5), 0.9)
    with pytest.raises(ValueError, match="vocabulary"):
        top_p_filter(torch.tensor(1.0), 0.9)


# ------------------------------------------------------------------------------------------------
# beam search
# ------------------------------------------------------------------------------------------------

SETTINGS = list(itertools.product((2, 3), (0.0, 1.0, 3.0), (True, False, "never")))


def test_beam_search_equals_generate(random_gpt: GPT2LMHeadModel) -> None:
    generator = torch.Generator().manual_seed(1)
    prompts = [torch.randint(4, 24, (1, 3), generator=generator) for _ in range(3)]
    outputs: dict[tuple, set[tuple[int, ...]]] = {}
    ended_on_eos = []
    for prompt, (num_beams, length_penalty, early_stopping) in itertools.product(prompts, SETTINGS):
        settings = dict(num_beams=num_beams, max_new_tokens=8, length_penalty=length_penalty,
                        early_stopping=early_stopping)
        ours = beam_search(random_gpt, prompt, **settings)
        theirs = random_gpt.generate(prompt, do_sample=False, **settings)
        assert torch.equal(ours, theirs), (prompt.tolist(), settings, ours.tolist(), theirs.tolist())
        ended_on_eos.append(int(ours[0, -1]) == EOS)
        outputs.setdefault((tuple(prompt[0].tolist()), num_beams, early_stopping), set()).add(tuple(ours[0].tolist()))
    # the cases cover what the rules are about: hypotheses that end on EOS at different lengths, and a
    # length penalty that changes which one wins
    assert any(ended_on_eos)
    assert len({len(sequence) for group in outputs.values() for sequence in group}) > 1
    assert any(len(group) > 1 for group in outputs.values())


def test_beam_search_without_eos_keeps_the_most_probable_sequence(random_gpt: GPT2LMHeadModel) -> None:
    """With no end token every hypothesis has max_new_tokens tokens: one beam is greedy search."""
    prompt = torch.tensor([[5, 9, 11]])
    ours = beam_search(random_gpt, prompt, num_beams=1, max_new_tokens=6, eos_token_id=[])
    greedy = prompt
    with torch.no_grad():
        for _ in range(6):
            greedy = torch.cat([greedy, random_gpt(greedy).logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(ours, greedy)


def test_beam_search_rejects_bad_input(random_gpt: GPT2LMHeadModel) -> None:
    with pytest.raises(ValueError, match=r"\(1, T\)"):
        beam_search(random_gpt, torch.tensor([[5, 6], [7, 8]]), num_beams=2, max_new_tokens=3)
    with pytest.raises(TypeError, match="token ids"):
        beam_search(random_gpt, torch.tensor([[5.0, 6.0]]), num_beams=2, max_new_tokens=3)
    with pytest.raises(ValueError, match="num_beams"):
        beam_search(random_gpt, torch.tensor([[5, 6]]), num_beams=0, max_new_tokens=3)
    with pytest.raises(ValueError, match="early_stopping"):
        beam_search(random_gpt, torch.tensor([[5, 6]]), num_beams=2, max_new_tokens=3, early_stopping="sometimes")
    with pytest.raises(ValueError, match="too large"):
        beam_search(random_gpt, torch.tensor([[5, 6]]), num_beams=13, max_new_tokens=3)


# ------------------------------------------------------------------------------------------------
# KV cache
# ------------------------------------------------------------------------------------------------


def test_kv_cache_speedup_reports_each_length(random_gpt: GPT2LMHeadModel) -> None:
    threads = torch.get_num_threads()
    results = kv_cache_speedup(random_gpt, torch.tensor([[5, 9, 11]]), lengths=(8, 12), repeats=2, threads=1)
    assert [r.length for r in results] == [8, 12]
    for result in results:
        assert isinstance(result, CacheSpeedup)
        assert result.identical                   # same tokens with and without the cache, full length
        assert len(result.ratios) == 2 and all(r > 0 and math.isfinite(r) for r in result.ratios)
        assert min(result.ratios) <= result.speedup <= max(result.ratios)
    assert torch.get_num_threads() == threads     # the thread count is restored


def test_kv_cache_speedup_rejects_bad_lengths(random_gpt: GPT2LMHeadModel) -> None:
    with pytest.raises(ValueError, match="above the prompt"):
        kv_cache_speedup(random_gpt, torch.tensor([[5, 9, 11]]), lengths=(3,))
    with pytest.raises(ValueError, match="repeats"):
        kv_cache_speedup(random_gpt, torch.tensor([[5, 9, 11]]), lengths=(8,), repeats=0)
