"""labkit.bias.weat: WEAT's effect size and permutation p-value on hand-worked vectors, and SEAT's pieces."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from labkit.bias.weat import (
    EXACT_LIMIT,
    fill_templates,
    seat,
    sentence_embeddings,
    stereotyped_occupations,
    weat_association,
    weat_effect_size,
    weat_p_value,
    weat_partitions,
)
from labkit.errors import ConfigError
from labkit.models import load

# The hand-worked case. A = {a = (1, 0)}, B = {b = (0, 1)}, so s(w) = cos(w, a) - cos(w, b) = (w1 - w2) / |w|.
#   X: x1 = (2, 0)   -> s = (2 - 0) / 2   =  1.0    (length 2: cosines ignore it)
#      x2 = (3, 4)   -> s = (3 - 4) / 5   = -0.2
#   Y: y1 = (0, 1)   -> s = (0 - 1) / 1   = -1.0
#      y2 = (4, 3)   -> s = (4 - 3) / 5   =  0.2
# mean_X s = 0.4, mean_Y s = -0.4, numerator 0.8.
# s over X u Y = {1, -0.2, -1, 0.2}: mean 0, squared deviations 1 + 0.04 + 1 + 0.04 = 2.08,
# sample variance 2.08 / 3 (ddof=1), so d = 0.8 / sqrt(2.08 / 3) = 0.960769...; with ddof=0, 0.8 / sqrt(0.52).
# p-value: S = sum_X s - sum_Y s = 2 sum_X s (the total is 0). The 6 splits of the four values into two pairs:
#   {1, -0.2} -> S = 1.6 (observed)   {1, -1} -> 0     {1, 0.2} -> 2.4
#   {-0.2, -1} -> -2.4                {-0.2, 0.2} -> 0  {-1, 0.2} -> -1.6
# S >= 1.6 for {1, -0.2} and {1, 0.2}: p = 2 / 6 = 1/3.
X = np.array([[2.0, 0.0], [3.0, 4.0]])
Y = np.array([[0.0, 1.0], [4.0, 3.0]])
A = np.array([[1.0, 0.0]])
B = np.array([[0.0, 1.0]])


def test_association_of_each_vector_matches_the_hand_working() -> None:
    assert weat_association(np.vstack([X, Y]), A, B) == pytest.approx([1.0, -0.2, -1.0, 0.2])


def test_effect_size_matches_the_hand_working_with_the_sample_std() -> None:
    assert weat_effect_size(X, Y, A, B) == pytest.approx(0.8 / np.sqrt(2.08 / 3))
    assert weat_effect_size(X, Y, A, B) == pytest.approx(0.960769, abs=1e-6)
    assert weat_effect_size(X, Y, A, B, ddof=0) == pytest.approx(0.8 / np.sqrt(0.52))


def test_effect_size_changes_sign_when_the_attributes_or_targets_swap() -> None:
    assert weat_effect_size(X, Y, B, A) == pytest.approx(-weat_effect_size(X, Y, A, B))
    assert weat_effect_size(Y, X, A, B) == pytest.approx(-weat_effect_size(X, Y, A, B))


def test_exact_p_value_matches_the_hand_working() -> None:
    assert weat_partitions(2, 2) == 6
    assert weat_p_value(X, Y, A, B, exact=True) == pytest.approx(1 / 3)
    assert weat_p_value(X, Y, A, B) == pytest.approx(1 / 3)  # 6 splits: enumerated by default
    # the other direction: S >= -1.6 for 5 of the 6 splits
    assert weat_p_value(Y, X, A, B, exact=True) == pytest.approx(5 / 6)


def test_sampled_p_value_estimates_the_exact_one() -> None:
    # 5 + 5 random vectors: C(10, 5) = 252 splits, enumerated; 20,000 seeded random splits estimate the same p.
    # The estimate's standard error is at most sqrt(0.25 / 20,000) = 0.0035, so 0.02 is over 5 standard errors.
    rng = np.random.default_rng(3)
    x, y, a, b = (rng.normal(size=(5, 4)) for _ in range(4))
    x = x + 0.4 * a.mean(axis=0)  # a mild association, so p is neither 0 nor 1
    exact = weat_p_value(x, y, a, b, exact=True)
    sampled = weat_p_value(x, y, a, b, exact=False, permutations=20_000, seed=1)
    assert 0.02 < exact < 0.98
    assert sampled == pytest.approx(exact, abs=0.02)
    # an independent enumeration, written out with itertools
    s = weat_association(np.vstack([x, y]), a, b)
    observed = s[:5].sum() - s[5:].sum()
    splits = [s[list(chosen)].sum() - (s.sum() - s[list(chosen)].sum()) for chosen in combinations(range(10), 5)]
    assert exact == pytest.approx(np.mean(np.array(splits) >= observed - 1e-12))


def test_sampling_is_seeded_and_chosen_above_the_exact_limit() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 3))
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    assert weat_partitions(10, 10) > EXACT_LIMIT  # 184,756 splits: sampled by default
    first = weat_p_value(x, y, a, b, permutations=500, seed=7)
    assert first == weat_p_value(x, y, a, b, permutations=500, seed=7, exact=False)
    assert first == weat_p_value(x, y, a, b, permutations=500, seed=7)
    assert first * 501 == pytest.approx(round(first * 501))  # (1 + count) / (1 + permutations)


@pytest.mark.parametrize(("arguments", "message"), [
    ((np.zeros((0, 2)), Y, A, B), "X must be a non-empty set"),
    ((X, Y, np.zeros((0, 2)), B), "A must be a non-empty set"),
    ((X, Y, A, np.array([[0.0, 0.0]])), "zero vector"),
    ((X, Y, A, np.array([[np.nan, 1.0]])), "NaN"),
    ((X, Y, A, np.array([[1.0, 0.0, 0.0]])), "same dimension"),
])
def test_bad_sets_give_clear_errors(arguments: tuple, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        weat_effect_size(*arguments)
    with pytest.raises(ConfigError, match=message):
        weat_p_value(*arguments)


def test_the_permutation_test_needs_sets_of_the_same_size() -> None:
    assert np.isfinite(weat_effect_size(X, Y[:1], A, B))  # the effect size is defined
    with pytest.raises(ConfigError, match="same size, got 2 and 1"):
        weat_p_value(X, Y[:1], A, B)


def test_fill_templates_chooses_the_article() -> None:
    table = fill_templates(["nurse", "assistant"], ["This is {article} {word}.", "The {word} is here."])
    assert table["sentence"].tolist() == ["This is a nurse.", "The nurse is here.", "This is an assistant.",
                                          "The assistant is here."]
    with pytest.raises(ConfigError, match="at least one word"):
        fill_templates([])


def test_stereotyped_occupations_takes_the_top_and_bottom_k() -> None:
    table = pd.DataFrame({"occupation": ["a", "b", "c", "d", "e"], "percent_female": [90, 10, 50, 80, 20]})
    assert stereotyped_occupations(table, 2) == (["a", "d"], ["b", "e"])
    tied = pd.DataFrame({"occupation": ["a", "b", "c", "d"], "percent_female": [90, 80, 80, 10]})
    with pytest.raises(ConfigError, match="same % female"):
        stereotyped_occupations(tied, 2)
    with pytest.raises(ConfigError, match="between 1 and half"):
        stereotyped_occupations(table, 3)


@pytest.fixture(scope="module")
def small_encoder(tiny_model_dir: Path) -> tuple:
    return load(str(tiny_model_dir))


def test_sentence_embeddings_are_the_masked_mean_then_unit_length(small_encoder: tuple) -> None:
    tokenizer, model = small_encoder
    sentences = ["This is a nurse.", "The carpenter is here with a much longer sentence than the first."]
    embedded = sentence_embeddings(tokenizer, model, sentences)
    assert embedded.shape == (2, model.config.hidden_size)
    assert np.linalg.norm(embedded, axis=1) == pytest.approx([1.0, 1.0])
    # by hand, one sentence at a time (no padding): the mean over every token, then divided by its length
    for row, sentence in enumerate(sentences):
        batch = tokenizer(sentence, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**batch).last_hidden_state[0]  # (seq, hidden)
        mean = hidden.mean(dim=0).double().numpy()
        assert embedded[row] == pytest.approx(mean / np.linalg.norm(mean), abs=1e-5)
    with pytest.raises(ConfigError, match="no sentences"):
        sentence_embeddings(tokenizer, model, [])


def test_seat_is_weat_on_the_template_sentences(small_encoder: tuple) -> None:
    tokenizer, model = small_encoder
    templates = ("This is {article} {word}.", "The {word} is here.")
    targets, attributes = (["nurse", "secretary"], ["carpenter", "driver"]), (["woman", "girl"], ["man", "boy"])
    table = seat(tokenizer, model, targets, attributes, templates=templates)
    assert table.index.tolist() == ["all templates", *templates]
    assert table["n_per_set"].tolist() == [4, 2, 2]
    vectors = {name: sentence_embeddings(tokenizer, model, fill_templates(words, templates)["sentence"].tolist())
               for name, words in zip("XYAB", [*targets, *attributes], strict=True)}
    assert table.loc["all templates", "effect_size"] == pytest.approx(weat_effect_size(*vectors.values()))
    assert table.loc["all templates", "p_value"] == pytest.approx(weat_p_value(*vectors.values()))
    assert table["exact"].all()  # C(8, 4) = 70 splits
