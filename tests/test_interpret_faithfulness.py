"""labkit.interpret's faithfulness measures (ERASER, deletion curves) and the model-randomisation sanity check.

Expected values are worked by hand: from a fake probability function whose answer is arithmetic, or
from a tiny BERT built by hand to depend on one word only ("good"), whose probabilities are read from
the Hugging Face model itself, never from the code under test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from labkit.interpret.faithfulness import (
    FRACTIONS,
    deletion_curve,
    faithfulness_per_text,
    faithfulness_scores,
    faithfulness_table,
    model_probabilities,
    random_faithfulness,
    tokens_for_fraction,
)
from labkit.interpret.sanity import cascading_randomisation, randomisation_order, reinitialise, summarise_sanity
from labkit.interpret.token_attribution import TokenAttribution

CLS, SEP = 101, 102

# --- a fake model whose probabilities are arithmetic --------------------------------------------


def hand_attribution(ids: list[int], scores: list[float], target: int = 1, method: str = "hand") -> TokenAttribution:
    """A TokenAttribution over ``[CLS] ids... [SEP]`` (tokens named after their ids), special scores 0."""
    tokens = ["[CLS]", *[f"t{i}" for i in ids], "[SEP]"]
    return TokenAttribution(tokens=tokens, scores=np.array([0.0, *scores, 0.0]), target=target,
                            probabilities=np.array([0.5, 0.5]), method=method, input_ids=[CLS, *ids, SEP])


def additive_probabilities(weights: dict[int, float], base: float):
    """p(class 1) = base + the weights of the ids present; p(class 0) = 1 - that. Records every input."""
    seen: list[list[int]] = []

    def probabilities(sequences):
        seen.extend(list(sequence) for sequence in sequences)
        p = np.array([base + sum(weights.get(i, 0.0) for i in set(sequence)) for sequence in sequences])
        return np.stack([1 - p, p], axis=1)

    probabilities.seen = seen
    return probabilities


def test_k_percent_of_n_tokens_rounds_up_and_is_at_least_one_token() -> None:
    assert tokens_for_fraction(20, 0.01) == 1  # 0.2 tokens -> 1
    assert tokens_for_fraction(30, 0.10) == 3  # 0.1 * 30 is 3.0000000000000004 in floats: still 3
    assert tokens_for_fraction(7, 0.50) == 4  # 3.5 -> 4
    assert tokens_for_fraction(5, 0.20) == 1
    assert tokens_for_fraction(1, 0.50) == 1
    assert tokens_for_fraction(10, 1.0) == 10
    with pytest.raises(ValueError, match="fractions must be in"):
        tokens_for_fraction(10, 0.0)
    with pytest.raises(ValueError, match="no token"):
        tokens_for_fraction(0, 0.5)


def test_comprehensiveness_and_sufficiency_match_a_hand_worked_example() -> None:
    # p1 = 0.05 + 0.5 [id 5] + 0.3 [id 6] + 0.1 [id 7]: 0.95 on the full text. Five content tokens, ranked
    # 5 > 6 > 7 > 8 > 9. k = 1, 5, 10, 20% of 5 tokens -> 1 token; 50% -> 3 tokens.
    # Comprehensiveness: without {5}: 0.45 (drop 0.5, four times); without {5,6,7}: 0.05 (drop 0.9).
    #   (4 * 0.5 + 0.9) / 5 = 0.58.
    # Sufficiency: only {5}: 0.55 (0.95 - 0.55 = 0.4, four times); only {5,6,7}: 0.95 (0). 1.6 / 5 = 0.32.
    fake = additive_probabilities({5: 0.5, 6: 0.3, 7: 0.1}, base=0.05)
    scores = faithfulness_scores(hand_attribution([5, 6, 7, 8, 9], [5, 4, 3, 2, 1]), fake)
    assert scores.probability == pytest.approx(0.95)
    assert scores.comprehensiveness == pytest.approx(0.58)
    assert scores.sufficiency == pytest.approx(0.32)
    np.testing.assert_allclose(scores.comprehensiveness_per_fraction, [0.5, 0.5, 0.5, 0.5, 0.9])
    np.testing.assert_allclose(scores.sufficiency_per_fraction, [0.4, 0.4, 0.4, 0.4, 0.0], atol=1e-12)
    assert scores.n_tokens == 5 and scores.fractions == FRACTIONS
    # the class explained is the attribution's target: for class 0 every difference changes sign
    for_class_0 = faithfulness_scores(hand_attribution([5, 6, 7, 8, 9], [5, 4, 3, 2, 1], target=0), fake)
    assert for_class_0.comprehensiveness == pytest.approx(-0.58)


def test_deletion_removes_token_ids_keeps_special_tokens_and_keeps_the_text_order() -> None:
    fake = additive_probabilities({}, base=0.5)
    # ranked 6 > 7 > 5 > 8 > 9: the top 3 kept must come out in the text's order, 5 6 7
    attribution = hand_attribution([5, 6, 7, 8, 9], [0.2, 0.9, 0.5, 0.1, 0.0])
    faithfulness_scores(attribution, fake)
    random_faithfulness(attribution, fake, draws=3)
    deletion_curve(attribution, fake)
    assert fake.seen, "the probability function was never called"
    for sequence in fake.seen:
        assert sequence[0] == CLS and sequence[-1] == SEP
        assert sequence.count(CLS) == 1 and sequence.count(SEP) == 1
    assert [CLS, 5, 6, 7, SEP] in fake.seen  # sufficiency at 50%: top 3 kept, in order
    assert [CLS, 8, 9, SEP] in fake.seen  # comprehensiveness at 50%: top 3 deleted
    assert [CLS, SEP] in fake.seen  # the deletion curve's last point deletes every content token
    only_special = hand_attribution([], [])
    with pytest.raises(ValueError, match="no token that may be deleted"):
        faithfulness_scores(only_special, fake)


def test_random_baseline_is_seeded_reproducible_and_right_on_a_symmetric_model() -> None:
    # every content token adds 0.1: removing any 1 token drops p by 0.1, any 3 by 0.3, whatever the order,
    # so each draw's comprehensiveness is (4 * 0.1 + 0.3) / 5 = 0.14 and sufficiency (4 * 0.4 + 0.2) / 5 = 0.36
    symmetric = additive_probabilities({i: 0.1 for i in range(5, 10)}, base=0.0)
    attribution = hand_attribution([5, 6, 7, 8, 9], [1, 2, 3, 4, 5])
    draws = random_faithfulness(attribution, symmetric, draws=4, seed=3)
    np.testing.assert_allclose(draws.comprehensiveness, [0.14] * 4)
    np.testing.assert_allclose(draws.sufficiency, [0.36] * 4)
    assert draws.spread()["comprehensiveness_sd"] == pytest.approx(0.0)
    # on an uneven model, the draws differ from one another, and the same seed gives the same draws
    uneven = additive_probabilities({5: 0.5, 6: 0.3, 7: 0.1}, base=0.05)
    first = random_faithfulness(attribution, uneven, draws=6, seed=11)
    again = random_faithfulness(attribution, uneven, draws=6, seed=11)
    other = random_faithfulness(attribution, uneven, draws=6, seed=12)
    np.testing.assert_array_equal(first.comprehensiveness, again.comprehensiveness)
    np.testing.assert_array_equal(first.sufficiency, again.sufficiency)
    assert first.comprehensiveness.std() > 0
    assert not np.array_equal(first.comprehensiveness, other.comprehensiveness)


def test_bad_attributions_get_clear_errors() -> None:
    fake = additive_probabilities({}, base=0.5)
    no_ids = TokenAttribution(tokens=["[CLS]", "a", "[SEP]"], scores=np.zeros(3), target=1,
                              probabilities=np.array([0.5, 0.5]), method="hand")
    with pytest.raises(ValueError, match="needs the attribution's input_ids"):
        faithfulness_scores(no_ids, fake)
    with pytest.raises(ValueError, match="one attribution per text"):
        faithfulness_per_text({"a": [hand_attribution([5], [1.0])], "b": []}, fake)
    with pytest.raises(ValueError, match="other input ids"):
        faithfulness_per_text({"a": [hand_attribution([5], [1.0])], "b": [hand_attribution([6], [1.0])]}, fake)
    with pytest.raises(TypeError, match="classifier"):
        faithfulness_scores(hand_attribution([5], [1.0]), "not a model")


# --- a tiny BERT built by hand to depend on one word --------------------------------------------

WORDS = ["good", "the", "film", "plot", "was", "long", "and", "cast"]


@pytest.fixture(scope="module")
def one_word_model():
    """A 1-layer BERT (hidden 4) whose class-1 logit is positive exactly when "good" is in the text.

    Every other word (and [CLS], [SEP], [PAD]) has the same embedding, queries and keys are zero (uniform
    attention), the feed-forward block is zero and the pooler and classifier read dimension 0, which only
    "good" moves. So without "good" every position is identical and the logits are exactly (0, 0): p = 0.5.
    """
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    tokenizer = BertTokenizer(vocab={word: index for index, word in enumerate(vocab)})
    config = BertConfig(vocab_size=len(vocab), hidden_size=4, num_hidden_layers=1, num_attention_heads=1,
                        intermediate_size=4, max_position_embeddings=16, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, num_labels=2)
    model = BertForSequenceClassification._from_config(config, attn_implementation="eager")
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
        for module in model.modules():
            if isinstance(module, torch.nn.LayerNorm):
                module.weight.fill_(1.0)
        embeddings = model.bert.embeddings
        embeddings.word_embeddings.weight[:] = torch.tensor([0.0, 1.0, -1.0, 0.0])
        embeddings.word_embeddings.weight[vocab.index("good")] = torch.tensor([3.0, 1.0, -1.0, 0.0])
        embeddings.token_type_embeddings.weight[0] = torch.tensor([0.0, 0.5, 0.0, -0.5])
        layer = model.bert.encoder.layer[0]
        layer.attention.self.value.weight.copy_(torch.eye(4))
        layer.attention.output.dense.weight.copy_(torch.eye(4))
        model.bert.pooler.dense.weight[0, 0] = 4.0
        model.classifier.weight[1, 0] = 6.0
    model.eval()
    return model, tokenizer


def p_good(model, tokenizer, text: str) -> float:
    """p(class 1) read from the Hugging Face model directly (the reference)."""
    with torch.no_grad():
        return float(model(**tokenizer(text, return_tensors="pt")).logits.softmax(-1)[0, 1])


def good_first(tokenizer, text: str, method: str = "good first") -> TokenAttribution:
    """A hand-made attribution: "good" scores 1, every other token 0 (or -1 for "good last")."""
    ids = tokenizer(text)["input_ids"]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    sign = 1.0 if method == "good first" else -1.0
    scores = np.array([sign if token == "good" else 0.0 for token in tokens])
    return TokenAttribution(tokens, scores, 1, np.array([0.5, 0.5]), method, ids)


def test_the_hand_built_model_depends_on_good_only(one_word_model) -> None:
    model, tokenizer = one_word_model
    assert p_good(model, tokenizer, "the film was long") == pytest.approx(0.5, abs=1e-6)
    assert p_good(model, tokenizer, "the plot and cast") == pytest.approx(0.5, abs=1e-6)
    assert p_good(model, tokenizer, "the good film was long") > 0.85


def test_model_probabilities_pad_with_a_mask_so_padding_changes_nothing(one_word_model) -> None:
    model, tokenizer = one_word_model
    texts = ["good", "the film was long", "the good film was long and the cast was long"]
    sequences = [tokenizer(text)["input_ids"] for text in texts]
    batched = model_probabilities(model, tokens_per_batch=12)(sequences)  # [3, 6] tokens, then [13]
    for row, text in zip(batched, texts, strict=True):
        assert row[1] == pytest.approx(p_good(model, tokenizer, text), abs=1e-6)


def test_faithful_attribution_beats_random_and_its_deletion_curve_drops_at_the_first_step(one_word_model) -> None:
    from labkit.interpret.attribution import attribute

    model, tokenizer = one_word_model
    text = "the good film was long"
    p_full = p_good(model, tokenizer, text)
    for attribution in (good_first(tokenizer, text), attribute(model, tokenizer, text, "occlusion", target=1)):
        scores = faithfulness_scores(attribution, model)
        # "good" goes first at every k, and the rest alone gives exactly 0.5
        assert scores.comprehensiveness == pytest.approx(p_full - 0.5, abs=1e-6)
        # sufficiency: only "good" kept at 1-20% (one token); at 50%, "good" and the next two by position
        expected = (4 * (p_full - p_good(model, tokenizer, "good"))
                    + (p_full - p_good(model, tokenizer, "the good film"))) / 5
        assert scores.sufficiency == pytest.approx(expected, abs=1e-6)
        baseline = random_faithfulness(attribution, model, draws=8, seed=0)
        assert scores.comprehensiveness > baseline.comprehensiveness.max()
        assert scores.sufficiency < baseline.sufficiency.min()
        curve = deletion_curve(attribution, model)
        assert list(curve["deleted"]) == [0, 1, 2, 3, 4, 5]
        assert curve["token"][1] == "good"
        assert curve["probability"][0] == pytest.approx(p_full, abs=1e-6)
        assert curve["probability"][1] == pytest.approx(0.5, abs=1e-6)  # drops at the first step
    by_fraction = deletion_curve(good_first(tokenizer, text), model, fractions=(0.2, 0.5, 1.0))
    assert list(by_fraction["deleted"]) == [0, 1, 3, 5]


def test_faithfulness_table_says_which_methods_beat_random(one_word_model) -> None:
    model, tokenizer = one_word_model
    texts = ["the good film was long", "good plot and cast", "the film was good", "the cast and the good plot",
             "the long film and the good cast", "good film"]
    explanations = {"good first": [good_first(tokenizer, text) for text in texts],
                    "good last": lambda text: good_first(tokenizer, text, "good last")}
    per_text = faithfulness_per_text(explanations, model, texts=texts, draws=4, seed=0)
    assert len(per_text) == len(texts) * (2 + 4)
    assert per_text[per_text["method"] == "random"]["draw"].tolist() == [0, 1, 2, 3] * len(texts)
    first = per_text[per_text["method"] == "good first"]
    expected = [p_good(model, tokenizer, text) - 0.5 for text in texts]
    np.testing.assert_allclose(first["comprehensiveness"], expected, atol=1e-6)
    again = faithfulness_per_text(explanations, model, texts=texts, draws=4, seed=0)
    pd.testing.assert_frame_equal(per_text, again)
    table = faithfulness_table(explanations, model, texts=texts, draws=4, seed=0).set_index("method")
    assert table.loc["good first", "comprehensiveness"] == pytest.approx(np.mean(expected), abs=1e-6)
    assert table.loc["good first", "comprehensiveness_verdict"] == "better than random"
    assert table.loc["good first", "sufficiency_verdict"] == "better than random"
    assert table.loc["good last", "comprehensiveness_verdict"] == "worse than random"
    low, high = table.loc["good first", ["comprehensiveness_low", "comprehensiveness_high"]]
    assert low <= table.loc["good first", "comprehensiveness"] <= high
    assert table.loc["good first", "random_comprehensiveness_sd"] > 0


# --- the sanity check --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_bert():
    import labkit
    from labkit.models import load

    labkit.seed_everything(0)
    return load("tiny-bert", task="sequence-classification", num_labels=2, attn_implementation="eager")


SANITY_TEXTS = ["an unforgettable movie, truly wonderful!", "the plot is thin and the acting is wooden.",
                "a slow, quiet film that rewards patience.", "i laughed, i cried, i want my money back."]


def test_randomisation_order_is_top_down(tiny_bert) -> None:
    _, model = tiny_bert
    assert randomisation_order(model) == ["classifier", "bert.pooler", "bert.encoder.layer.1",
                                          "bert.encoder.layer.0", "bert.embeddings"]


def test_reinitialise_changes_that_block_only() -> None:
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=2,
                                                     num_attention_heads=2, intermediate_size=16))
    before = {name: value.clone() for name, value in model.state_dict().items()}
    reinitialise(model, "bert.encoder.layer.1", seed=5)
    changed = {name for name, value in model.state_dict().items() if not torch.equal(value, before[name])}
    assert changed and all(name.startswith("bert.encoder.layer.1.") for name in changed)
    with pytest.raises(ValueError, match="no submodule"):
        reinitialise(model, "bert.decoder", seed=0)


def test_sanity_check_is_one_at_step_zero_drops_after_randomisation_and_leaves_the_model_alone(tiny_bert) -> None:
    from labkit.interpret.attribution import attribute

    tokenizer, model = tiny_bert
    weights = {name: value.clone() for name, value in model.state_dict().items()}
    rng_state = torch.get_rng_state()

    def explain(model, text, target=None):
        return attribute(model, tokenizer, text, "gradient_x_input", target=target)

    frame = cascading_randomisation(model, explain, SANITY_TEXTS, seed=0)
    assert list(frame.columns) == ["step", "block", "method", "text", "target", "spearman", "spearman_abs"]
    assert len(frame) == 6 * len(SANITY_TEXTS)
    step0 = frame[frame["step"] == 0]
    np.testing.assert_allclose(step0["spearman"], 1.0)
    np.testing.assert_allclose(step0["spearman_abs"], 1.0)
    last = frame[frame["block"] == "bert.embeddings"]
    assert last["spearman"].mean() < 0.5
    assert last["spearman_abs"].mean() < 0.5
    for name, value in model.state_dict().items():
        assert torch.equal(value, weights[name]), f"{name} changed in the caller's model"
    assert all(parameter.grad is None for parameter in model.parameters())
    assert torch.equal(torch.get_rng_state(), rng_state)
    summary = summarise_sanity(frame)
    assert list(summary["block"]) == ["none", "classifier", "bert.pooler", "bert.encoder.layer.1",
                                      "bert.encoder.layer.0", "bert.embeddings"]
    assert summary["spearman_mean"].iloc[0] == pytest.approx(1.0)
    again = cascading_randomisation(model, explain, SANITY_TEXTS[:1], seed=0)
    pd.testing.assert_frame_equal(again, frame[frame["text"] < 1].reset_index(drop=True))


def test_sanity_check_needs_the_target_passed_on(tiny_bert) -> None:
    from labkit.interpret.attribution import attribute

    tokenizer, model = tiny_bert

    def ignores_target(model, text, target=None):  # explains class 0 first, then always the other class
        return attribute(model, tokenizer, text, "gradient_x_input", target=0 if target is None else 1 - target)

    with pytest.raises(ValueError, match="pass target on"):
        cascading_randomisation(model, ignores_target, SANITY_TEXTS[:1], blocks=["classifier"])
