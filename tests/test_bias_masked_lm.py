"""labkit.bias.masked_lm: Kurita et al.'s prior correction on a fake masked LM whose probabilities are set by hand."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import pearsonr, spearmanr
from transformers import BertTokenizer

from labkit.bias.masked_lm import (
    correlation_by_template,
    correlation_with_share,
    encode_template,
    kurita_association,
    masked_log_probs,
    mean_association,
    pronoun_associations,
    pronoun_token_ids,
)
from labkit.errors import ConfigError
from labkit.evaluation import bootstrap_ci
from labkit.models import load

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "nurse", "hair", "##dresser", "said", "that", "he",
         "she", "would", "go", ".", "s", "##he", "it", "is"]
TEMPLATE = "the {occupation} said that {pronoun} would go."


def make_tokenizer(vocab: list[str] = VOCAB) -> BertTokenizer:
    """A WordPiece tokenizer over exactly ``vocab`` (ids are list positions)."""
    return BertTokenizer(vocab={word: i for i, word in enumerate(vocab)}, do_lower_case=True)


def distribution(p_he: float, p_she: float) -> torch.Tensor:
    """Log-probabilities over VOCAB: P(he), P(she) as given, the rest spread evenly over the other tokens."""
    probs = torch.full((len(VOCAB),), (1 - p_he - p_she) / (len(VOCAB) - 2), dtype=torch.float64)
    probs[VOCAB.index("he")], probs[VOCAB.index("she")] = p_he, p_she
    return probs.log()


class FakeMaskedLM(torch.nn.Module):
    """The same distribution at every position, chosen by what the sentence holds:

    "nurse" present: P(he) = 0.2, P(she) = 0.4;  "hair ##dresser" present: P(he) = 0.1, P(she) = 0.6;
    neither, 2 masks (the pronoun + 1 occupation piece): the prior P(he) = 0.5, P(she) = 0.25;
    neither, 3 masks (the pronoun + 2 occupation pieces): the prior P(he) = 0.3, P(she) = 0.3.
    """

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        rows = []
        for ids in input_ids.tolist():
            if VOCAB.index("nurse") in ids:
                rows.append(distribution(0.2, 0.4))
            elif VOCAB.index("hair") in ids:
                rows.append(distribution(0.1, 0.6))
            else:
                two_masks = ids.count(VOCAB.index("[MASK]")) == 2
                rows.append(distribution(0.5, 0.25) if two_masks else distribution(0.3, 0.3))
        logits = torch.stack(rows)[:, None, :].expand(-1, input_ids.shape[1], -1)
        return SimpleNamespace(logits=logits.float() + 7.0)  # a constant shift: softmax must remove it


@pytest.fixture()
def tokenizer() -> BertTokenizer:
    return make_tokenizer()


def test_encode_template_masks_the_pronoun_and_optionally_each_occupation_piece(tokenizer: BertTokenizer) -> None:
    ids, position = encode_template(tokenizer, TEMPLATE, "hairdresser")
    assert tokenizer.convert_ids_to_tokens(ids) == ["[CLS]", "the", "hair", "##dresser", "said", "that", "[MASK]",
                                                    "would", "go", ".", "[SEP]"]
    assert position == 6
    ids, position = encode_template(tokenizer, TEMPLATE, "hairdresser", mask_occupation=True)
    assert tokenizer.convert_ids_to_tokens(ids)[:7] == ["[CLS]", "the", "[MASK]", "[MASK]", "said", "that", "[MASK]"]
    assert position == 6
    ids, position = encode_template(tokenizer, "{pronoun} is the {occupation}.", "nurse", mask_occupation=True)
    assert tokenizer.convert_ids_to_tokens(ids) == ["[CLS]", "[MASK]", "is", "the", "[MASK]", ".",
                                                    "[SEP]"]
    assert position == 1


def test_kurita_correction_matches_the_hand_working(tokenizer: BertTokenizer) -> None:
    table = pronoun_associations(tokenizer, FakeMaskedLM(), ["nurse", "hairdresser"], templates=[TEMPLATE])
    nurse, hairdresser = table.iloc[0], table.iloc[1]
    # nurse: raw = log(0.2 / 0.4) = log 0.5; prior (1 mask for the occupation): 0.5 and 0.25, so
    # association = log(0.2 / 0.5) - log(0.4 / 0.25) = log 0.4 - log 1.6 = log 0.25
    assert nurse["log_p_he"] == pytest.approx(math.log(0.2))
    assert nurse["prior_log_p_she"] == pytest.approx(math.log(0.25))
    assert nurse["raw"] == pytest.approx(math.log(0.5))
    assert nurse["association"] == pytest.approx(math.log(0.25))
    # hairdresser has 2 pieces, so its prior sentence has 3 masks: 0.3 and 0.3;
    # association = log(0.1 / 0.3) - log(0.6 / 0.3) = log(1/3) - log 2 = log(1/6)
    # (with the 2-mask prior it would be log(0.1 / 0.5) - log(0.6 / 0.25) = log(1/12): the test tells them apart)
    assert hairdresser["raw"] == pytest.approx(math.log(0.1 / 0.6))
    assert hairdresser["association"] == pytest.approx(math.log(1 / 6))
    assert kurita_association([math.log(0.2)], [math.log(0.5)]) == pytest.approx([math.log(0.4)])


def test_batching_does_not_change_the_log_probabilities(tokenizer: BertTokenizer) -> None:
    templates = [TEMPLATE, "{pronoun} said that the {occupation} would go."]
    one = pronoun_associations(tokenizer, FakeMaskedLM(), ["nurse", "hairdresser"], templates=templates, batch_size=1)
    all_at_once = pronoun_associations(tokenizer, FakeMaskedLM(), ["nurse", "hairdresser"], templates=templates)
    pd.testing.assert_frame_equal(one, all_at_once)
    assert one["template"].tolist() == [templates[0]] * 2 + [templates[1]] * 2


def test_a_pronoun_that_is_not_one_token_is_refused() -> None:
    split_she = make_tokenizer([word for word in VOCAB if word != "she"])  # "she" -> s ##he
    assert pronoun_token_ids(split_she, ["he"]) == [VOCAB.index("he")]
    with pytest.raises(ConfigError, match=r"'she' is not one token.*\['s', '##he'\]"):
        pronoun_token_ids(split_she, ["he", "she"])
    with pytest.raises(ConfigError, match="'they' is not one token"):
        pronoun_token_ids(split_she, ["they"])  # [UNK]


def test_bad_templates_are_refused(tokenizer: BertTokenizer) -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        encode_template(tokenizer, "the {occupation} said so.", "nurse")
    with pytest.raises(ConfigError, match="two pronouns"):
        pronoun_associations(tokenizer, FakeMaskedLM(), ["nurse"], pronouns=["he"])


@pytest.fixture(scope="module")
def tiny_bert() -> tuple:
    return load("tiny-bert", task="masked-lm")


def test_encoding_by_pieces_equals_tokenising_the_whole_sentence(tiny_bert: tuple) -> None:
    tokenizer, _ = tiny_bert
    for template in ["the {occupation} said that {pronoun} would be late.", "{pronoun} is the {occupation}."]:
        for occupation in ["construction worker", "hairdresser", "nurse"]:
            ids, position = encode_template(tokenizer, template, occupation)
            sentence = template.format(occupation=occupation, pronoun=tokenizer.mask_token)
            assert ids == tokenizer(sentence)["input_ids"]
            assert ids[position] == tokenizer.mask_token_id
    assert pronoun_token_ids(tokenizer) == tokenizer.convert_tokens_to_ids(["he", "she"])


def test_padding_in_a_batch_does_not_change_tiny_berts_log_probabilities(tiny_bert: tuple) -> None:
    tokenizer, model = tiny_bert
    encoded = [encode_template(tokenizer, "the {occupation} said that {pronoun} would be late.", occupation)
               for occupation in ["nurse", "construction worker", "hairdresser"]]
    ids = pronoun_token_ids(tokenizer)
    sequences, positions = [seq for seq, _ in encoded], [pos for _, pos in encoded]
    batched = masked_log_probs(model, sequences, positions, ids)
    alone = masked_log_probs(model, sequences, positions, ids, batch_size=1)
    assert batched == pytest.approx(alone, abs=1e-5)
    assert np.all(batched < 0)


def test_correlation_matches_scipy_and_labkit_evaluations_bootstrap() -> None:
    rng = np.random.default_rng(0)
    share = rng.uniform(0, 100, size=15)
    score = -0.01 * share + rng.normal(0, 0.5, size=15)
    table = correlation_with_share(score, share, n_resamples=300, seed=4)
    assert table.loc["pearson", "estimate"] == pytest.approx(pearsonr(share, score)[0])
    assert table.loc["spearman", "estimate"] == pytest.approx(spearmanr(share, score)[0])
    for name, reference in [("pearson", pearsonr), ("spearman", spearmanr)]:
        ci = bootstrap_ci(lambda a, b, f=reference: f(a, b)[0], share, score, n_resamples=300, seed=4)
        assert (table.loc[name, "low"], table.loc[name, "high"]) == pytest.approx((ci.low, ci.high))


def test_a_perfect_line_has_correlation_minus_one_on_every_resample() -> None:
    # every resample with two distinct points lies on the same falling line: r = rho = -1 (constant ones are left out)
    table = correlation_with_share([3.0, 2.0, 1.0, 0.0], [10, 20, 30, 40], n_resamples=200)
    assert table.to_numpy() == pytest.approx(np.full((2, 3), -1.0))
    with pytest.raises(ConfigError, match="same length"):
        correlation_with_share([1.0, 2.0, 3.0], [1.0, 2.0])


def test_mean_and_per_template_correlation_by_hand() -> None:
    frame = pd.DataFrame({"template": ["t1"] * 3 + ["t2"] * 3, "occupation": ["a", "b", "c"] * 2,
                          "association": [1.0, 0.0, -1.0, 0.0, 2.0, 1.0]})
    means = mean_association(frame)
    assert means["mean"].to_dict() == pytest.approx({"a": 0.5, "b": 1.0, "c": 0.0})
    assert means.loc["a", "std"] == pytest.approx(math.sqrt(0.5))  # values 1 and 0: sample variance 0.5
    by_template = correlation_by_template(frame, {"a": 10, "b": 20, "c": 30})
    # t1 falls on a line: -1. t2: scores (0, 2, 1) vs (10, 20, 30): deviations (-1, 1, 0) and (-10, 0, 10),
    # r = (10 + 0 + 0) / sqrt(2 * 200) = 0.5; ranks (1, 3, 2) vs (1, 2, 3): also 0.5
    assert by_template.loc["t1"].tolist() == pytest.approx([-1.0, -1.0])
    assert by_template.loc["t2"].tolist() == pytest.approx([0.5, 0.5])
    with pytest.raises(ConfigError, match="no % female"):
        correlation_by_template(frame, {"a": 10, "b": 20})
