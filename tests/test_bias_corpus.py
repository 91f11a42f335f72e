"""labkit.bias.corpus on a tiny hand-made corpus: windows and their edges, multi-word occupations, word sense."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binomtest

from labkit.bias.corpus import (
    era_labels,
    find_mentions,
    gendered_counts_near,
    in_expression,
    neighbour_counts,
    occupation_forms,
    plural,
    pronoun_shares,
    ratio_ci,
    tokenize,
    wilson_interval,
    window_counts,
    word_sense_counts,
)
from labkit.errors import ConfigError

# Four tiny "speeches" (already tokens; positions under each).
DOC_A = "the nurse said she would help him and he left".split()
#        0   1     2    3   4     5    6   7   8  9
DOC_B = "her construction worker his the construction site she".split()
#        0   1            2      3   4   5            6    7
DOC_C = "the construction workers said he".split()
#        0   1            2       3    4
DOC_D = "he the secretary of state spoke the secretary said she".split()
#        0  1   2         3  4     5     6   7         8    9
CORPUS = [DOC_A, DOC_B, DOC_C, DOC_D]


def test_tokenize_lower_cases_and_splits_on_anything_but_letters() -> None:
    assert tokenize("He's the Chief-Justice; 1790 SHE!") == ["he", "s", "the", "chief", "justice", "she"]


def test_plural_rules() -> None:
    assert [plural(word) for word in ["secretary", "construction worker", "salesperson", "chief", "coach",
                                      "attorney", "boss"]] == \
        ["secretaries", "construction workers", "salespeople", "chiefs", "coaches", "attorneys", "bosses"]
    assert occupation_forms("construction worker") == (("construction", "worker"), ("construction", "workers"))
    assert occupation_forms("nurse", plurals=False) == (("nurse",),)
    with pytest.raises(ConfigError, match="no letters"):
        occupation_forms("42")


def test_multi_word_mentions_need_every_word() -> None:
    forms = occupation_forms("construction worker")
    assert find_mentions(DOC_B, forms) == [(1, 3)]  # "construction site" at 5 is not a mention
    assert find_mentions(DOC_C, forms) == [(1, 3)]  # the plural
    assert find_mentions(DOC_C, occupation_forms("construction worker", plurals=False)) == []


def test_window_edges() -> None:
    # "nurse" at 1: two tokens before would be positions -1 and 0, so only "the"; after: "said", "she"
    assert window_counts(DOC_A, (1, 2), 2, ["she"]) == 1
    # "him" (position 6) is 5 tokens after the mention's end (2..6): inside a window of 5, outside one of 4
    assert window_counts(DOC_A, (1, 2), 5, ["him"]) == 1
    assert window_counts(DOC_A, (1, 2), 4, ["him"]) == 0
    assert window_counts(DOC_A, (1, 2), 0, ["the", "said"]) == 0
    # the mention's own tokens are not counted, the ones just outside are
    assert window_counts(DOC_B, (1, 3), 1, ["her", "his", "construction", "worker"]) == 2
    with pytest.raises(ConfigError, match="window"):
        window_counts(DOC_A, (1, 2), -1, ["she"])


def test_expressions_cover_a_mention_in_any_position() -> None:
    tokens = "the commander in chief and the chief said he".split()
    assert in_expression(tokens, (3, 4), [("commander", "in", "chief")])
    assert not in_expression(tokens, (6, 7), [("commander", "in", "chief")])
    # an expression that would start before the document's first token is not there
    assert in_expression(["chief", "justice"], (0, 1), [("commander", "in", "chief"), ("chief", "justice")])
    assert not in_expression(["chief", "justice"], (0, 1), [("commander", "in", "chief")])


def test_counts_near_occupations_by_hand() -> None:
    table = gendered_counts_near(CORPUS, ["nurse", "construction worker", "secretary", "janitor"], window=2,
                                 min_count=2).set_index("occupation")
    # nurse: one mention (A): "the" | "said she" -> 0 male, 1 female
    assert table.loc["nurse", ["mentions", "male", "female"]].tolist() == [1, 0, 1]
    # construction worker: B (1, 3): "her" | "his the" -> 1 male 1 female; the window does not reach back into
    # document A ("he left"). C (1, 3), plural: "the" | "said he" -> 1 male. Total 2 male, 1 female.
    assert table.loc["construction worker", ["mentions", "male", "female"]].tolist() == [2, 2, 1]
    assert table.loc["construction worker", "male_share"] == pytest.approx(2 / 3)
    # secretary: D at 2: "he the" | "of state" -> 1 male, inside "secretary of"; at 7: "spoke the" | "said she"
    assert table.loc["secretary", ["mentions", "other_sense", "male", "female"]].tolist() == [2, 1, 1, 1]
    assert table["too_rare"].tolist() == [True, False, False, True]
    assert math.isnan(table.loc["janitor", "male_share"])
    # the Wilson interval is computed from the pronoun counts: 2 of 3 for construction worker
    assert table.loc["construction worker", "wilson_low"] == pytest.approx(wilson_interval(2, 3)[0])


def test_excluding_the_other_sense_and_singular_only() -> None:
    table = gendered_counts_near(CORPUS, ["secretary", "construction worker"], window=2,
                                 exclude_other_senses=True, plurals=False).set_index("occupation")
    # "secretary of" (with its "he") is left out: one mention, 0 male, 1 female
    assert table.loc["secretary", ["mentions", "other_sense", "male", "female"]].tolist() == [1, 1, 0, 1]
    assert table.loc["secretary", "male_share"] == 0.0
    # singular only: document C's "construction workers" no longer counts
    assert table.loc["construction worker", ["mentions", "male", "female"]].tolist() == [1, 1, 1]
    with pytest.raises(ConfigError, match="no occupations"):
        gendered_counts_near(CORPUS, [])


def test_word_sense_counts_by_hand() -> None:
    tokens = "the commander in chief and the chief said he the chief justice".split()
    table = word_sense_counts([tokens], "chief").set_index("expression")
    assert table.loc["commander in chief", "count"] == 1
    assert table.loc["chief justice", "count"] == 1
    assert table.loc["chief magistrate", "count"] == 0
    assert table.loc["(any of these)", "count"] == 2
    assert table.loc["(none: kept)", "count"] == 1
    assert table.loc["(any of these)", "share"] == pytest.approx(2 / 3)
    custom = word_sense_counts([tokens], "chief", expressions=[("chief", "said")]).set_index("expression")
    assert custom.loc["chief said", "count"] == 1


def test_neighbour_counts() -> None:
    assert neighbour_counts(CORPUS, "secretary").to_dict() == {"of": 1, "said": 1}
    assert neighbour_counts([["nurse", "x"]], "nurse", side="left").empty  # nothing before the first token
    with pytest.raises(ConfigError, match="side"):
        neighbour_counts(CORPUS, "secretary", side="up")


def test_ratio_ci_over_units() -> None:
    # every unit has the ratio 1/2, so every resample does too
    assert ratio_ci([1, 2, 3], [2, 4, 6]) == pytest.approx((0.5, 0.5))
    assert all(math.isnan(value) for value in ratio_ci([1, 2], [0, 0]))
    low, high = ratio_ci([1, 0, 1, 0], [1, 1, 1, 1], n_resamples=2000)
    assert 0 <= low < 0.5 < high <= 1
    with pytest.raises(ConfigError, match="same length"):
        ratio_ci([1, 2], [1])


def test_wilson_interval_matches_scipy() -> None:
    for successes, total in [(7, 7), (116, 123), (3, 6), (0, 5)]:
        reference = binomtest(successes, total).proportion_ci(method="wilson")
        assert wilson_interval(successes, total) == pytest.approx((reference.low, reference.high), abs=1e-12)
    assert all(math.isnan(value) for value in wilson_interval(0, 0))
    with pytest.raises(ConfigError):
        wilson_interval(3, 2)


def test_era_labels() -> None:
    assert era_labels([1790, 1839, 1840, 2021]) == ["1790-1839", "1790-1839", "1840-1889", "1990-2021"]
    assert era_labels([1795, 1850], period=100, start=1700) == ["1700-1799", "1800-1850"]  # the last era ends at 1850
    with pytest.raises(ConfigError, match="after the first year"):
        era_labels([1790], start=1800)
    with pytest.raises(ConfigError, match="period"):
        era_labels([1790], period=0)


def test_pronoun_shares_by_hand() -> None:
    documents = ["he he she".split(), "he she she x".split(), "he his".split()]
    table = pronoun_shares(documents, era_labels([1790, 1800, 1850])).set_index("group")
    assert table.index.tolist() == ["1790-1839", "1840-1850"]
    first = table.loc["1790-1839"]
    assert [first["documents"], first["words"], first["he"], first["she"]] == [2, 7, 3, 3]  # "his" is not "he"
    assert first["he_per_she"] == 1.0 and first["she_share"] == 0.5
    assert first["she_share_low"] <= 0.5 <= first["she_share_high"]
    second = table.loc["1840-1850"]
    assert second["he_per_she"] == np.inf and second["she_share"] == 0.0
    assert math.isnan(second["he_per_she_low"])  # no "she" in any resample
    with pytest.raises(ConfigError, match="same length"):
        pronoun_shares(documents, ["all"])
