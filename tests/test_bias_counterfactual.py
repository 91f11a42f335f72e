"""labkit.bias.counterfactual and labkit.bias.names: gender swaps, flip rates, EEC-style template pairs."""

from __future__ import annotations

import re

import numpy as np
import pytest

from labkit import bias
from labkit.bias.counterfactual import (
    counterfactual_pairs,
    eec_pairs,
    flip_rates,
    flip_rates_by,
    paired_flip_rates,
    swap_gender,
    template_flip_rates,
)
from labkit.bias.names import GENDERED_NOUNS, NAME_PAIRS, ONE_WAY, PRONOUNS, gendered_word_pairs
from labkit.errors import DatasetError

SWAPS = [
    # pronouns, both directions
    ("He loves his dog.", "She loves her dog."),
    ("She gave him her book.", "He gave her his book."),
    ("I told her the truth.", "I told him the truth."),
    ("I saw her yesterday, with her 3 kids.", "I saw him yesterday, with his 3 kids."),
    ("I love her.", "I love him."),
    ("The conversation with her was sad.", "The conversation with him was sad."),
    ("They made her feel welcome.", "They made him feel welcome."),
    ("Her own film, her rules.", "His own film, his rules."),
    ("The choice is hers.", "The choice is his."),
    ("The choice is his.", "The choice is hers."),
    ("He hurt himself; she hurt herself.", "She hurt herself; he hurt himself."),
    ("He's here and she'll come.", "She's here and he'll come."),
    # case kept: lower, Capitalised, UPPER
    ("HE SAID SHE WAS HIS MOTHER.", "SHE SAID HE WAS HER FATHER."),
    ("My Mother's car and my father's.", "My Father's car and my mother's."),
    # gendered nouns and titles
    ("The king and the queen met an actress.", "The queen and the king met an actor."),
    ("Mr. Smith and his wife", "Mrs. Smith and her husband"),
    ("Men and women, boys and girls", "Women and men, girls and boys"),
    # first names (pairs by position: Mary/James, Patricia/John, Linda/Robert)
    ("Mary met John and Robert.", "James met Patricia and Linda."),
    ("LINDA, linda and Linda's", "ROBERT, robert and Robert's"),
    # whitespace, punctuation and non-ASCII letters kept
    ("  he,  she;\n\t(him)", "  she,  he;\n\t(her)"),
    ("Renée thanked him.", "Renée thanked her."),
]

UNCHANGED = [
    "The theatre there is managed by a human; these themes hence.",  # he/her/man inside words
    "Hershey's sheep herded the shells into the hemisphere.",
    "Will Mark bill Rose for the grace of a frank dawn?",  # names that are common words are not in the list
    "The film was fine, the plot a mess.",
    "Mankind, womanizer, manhole, showman.",  # gendered words inside longer words
    "he2 and 2he are codes; she_he too.",  # letters joined to digits or underscores are not words
]


@pytest.mark.parametrize(("text", "expected"), SWAPS)
def test_swap_gender_on_a_table_of_sentences(text: str, expected: str) -> None:
    assert swap_gender(text) == expected


@pytest.mark.parametrize("text", UNCHANGED)
def test_swap_gender_leaves_words_outside_the_lists_alone(text: str) -> None:
    assert swap_gender(text) == text


@pytest.mark.parametrize(("text", "_"), SWAPS)
def test_swapping_twice_gives_the_original_where_the_rule_is_invertible(text: str, _: str) -> None:
    assert swap_gender(swap_gender(text)) == text


def test_the_documented_failures_of_the_her_and_his_rule() -> None:
    # an object "her" before a noun reads as possessive: "gave her flowers" should become "gave him flowers"
    assert swap_gender("They gave her flowers.") == "They gave his flowers."
    # ... so "him" there does not come back: him -> her -> his
    assert swap_gender(swap_gender("They gave him flowers.")) == "They gave his flowers."
    # a possessive pronoun "his" mid-clause becomes "her", not "hers"
    assert swap_gender("His is better.") == "Her is better."
    # "Ms" maps one way: Ms -> Mr -> Mrs
    assert swap_gender(swap_gender("Ms. Lee")) == "Mrs. Lee"
    # the other failures the docstring lists
    assert swap_gender("treated her kindly") == "treated his kindly"
    assert swap_gender("her well-being") == "him well-being"
    assert swap_gender('his "friend"') == 'hers "friend"'
    assert swap_gender("Mr. Thomas and Stephen King") == "Mrs. Dorothy and Melissa Queen"


def test_swap_gender_refuses_a_non_string() -> None:
    with pytest.raises(TypeError, match="string"):
        swap_gender(None)  # type: ignore[arg-type]


def test_the_word_lists_are_one_to_one_except_where_stated() -> None:
    table = gendered_word_pairs()
    female = set(GENDERED_NOUNS) | {f.lower() for f, _ in NAME_PAIRS}
    male = set(GENDERED_NOUNS.values()) | {m.lower() for _, m in NAME_PAIRS}
    assert not female & male
    assert len(GENDERED_NOUNS) == len(set(GENDERED_NOUNS.values()))
    not_inverted = sorted(word for word, swapped in table.items() if table.get(swapped) != word)
    assert not_inverted == ["hers", "him", "ms"]  # hers -> his and him -> her go through the rule; ms -> mr -> mrs
    assert "her" not in table and "his" not in table
    assert set(PRONOUNS) | set(ONE_WAY) <= set(table)


def test_name_pairs_are_fifty_distinct_capitalised_names_without_the_common_words() -> None:
    female, male = zip(*NAME_PAIRS, strict=True)
    assert len(NAME_PAIRS) == 50 and len(set(female)) == 50 and len(set(male)) == 50
    assert all(re.fullmatch(r"[A-Z][a-z]+", name) for name in female + male)
    assert not {"Will", "Mark", "Rose", "Bill", "Grace", "Frank", "April", "June", "Virginia"} & set(female + male)


def test_no_name_is_a_lower_case_word_in_the_state_of_the_union_corpus() -> None:
    """The stated common-word rule, checked against the shipped corpus itself."""
    from labkit.data import load_corpus

    corpus = load_corpus()
    lower_words = set()
    for split in corpus.values():
        for text in split["text"]:
            lower_words.update(re.findall(r"\b[a-z]+\b", text))
    assert "mark" in lower_words and "will" in lower_words  # the check can see a common word
    clashes = sorted(name for pair in NAME_PAIRS for name in pair if name.lower() in lower_words)
    assert clashes == []


def test_counterfactual_pairs_keeps_only_the_texts_that_change() -> None:
    texts = ["No gender here.", "He left.", "A plain line.", "Her dog barked."]
    pairs = counterfactual_pairs(texts)
    assert [(p.index, p.original, p.counterfactual) for p in pairs] == [
        (1, "He left.", "She left."), (3, "Her dog barked.", "His dog barked.")]


def depends_on_she(texts: list[str]) -> np.ndarray:
    """A fake classifier: positive (probability 1) exactly when the word "she" is in the text."""
    return np.array([1.0 if re.search(r"\bshe\b", text, re.IGNORECASE) else 0.0 for text in texts])


SHE_PAIRS = ["He is here.", "She left early.", "HE WON."]  # differ in he/she
OTHER_PAIRS = ["Her book is good.", "My mother called.", "Mary laughed.", "I told him."]  # differ elsewhere


def test_a_classifier_that_depends_on_she_flips_on_exactly_the_pairs_that_differ_in_it() -> None:
    texts = SHE_PAIRS + ["The film was fine."] + OTHER_PAIRS
    result = flip_rates(depends_on_she, texts, n_resamples=200)
    assert result.n_pairs == 7  # the line without a gendered word has no counterfactual
    assert result.flipped.tolist() == [True, True, True, False, False, False, False]
    by_kind = flip_rates_by(result, ["she"] * 3 + ["other"] * 4)
    assert by_kind.loc["she", "flip_rate"] == 1.0 and by_kind.loc["other", "flip_rate"] == 0.0
    # by hand: changes +1 (he -> she), -1 (she -> he), +1, then 0 four times
    assert result.flip_rate.estimate == pytest.approx(3 / 7)
    assert result.mean_change.estimate == pytest.approx(1 / 7)
    assert result.mean_abs_change.estimate == pytest.approx(3 / 7)
    assert result.change.tolist() == [1.0, -1.0, 1.0, 0.0, 0.0, 0.0, 0.0]


def test_two_column_probabilities_use_the_positive_column_and_the_argmax() -> None:
    def two_columns(texts: list[str]) -> np.ndarray:
        p = 0.2 + 0.6 * depends_on_she(texts)  # 0.8 with "she", else 0.2
        return np.stack([1 - p, p], axis=1)

    result = paired_flip_rates(two_columns, ["He ran.", "It ran."], ["She ran.", "It ran!"], n_resamples=100)
    assert result.flipped.tolist() == [True, False]
    assert result.change == pytest.approx([0.6, 0.0])


def test_bootstrap_intervals_are_seeded_and_about_as_wide_as_the_normal_approximation() -> None:
    originals = ["It ran."] * 200
    counterfactuals = ["She ran."] * 100 + ["It ran."] * 100  # half the pairs flip

    def measure(seed: int) -> object:
        return paired_flip_rates(depends_on_she, originals, counterfactuals, n_resamples=1000, seed=seed)

    first, again, other = measure(0), measure(0), measure(1)
    assert (first.flip_rate.low, first.flip_rate.high) == (again.flip_rate.low, again.flip_rate.high)
    np.testing.assert_array_equal(first.mean_change.samples, again.mean_change.samples)
    assert not np.array_equal(first.flip_rate.samples, other.flip_rate.samples)
    half_width = (first.flip_rate.high - first.flip_rate.low) / 2
    assert first.flip_rate.estimate == 0.5 and 0.05 < half_width < 0.09  # 1.96 * sqrt(0.25 / 200) = 0.069
    assert first.flip_rate.low < 0.5 < first.flip_rate.high


def test_bad_classifier_output_and_empty_input_give_clear_errors() -> None:
    with pytest.raises(ValueError, match="probabilities in"):
        paired_flip_rates(lambda texts: np.full(len(texts), 3.0), ["He ran."], ["She ran."], n_resamples=10)
    with pytest.raises(ValueError, match="shape"):
        paired_flip_rates(lambda texts: np.zeros(1), ["He ran."], ["She ran."], n_resamples=10)
    with pytest.raises(DatasetError, match="no pairs"):
        flip_rates(depends_on_she, ["No gender here."], n_resamples=10)
    with pytest.raises(ValueError, match="aligned"):
        paired_flip_rates(depends_on_she, ["a", "b"], ["c"], n_resamples=10)


def test_eec_pairs_are_the_stated_sets() -> None:
    pairs = eec_pairs()
    assert len(pairs) == 144 * 20  # (4 + 3 templates x 20 words + 4 neutral) x (10 noun phrases + 10 names)
    assert pairs.groupby("template").size().tolist() == [400] * 7 + [20] * 4
    assert sorted(pairs["emotion"].unique()) == ["anger", "fear", "joy", "none", "sadness"]
    rows = set(zip(pairs["female"], pairs["male"], strict=True))
    assert ("I made her feel happy.", "I made him feel happy.") in rows
    assert ("Mary feels angry.", "James feels angry.") in rows
    assert ("My aunt found herself in an amazing situation.", "My uncle found himself in an amazing situation.") in rows
    assert ("This girl found herself in a grim situation.", "This boy found himself in a grim situation.") in rows
    assert ("She has two children.", "He has two children.") in rows


def test_every_eec_pair_is_also_a_swap_gender_pair() -> None:
    """Built from templates and built by swapping agree: each male sentence is the female one's swap."""
    pairs = eec_pairs()
    swapped = [swap_gender(text) for text in pairs["female"]]
    assert swapped == pairs["male"].tolist()


def test_template_flip_rates_of_the_she_classifier_count_the_subject_she_templates() -> None:
    pairs = eec_pairs()
    result = template_flip_rates(depends_on_she, pairs, n_resamples=100)
    # "she" appears only as the subject of the pronoun pair: templates 1, 4, 5, 6 (20 words each) and 10, 11
    expected = 4 * 20 + 2
    assert int(result.flipped.sum()) == expected
    assert result.mean_change.estimate == pytest.approx(expected / len(pairs))  # female minus male, all +1
    by_template = flip_rates_by(result, pairs["template"])
    assert by_template["flip_rate"].gt(0).tolist() == [True, False, False, True, True, True, False, False,
                                                       False, True, True]


@pytest.mark.parametrize(("text", "expected"), [
    ("She was wonderful.", "female"),
    ("His best film.", "male"),
    ("Mary and her brother.", "both"),
    ("Hershey's sheep in the hemisphere.", "neither"),  # words that only contain "she" / "he" / "her"
    ("The ACTRESS shines", "female"),
    ("", "neither"),
])
def test_gender_mentioned_reads_whole_words_of_the_kits_lists(text: str, expected: str) -> None:
    assert bias.gender_mentioned(text) == expected


def test_gendered_words_are_the_lists_swap_gender_uses() -> None:
    lists = bias.gendered_words()
    assert not lists["female"] & lists["male"]
    for female, male in bias.NAME_PAIRS:
        assert female.lower() in lists["female"] and male.lower() in lists["male"]
    # every word swap_gender changes on its own is in one of the two lists, and its swap in the other
    for word in bias.gendered_word_pairs():
        swapped = bias.swap_gender(word).lower()
        side = "female" if word in lists["female"] else "male"
        assert word in lists[side] and swapped in lists["male" if side == "female" else "female"], word
