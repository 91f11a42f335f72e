"""Bias in the pretraining data itself: gendered words near occupations, and "he" vs "she" by era.

A language model learns what its corpus says. Before measuring a model, count what the corpus shows it:
how often each WinoBias occupation occurs in the State of the Union addresses (the kit's pretraining
corpus), which gendered words stand near it, and how the share of "she" among "he" and "she" changed
from 1790 to 2021. Every choice below is part of the result, so each is stated:

* **Tokens**: the text is lower-cased and split by the regular expression :data:`TOKEN_PATTERN`
  (``[a-z]+``, runs of the letters a-z): digits and punctuation separate words, so "he's" gives "he" and
  "s", and "commander-in-chief" gives three tokens.
* **Gendered words**: :data:`MALE_WORDS` (he, him, his, himself) and :data:`FEMALE_WORDS` (she, her, hers,
  herself). Pronouns only: "man", "woman", "mr", "mrs" are not counted.
* **Window**: the ``window`` tokens before a mention and the ``window`` tokens after it, within the same
  speech (a window never crosses into the next speech); the mention's own tokens are not counted.
* **Mentions**: an occupation is a sequence of tokens ("construction worker" is two); with
  ``plurals=True`` (the default) its regular plural counts too (:func:`plural`: "secretaries",
  "construction workers"), since a model sees both forms. This is co-occurrence, not coreference: a "he"
  near "farmers" is counted although it cannot refer to them.
* **Word sense**: a mention inside one of the multi-word expressions in :data:`OTHER_SENSES` ("secretary
  of state", "commander in chief", "national guard", "guard against", ...) is another sense of the word;
  it is counted separately and, with ``exclude_other_senses=True``, left out. The lists are short and
  stated, so they catch only part of the other senses ("the chief cause" is not in them).
* **Minimum count**: an occupation with fewer than ``min_count`` mentions is marked ``too_rare``: a share
  computed from a handful of windows is mostly noise (its interval shows it).

Uncertainty is a percentile bootstrap over the units that were sampled (:func:`ratio_ci`): over
mentions for an occupation's share of male pronouns, over speeches for an era's share of "she". Where
every pronoun near an occupation is male the bootstrap collapses to ``[1, 1]``, so the occupation table
also gives the Wilson interval (:func:`wilson_interval`).

Documents are given tokenised (``list[list[str]]``, one list per speech, from :func:`tokenize`), so the
1.8 million words are tokenised once and every count reuses them.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd

from labkit.errors import ConfigError

TOKEN_PATTERN = re.compile(r"[a-z]+")
"""A token is a run of the letters a-z in the lower-cased text."""

MALE_WORDS: tuple[str, ...] = ("he", "him", "his", "himself")
FEMALE_WORDS: tuple[str, ...] = ("she", "her", "hers", "herself")

IRREGULAR_PLURALS: dict[str, str] = {"salesperson": "salespeople"}
"""Plurals the rule in :func:`plural` gets wrong, among the WinoBias occupations."""

OTHER_SENSES: dict[str, tuple[tuple[str, ...], ...]] = {
    "secretary": (("secretary", "of"), ("secretaries", "of"), ("secretary", "general")),
    "chief": (("chief", "justice"), ("commander", "in", "chief"), ("chief", "magistrate"),
              ("chief", "executive")),
    "guard": (("national", "guard"), ("coast", "guard"), ("guard", "against"), ("to", "guard")),
    "attendant": (("attendant", "upon"), ("attendant", "on"), ("attendant", "evils")),
    "cleaner": (("cleaner", "air"), ("cleaner", "water"), ("cleaner", "energy"), ("cleaner", "environment")),
    "assistant": (("assistant", "secretary"),),
}
"""Multi-word expressions in which an occupation word is another sense: a cabinet office ("secretary of
state"), a title of the president or a judge ("commander in chief", "chief magistrate", "chief justice"),
a military body or a verb ("national guard", "guard against"), an adjective ("attendant upon", "cleaner
air"). Chosen by reading the corpus's most frequent neighbours of each word (:func:`neighbour_counts`)."""


def tokenize(text: str) -> list[str]:
    """``text`` lower-cased and split into runs of the letters a-z (:data:`TOKEN_PATTERN`).

    The tokens are interned (``sys.intern``): the 1.8 million tokens of the corpus then share one string
    per distinct word, about 20 MB instead of 130 MB.
    """
    return list(map(sys.intern, TOKEN_PATTERN.findall(text.lower())))


def plural(occupation: str) -> str:
    """The regular English plural of an occupation (its last word): +es after s, x, z, ch, sh; consonant + y
    -> ies; otherwise +s; :data:`IRREGULAR_PLURALS` first. "construction worker" -> "construction workers"."""
    if occupation in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[occupation]
    if occupation.endswith(("s", "x", "z", "ch", "sh")):
        return occupation + "es"
    if len(occupation) > 1 and occupation.endswith("y") and occupation[-2] not in "aeiou":
        return occupation[:-1] + "ies"
    return occupation + "s"


def occupation_forms(occupation: str, plurals: bool = True) -> tuple[tuple[str, ...], ...]:
    """The token sequences that count as a mention: the occupation, and its plural when ``plurals``."""
    singular = tuple(tokenize(occupation))
    if not singular:
        raise ConfigError(f"occupation {occupation!r} has no letters a-z: nothing to look for")
    return (singular, tuple(tokenize(plural(occupation)))) if plurals else (singular,)


def token_positions(tokens: Sequence[str], words: Iterable[str]) -> dict[str, list[int]]:
    """Where each of ``words`` occurs in ``tokens``: ``{word: [positions, ...]}`` (one pass over the tokens)."""
    found: dict[str, list[int]] = {word: [] for word in words}
    for position, token in enumerate(tokens):
        if token in found:
            found[token].append(position)
    return found


def find_mentions(tokens: Sequence[str], forms: Sequence[Sequence[str]],
                  positions: Mapping[str, Sequence[int]] | None = None) -> list[tuple[int, int]]:
    """The ``(start, end)`` token spans (``tokens[start:end]``) where one of ``forms`` occurs, in order.

    Each form is a token sequence (``("construction", "worker")``); a position starts at most one span
    (the longest form that fits). ``positions`` (from :func:`token_positions`, covering every form's first
    token) saves a pass over the tokens when many occupations are looked up in the same document.
    """
    forms = sorted({tuple(form) for form in forms}, key=len, reverse=True)
    firsts = {form[0] for form in forms}
    if positions is None:
        positions = token_positions(tokens, firsts)
    spans = []
    for start in sorted(position for first in firsts for position in positions.get(first, ())):
        for form in forms:
            if tuple(tokens[start:start + len(form)]) == form:
                spans.append((start, start + len(form)))
                break
    return spans


def in_expression(tokens: Sequence[str], span: tuple[int, int], expressions: Sequence[Sequence[str]]) -> bool:
    """Whether the mention ``tokens[span[0]:span[1]]`` lies inside an occurrence of one of ``expressions``.

    ``("commander", "in", "chief")`` covers the "chief" at position ``i`` when tokens ``i-2 .. i`` read
    "commander in chief".
    """
    start, end = span
    mention = tuple(tokens[start:end])
    for expression in expressions:
        expression = tuple(expression)
        for offset in range(len(expression) - len(mention) + 1):
            if expression[offset:offset + len(mention)] != mention or start - offset < 0:
                continue
            if tuple(tokens[start - offset:start - offset + len(expression)]) == expression:
                return True
    return False


def window_counts(tokens: Sequence[str], span: tuple[int, int], window: int,
                  words: Sequence[str]) -> int:
    """How many of ``words`` occur among the ``window`` tokens before and the ``window`` after ``span``."""
    if window < 0:
        raise ConfigError(f"window must be >= 0 tokens, got {window}")
    start, end = span
    wanted = set(words)
    around = list(tokens[max(0, start - window):start]) + list(tokens[end:end + window])
    return sum(token in wanted for token in around)


def ratio_ci(numerators: Sequence[float], denominators: Sequence[float], *, n_resamples: int = 1000,
             seed: int = 0, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile-bootstrap interval of ``sum(numerators) / sum(denominators)`` over the units.

    Each unit (a mention, a speech) contributes one numerator and one denominator; a resample draws units
    with replacement (seeded). Resamples whose denominator is 0 are left out; ``(nan, nan)`` when every
    resample (or the data) has none.
    """
    top = np.asarray(numerators, dtype=float)
    bottom = np.asarray(denominators, dtype=float)
    if top.shape != bottom.shape or top.ndim != 1:
        raise ConfigError(f"numerators and denominators must be 1-D and the same length, got shapes "
                          f"{top.shape} and {bottom.shape}")
    if len(top) == 0 or bottom.sum() == 0:
        return float("nan"), float("nan")
    draws = np.random.default_rng(seed).integers(0, len(top), size=(n_resamples, len(top)))
    sums_top, sums_bottom = top[draws].sum(axis=1), bottom[draws].sum(axis=1)
    keep = sums_bottom > 0
    ratios = sums_top[keep] / sums_bottom[keep]
    alpha = 1 - confidence
    low, high = np.quantile(ratios, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def wilson_interval(successes: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of the proportion ``successes / total`` (``(nan, nan)`` when ``total`` is 0).

    Unlike a bootstrap, it does not collapse to ``[1, 1]`` when every observation is a success (7 of 7 male
    pronouns gives about 0.65 to 1). It treats the observations as independent, which pronouns in one
    window are not, so read it as a lower bound on the uncertainty.
    """
    if not 0 <= successes <= total:
        raise ConfigError(f"need 0 <= successes <= total, got {successes} of {total}")
    if total == 0:
        return float("nan"), float("nan")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    share = successes / total
    centre = (share + z * z / (2 * total)) / (1 + z * z / total)
    half = z * np.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def _occupation_row(documents: Sequence[Sequence[str]], positions: Sequence[Mapping[str, Sequence[int]]],
                    occupation: str, *, window: int, plurals: bool, expressions: Sequence[Sequence[str]],
                    exclude: bool) -> dict:
    """One occupation's mentions, other-sense mentions and per-mention gendered counts (see the caller)."""
    forms = occupation_forms(occupation, plurals)
    male, female, other = [], [], 0
    for tokens, where in zip(documents, positions, strict=True):
        for span in find_mentions(tokens, forms, where):
            if in_expression(tokens, span, expressions):
                other += 1
                if exclude:
                    continue
            male.append(window_counts(tokens, span, window, MALE_WORDS))
            female.append(window_counts(tokens, span, window, FEMALE_WORDS))
    n_male, n_female = sum(male), sum(female)
    gendered = np.add(male, female)
    low, high = ratio_ci(male, gendered) if len(male) else (float("nan"), float("nan"))
    wilson_low, wilson_high = wilson_interval(n_male, n_male + n_female)
    return {"occupation": occupation, "mentions": len(male), "other_sense": other, "male": n_male,
            "female": n_female, "male_share": n_male / (n_male + n_female) if n_male + n_female else float("nan"),
            "male_share_low": low, "male_share_high": high, "wilson_low": wilson_low, "wilson_high": wilson_high}


def gendered_counts_near(documents: Sequence[Sequence[str]], occupations: Sequence[str], *, window: int = 10,
                         min_count: int = 20, plurals: bool = True, exclude_other_senses: bool = False,
                         other_senses: Mapping[str, Sequence[Sequence[str]]] | None = None) -> pd.DataFrame:
    """Per occupation: its mentions and the male / female pronouns within ``window`` tokens of them.

    ``documents``: tokenised speeches (:func:`tokenize`). Returns one row per occupation, in the order
    given, with ``mentions`` (counted; without the other-sense ones when ``exclude_other_senses``),
    ``other_sense`` (mentions inside an expression of ``other_senses``, default :data:`OTHER_SENSES`),
    ``male`` and ``female`` (pronoun counts summed over the windows), ``male_share`` = male / (male +
    female) with two 95% intervals, and ``too_rare`` (``mentions < min_count``). The intervals:
    ``male_share_low`` / ``_high``, a percentile bootstrap over mentions (it keeps a window's pronouns
    together, but collapses to ``[1, 1]`` when no female pronoun was seen at all); ``wilson_low`` /
    ``_high``, the Wilson interval over pronouns (:func:`wilson_interval`; never collapses, but treats
    pronouns as independent). Keyword-only options, each a stated choice of the measurement.
    """
    if min_count < 0:
        raise ConfigError(f"min_count must be >= 0, got {min_count}")
    if not len(occupations):
        raise ConfigError("no occupations given")
    senses = OTHER_SENSES if other_senses is None else other_senses
    firsts = {form[0] for occupation in occupations for form in occupation_forms(occupation, plurals)}
    positions = [token_positions(tokens, firsts) for tokens in documents]
    rows = [_occupation_row(documents, positions, occupation, window=window, plurals=plurals,
                            expressions=senses.get(occupation, ()), exclude=exclude_other_senses)
            for occupation in occupations]
    table = pd.DataFrame(rows)
    table["too_rare"] = table["mentions"] < min_count
    return table


def word_sense_counts(documents: Sequence[Sequence[str]], occupation: str,
                      expressions: Sequence[Sequence[str]] | None = None, plurals: bool = True) -> pd.DataFrame:
    """How many of an occupation's mentions fall inside each other-sense expression.

    One row per expression (default: ``OTHER_SENSES[occupation]``) with ``count`` and ``share`` of all
    mentions, then a row ``"(any of these)"`` and a row ``"(none: kept)"``. A mention inside two
    expressions counts once in the "any" row.
    """
    expressions = OTHER_SENSES.get(occupation, ()) if expressions is None else expressions
    forms = occupation_forms(occupation, plurals)
    mentions = [(tokens, span) for tokens in documents for span in find_mentions(tokens, forms)]
    total = len(mentions)
    rows = [{"expression": " ".join(expression),
             "count": sum(in_expression(tokens, span, [expression]) for tokens, span in mentions)}
            for expression in expressions]
    other = sum(in_expression(tokens, span, expressions) for tokens, span in mentions)
    rows += [{"expression": "(any of these)", "count": other}, {"expression": "(none: kept)", "count": total - other}]
    table = pd.DataFrame(rows)
    table["share"] = table["count"] / total if total else float("nan")
    return table


def neighbour_counts(documents: Sequence[Sequence[str]], word: str, side: str = "right", top: int = 10) -> pd.Series:
    """The ``top`` most frequent tokens right after (``side="right"``) or before (``"left"``) ``word``.

    The quickest way to see a word's senses in a corpus ("secretary" -> "of" ...), and how the lists in
    :data:`OTHER_SENSES` were chosen.
    """
    if side not in ("left", "right"):
        raise ConfigError(f"side must be 'left' or 'right', got {side!r}")
    step = 1 if side == "right" else -1
    found = [tokens[i + step] for tokens in documents for i, token in enumerate(tokens)
             if token == word and 0 <= i + step < len(tokens)]
    return pd.Series(found, dtype=object).value_counts().head(top).rename(f"{side} of {word!r}")


def era_labels(years: Sequence[int], period: int = 50, start: int | None = None) -> list[str]:
    """Each year's era, e.g. ``"1790-1839"`` for ``period=50`` starting at ``start`` (default: the first year).

    The last era ends at the last year present, so it may be shorter (``"1990-2021"``).
    """
    if period < 1:
        raise ConfigError(f"period must be a positive number of years, got {period}")
    years = [int(year) for year in years]
    if not years:
        raise ConfigError("no years given")
    first = min(years) if start is None else start
    if first > min(years):
        raise ConfigError(f"start {first} is after the first year {min(years)}")
    last = max(years)
    labels = []
    for year in years:
        begin = first + (year - first) // period * period
        labels.append(f"{begin}-{min(begin + period - 1, last)}")
    return labels


def pronoun_shares(documents: Sequence[Sequence[str]], groups: Sequence[str], *, first: str = "he",
                   second: str = "she", n_resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Counts of ``first`` and ``second`` per group of documents (e.g. an era), with bootstrap intervals.

    One row per group (in order of first appearance): ``documents``, ``words`` (tokens), the two counts,
    ``{first}_per_{second}`` (the ratio of counts) and ``{second}_share`` = second / (first + second), each
    with a percentile-bootstrap interval over the group's documents (``_low`` / ``_high``). Exact words
    only: "he" is counted, "him" and "his" are not. Keyword-only options.
    """
    if len(documents) != len(groups):
        raise ConfigError(f"documents and groups must be the same length, got {len(documents)} and {len(groups)}")
    if not len(documents):
        raise ConfigError("no documents given")
    counts = pd.DataFrame({"group": list(groups),
                           first: [sum(token == first for token in tokens) for tokens in documents],
                           second: [sum(token == second for token in tokens) for tokens in documents],
                           "words": [len(tokens) for tokens in documents]})
    rows = []
    for group, part in counts.groupby("group", sort=False):
        a, b = part[first].to_numpy(), part[second].to_numpy()
        ratio_low, ratio_high = ratio_ci(a, b, n_resamples=n_resamples, seed=seed)
        share_low, share_high = ratio_ci(b, a + b, n_resamples=n_resamples, seed=seed)
        rows.append({"group": group, "documents": len(part), "words": int(part["words"].sum()),
                     first: int(a.sum()), second: int(b.sum()),
                     f"{first}_per_{second}": a.sum() / b.sum() if b.sum() else float("inf"),
                     f"{first}_per_{second}_low": ratio_low, f"{first}_per_{second}_high": ratio_high,
                     f"{second}_share": b.sum() / (a.sum() + b.sum()) if a.sum() + b.sum() else float("nan"),
                     f"{second}_share_low": share_low, f"{second}_share_high": share_high})
    return pd.DataFrame(rows)
