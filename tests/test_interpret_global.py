"""labkit.interpret's agreement between explanations and global feature importance, on hand-worked examples."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

from labkit.interpret.agreement import (
    agreement_over_texts,
    content_positions,
    explanation_rows,
    kendall_tau,
    spearman_rho,
    summarise_agreement,
)
from labkit.interpret.global_importance import (
    compare_importance,
    logistic_regression_importance,
    logistic_regression_weights,
    merge_word_pieces,
    word_importance,
)
from labkit.interpret.token_attribution import TokenAttribution
from tests.conftest import NEGATIVE, POSITIVE, toy_sentiment

TOKENS = ["[CLS]", "a", "b", "c", "d", "[SEP]"]

# --- agreement ---------------------------------------------------------------------------------


def test_kendall_tau_leaves_special_tokens_out_and_matches_scipy() -> None:
    first = [9.0, 1.0, 2.0, 3.0, 4.0, -9.0]
    second = [-5.0, 1.0, 3.0, 2.0, 4.0, 7.0]
    # over a b c d: (1, 2, 3, 4) against (1, 3, 2, 4): of the 6 pairs only (b, c) is discordant: (5 - 1) / 6
    assert kendall_tau(first, second, TOKENS) == pytest.approx(2 / 3)
    assert kendall_tau(first, second, TOKENS) == pytest.approx(kendalltau([1, 2, 3, 4], [1, 3, 2, 4])[0])
    # the special tokens, if counted, would change the answer: [CLS] and [SEP] disagree completely
    assert kendalltau(first, second)[0] != pytest.approx(2 / 3)
    np.testing.assert_array_equal(content_positions(TOKENS), [1, 2, 3, 4])
    assert np.isnan(kendall_tau([0, 1, 1, 1, 1, 0], first, TOKENS))  # a constant map has no ranking
    with pytest.raises(ValueError, match="same length"):
        kendall_tau(first, second[:-1], TOKENS)


def test_spearman_on_signed_and_absolute_scores() -> None:
    tokens = ["[CLS]", "x", "y", "z", "[SEP]"]
    first, second = [0.0, 1.0, -3.0, 2.0, 0.0], [0.0, -1.0, 3.0, 2.0, 0.0]
    # signed ranks (2, 1, 3) vs (1, 3, 2): d = (1, -2, 1), 1 - 6 * 6 / (3 * 8) = -0.5; absolute: same ranks, 1
    assert spearman_rho(first, second, tokens) == pytest.approx(-0.5)
    assert spearman_rho(first, second, tokens, absolute=True) == pytest.approx(1.0)


def test_agreement_over_texts_gives_one_tau_per_text_and_pair() -> None:
    tokens = [TOKENS, ["[CLS]", "e", "f", "g", "[SEP]"]]
    scores = {"attention": [[5, 1, 2, 3, 4, 5], [5, 1, 2, 3, 5]],
              "rollout": [[0, 1, 2, 3, 4, 0], [0, 3, 2, 1, 0]],
              "gradient": [[0, 4, 3, 2, 1, 0], [0, 1, 2, 3, 0]]}
    frame = agreement_over_texts(scores, tokens)
    assert len(frame) == 3 * 2
    by_pair = frame.set_index(["pair", "text"])["tau"]
    assert by_pair[("attention vs rollout", 0)] == pytest.approx(1.0)
    assert by_pair[("attention vs rollout", 1)] == pytest.approx(-1.0)
    assert by_pair[("attention vs gradient", 0)] == pytest.approx(-1.0)
    assert by_pair[("rollout vs gradient", 1)] == pytest.approx(-1.0)
    summary = summarise_agreement(frame).set_index("pair")
    assert summary.loc["attention vs rollout", "median"] == pytest.approx(0.0)
    assert summary.loc["attention vs rollout", "share_positive"] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="one vector per text"):
        agreement_over_texts({"a": scores["attention"], "b": scores["rollout"][:1]}, tokens)


def test_explanation_rows_on_a_model_with_uniform_attention() -> None:
    """A 1-layer BERT with zero queries and keys attends uniformly: [CLS]'s row is 1/seq everywhere."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "film", "long"]
    tokenizer = BertTokenizer(vocab={word: index for index, word in enumerate(vocab)})
    torch.manual_seed(0)
    model = BertForSequenceClassification._from_config(
        BertConfig(vocab_size=len(vocab), hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                   intermediate_size=8, max_position_embeddings=16), attn_implementation="eager")
    with torch.no_grad():
        for projection in (model.bert.encoder.layer[0].attention.self.query,
                           model.bert.encoder.layer[0].attention.self.key):
            projection.weight.zero_()
            projection.bias.zero_()
    model.eval()
    tokens, rows = explanation_rows(model, tokenizer, "good film long", methods=("occlusion",))
    assert tokens == ["[CLS]", "good", "film", "long", "[SEP]"]
    np.testing.assert_allclose(rows["last-layer attention"], [0.2] * 5, atol=1e-6)
    # rollout of one layer: (A + I) / 2, so [CLS]'s row is (0.2 + 1) / 2 for itself and 0.2 / 2 elsewhere
    np.testing.assert_allclose(rows["rollout"], [0.6, 0.1, 0.1, 0.1, 0.1], atol=1e-6)
    assert rows["occlusion"].shape == (5,)


# --- global feature importance -----------------------------------------------------------------


def test_word_pieces_merge_into_lower_cased_words_with_summed_scores() -> None:
    tokens = ["[CLS]", "un", "##for", "##get", "##table", "Movie", "!", "[SEP]"]
    scores = [9.0, 0.5, 0.25, 0.125, 0.125, -1.0, 0.5, 9.0]
    assert merge_word_pieces(tokens, scores) == [("unforgettable", 1.0), ("movie", -1.0), ("!", 0.5)]
    with pytest.raises(ValueError, match="one score per token"):
        merge_word_pieces(tokens, scores[:-1])


def attribution(tokens: list[str], scores: list[float], target: int = 1) -> TokenAttribution:
    return TokenAttribution(tokens, np.array(scores), target, np.array([0.5, 0.5]), "hand")


def test_word_importance_aggregates_words_over_texts() -> None:
    texts = [attribution(["[CLS]", "great", "fil", "##m", "[SEP]"], [0, 2.0, 0.5, 0.5, 0]),
             attribution(["[CLS]", "Great", "great", "plot", "[SEP]"], [0, 4.0, 0.0, -1.0, 0])]
    table = word_importance(texts).set_index("word")
    # great: 2, 4, 0 -> mean 2, total 6, seen 3 times in 2 texts; film: 1 once; plot: -1 once
    assert table.loc["great", ["mean_score", "total", "count", "texts"]].tolist() == [2.0, 6.0, 3, 2]
    assert table.loc["film", ["mean_score", "count"]].tolist() == [1.0, 1]
    assert list(table.index) == ["great", "film", "plot"]  # highest mean first
    assert list(word_importance(texts, min_count=2)["word"]) == ["great"]
    with pytest.raises(ValueError, match="different classes"):
        word_importance([texts[0], attribution(["[CLS]", "a", "[SEP]"], [0, 1, 0], target=0)])


def test_logistic_regression_top_words_are_the_obvious_ones() -> None:
    from labkit.finetune import tfidf_logistic_regression, tfidf_pipeline

    texts = ["great film", "great plot", "a great cast", "dull film", "dull plot", "a dull cast",
             "great fun", "dull story", "the film", "the plot"]
    labels = [1, 1, 1, 0, 0, 0, 1, 0, 1, 0]
    pipeline = tfidf_pipeline().fit(texts, labels)
    weights = logistic_regression_weights(pipeline, unigrams_only=True)
    assert list(weights.columns) == [1]  # two classes: one coefficient vector, for class 1
    assert weights[1].idxmax() == "great" and weights[1].idxmin() == "dull"
    top = logistic_regression_importance(pipeline, k=2)
    positive = top[top["direction"] == "positive"]
    assert positive["feature"].iloc[0] == "great" and positive["rank"].tolist() == [1, 2]
    assert top[top["direction"] == "negative"]["feature"].iloc[0] == "dull"
    named = logistic_regression_weights(SimpleNamespace(model=pipeline, label_names=["negative", "positive"]))
    assert list(named.columns) == ["positive"]
    # the kit's baseline on the toy task: the top 5 words for "positive" are its 5 positive words
    result = tfidf_logistic_regression(toy_sentiment(), C_values=(1.0,))
    table = logistic_regression_importance(result, k=5, unigrams_only=True)
    assert set(table[table["direction"] == "positive"]["feature"]) == set(POSITIVE)
    assert set(table[table["direction"] == "negative"]["feature"]) == set(NEGATIVE)
    with pytest.raises(ValueError, match="not fitted"):
        logistic_regression_weights(tfidf_pipeline())


def test_compare_importance_overlap_and_rank_correlation() -> None:
    first = pd.Series({"great": 3.0, "fun": 2.0, "film": 0.1, "awful": -3.0})
    second = pd.Series({"Great": 1.0, "film": 0.8, "awful": -2.0, "boring": -1.0})
    comparison = compare_importance(first, second, k=2)
    assert comparison.top_first == ["great", "fun"] and comparison.top_second == ["great", "film"]
    assert comparison.overlap == ["great"] and comparison.overlap_share == 0.5
    # shared words great, film, awful: (3, 0.1, -3) and (1, 0.8, -2) are in the same order
    assert comparison.shared_words == 3
    assert comparison.spearman == pytest.approx(1.0)
