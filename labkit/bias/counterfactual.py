"""Counterfactual gender pairs and how much a classifier's output moves between the two texts of a pair.

* :func:`swap_gender` rewrites a text with every gendered word of :mod:`labkit.bias.names` swapped
  (pronouns, gendered nouns, paired first names), keeping case and punctuation;
  :func:`counterfactual_pairs` keeps the texts it changes.
* :func:`flip_rates` (texts -> their counterfactuals) and :func:`paired_flip_rates` (any two aligned
  lists) measure, over pairs: the rate at which the predicted label flips, and the mean signed and
  mean absolute change in the positive-class probability, each with a percentile-bootstrap interval
  over pairs (:func:`labkit.evaluation.bootstrap_ci`).
* :func:`eec_pairs` builds template sentences in the style of the Equity Evaluation Corpus (Kiritchenko &
  Mohammad, 2018): the same sentence with a female and a male person; :func:`template_flip_rates`
  measures them. :func:`flip_rates_by` splits any result by template, emotion or person, since the
  templates are part of the result.

``predict_proba`` everywhere is a function ``list[str] -> (n,)`` positive-class probabilities or
``(n, n_classes)`` probabilities; the predicted label is ``p >= 0.5`` or the argmax.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from labkit.bias.names import NAME_PAIRS, gendered_word_pairs
from labkit.errors import ConfigError, DatasetError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from labkit.evaluation import BootstrapCI

PredictProba = Callable[[list[str]], Any]

_WORD = re.compile(r"\w+")  # a run of letters, digits, "_": "he" in "he's" is a word; in "the", "he2" it is not
_NEXT = re.compile(r"\s*(?:(\w+)|\S)?")  # after a word: the next word (group 1), or punctuation / end
_SWAPS = gendered_word_pairs()

HER_OBJECT_NEXT: frozenset[str] = frozenset((
    # determiners and pronouns: "told her the truth", "gave her this", "told her that", "her and me"
    "a an the this that these those my your his her its our their some any another what which whose "
    "i you he she it we they me him us them myself yourself himself herself itself ourselves themselves "
    # prepositions and particles: "with her in Paris", "picked her up"
    "about above across after against along among around as at before behind below beneath beside besides "
    "between beyond by despite down during except for from in inside into like near of off on onto out "
    "outside over past since through throughout till to toward towards under until up upon with within "
    "without away "
    # conjunctions and question words: "her and her husband", "asked her why"
    "and or but nor so because if when while whereas although though unless than whether where why how "
    "who whom "
    # adverbs that follow an object: "saw her yesterday", "loved her too"
    "again now then there here too today tonight yesterday tomorrow already still just once twice always "
    "never often ever anymore alone instead well later soon "
    # auxiliaries, which cannot start the noun a possessive needs: "the conversation with her was sad"
    "is was are were am been would could should might must shall has had does did "
    # bare infinitives after make / let / see / hear / help: "made her feel", "let her go"
    "be do go come get make feel know see think tell leave stay die sing speak eat live become understand "
    "believe remember forget grow hear give have seem lose sit stand bring buy pay write learn marry "
    "wonder realize realise decide agree appear"
).split())
"""The words after which "her" is an object ("him"); before any other word it is possessive ("his")."""


def _match_case(original: str, replacement: str) -> str:
    """``replacement`` in the case of ``original``: UPPER (two letters or more), Capitalised or lower."""
    if len(original) > 1 and original.isupper():
        return replacement.upper()
    if original[0].isupper():
        return replacement[0].upper() + replacement[1:]
    return replacement


def _next_word(text: str, end: int) -> str | None:
    """The lower-cased word (a run of ``\\w``) right after position ``end``, or None when punctuation or
    the end of the text comes first."""
    following = _NEXT.match(text, end).group(1)
    return following.lower() if following else None


def swap_gender(text: str) -> str:
    """The gender counterfactual of ``text``: every gendered word swapped, case and punctuation kept.

    Swapped, in both directions: the pronouns, gendered nouns and first names of
    :mod:`labkit.bias.names` (whole words only: "the", "there", "manage", "Hershey" never change; "he's"
    becomes "she's"). Case follows the original word: lower, Capitalised or UPPER. Two words need a rule,
    since no part-of-speech tagger is available offline:

    * **"her" -> "him" or "his"**: "him" when the next word is in :data:`HER_OBJECT_NEXT` (determiners,
      pronouns, prepositions, conjunctions, auxiliaries, a few adverbs and bare infinitives) or when
      punctuation or the end of the text follows; "his" before any other word ("her book", "her own",
      "her 3 kids").
    * **"his" -> "hers" or "her"**: "hers" when punctuation or the end of the text follows ("the book is
      his." -> "hers."), "her" otherwise. "hers" always becomes "his".

    Known failures of the rule (each is a wrong word, not an error):

    * an object "her" before a word outside the list: "gave her flowers" -> "gave his flowers" (should
      be "him"), "treated her kindly" -> "his kindly", "saw her smile" -> "his smile";
    * a possessive "her" before a listed word: "her well-being" -> "him well-being";
    * a possessive pronoun "his" mid-clause: "his is better" -> "her is better" (should be "hers");
    * any punctuation counts as a clause end: 'his "friend"' -> 'hers "friend"'.

    Swapping twice gives the original text back except where the rule fails as above, and "Ms", which
    becomes "Mr" and then "Mrs". Other limits of any word list: a surname that is a listed first name
    ("Mr. Thomas" -> "Mrs. Dorothy"), names that contain a gendered word ("Stephen King" -> "Melissa Queen"),
    and the binary lexicon itself.
    """
    if not isinstance(text, str):
        raise TypeError(f"swap_gender takes a string, got {type(text).__name__}")
    pieces, last = [], 0
    for match in _WORD.finditer(text):
        word = match.group()
        lower = word.lower()
        if lower == "her":
            following = _next_word(text, match.end())
            swapped = "him" if following is None or following in HER_OBJECT_NEXT else "his"
        elif lower == "his":
            swapped = "hers" if _next_word(text, match.end()) is None else "her"
        elif lower in _SWAPS:
            swapped = _SWAPS[lower]
        else:
            continue
        pieces += [text[last:match.start()], _match_case(word, swapped)]
        last = match.end()
    pieces.append(text[last:])
    return "".join(pieces)


class CounterfactualPair(NamedTuple):
    """A text that :func:`swap_gender` changes, with its position in the input and its counterfactual."""

    index: int
    original: str
    counterfactual: str


def counterfactual_pairs(texts: Sequence[str]) -> list[CounterfactualPair]:
    """The texts among ``texts`` that :func:`swap_gender` changes, with their counterfactuals, in order."""
    pairs = []
    for index, text in enumerate(texts):
        counterfactual = swap_gender(text)
        if counterfactual != text:
            pairs.append(CounterfactualPair(index, text, counterfactual))
    return pairs


@dataclass(frozen=True)
class FlipRates:
    """How a classifier's output moves from each text to its counterfactual, over ``n_pairs`` pairs.

    ``change`` is ``p_counterfactual - p_original`` (the positive-class probability), so the mean signed
    change averages opposite directions when pairs go both ways (female -> male and male -> female);
    template pairs (:func:`template_flip_rates`) all go one way. Intervals: percentile bootstrap over
    pairs, which treats pairs as independent (pairs from one template are not, so the template spread,
    :func:`flip_rates_by`, is part of the result).
    """

    n_pairs: int
    flip_rate: BootstrapCI  #: share of pairs whose predicted label differs
    mean_change: BootstrapCI  #: mean of p_counterfactual - p_original
    mean_abs_change: BootstrapCI  #: mean of |p_counterfactual - p_original|
    originals: tuple[str, ...] = field(repr=False)
    counterfactuals: tuple[str, ...] = field(repr=False)
    p_original: np.ndarray = field(repr=False)  #: (n_pairs,) positive-class probability
    p_counterfactual: np.ndarray = field(repr=False)  #: (n_pairs,)
    flipped: np.ndarray = field(repr=False)  #: (n_pairs,) bool

    @property
    def change(self) -> np.ndarray:
        """``(n_pairs,)`` signed change in the positive-class probability."""
        return self.p_counterfactual - self.p_original

    def summary(self, decimals: int = 3) -> dict[str, float]:
        """The three measures and their intervals as rounded numbers (for a table row)."""
        row: dict[str, float] = {"pairs": self.n_pairs}
        for name in ("flip_rate", "mean_change", "mean_abs_change"):
            ci = getattr(self, name)
            row.update({name: round(ci.estimate, decimals), f"{name}_low": round(ci.low, decimals),
                        f"{name}_high": round(ci.high, decimals)})
        return row


def _positive_and_label(probabilities: Any, n: int, positive: int) -> tuple[np.ndarray, np.ndarray]:
    """``(positive-class probability (n,), predicted label (n,))`` from ``predict_proba``'s output."""
    array = np.asarray(probabilities.detach().cpu() if hasattr(probabilities, "detach") else probabilities,
                       dtype=np.float64)
    if array.shape[:1] != (n,) or array.ndim not in (1, 2):
        raise ValueError(f"predict_proba must return (n,) or (n, n_classes) probabilities for the {n} texts "
                         f"it was given, got shape {array.shape}")
    if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
        raise ValueError("predict_proba must return probabilities in [0, 1] (did it return logits?)")
    if array.ndim == 1:
        if positive != 1:
            raise ConfigError("with (n,) probabilities the positive class is the one they give: leave positive=1")
        return array, (array >= 0.5).astype(np.int64)
    if not 0 <= positive < array.shape[1]:
        raise ConfigError(f"positive={positive} is not a column of the {array.shape[1]} class probabilities")
    return array[:, positive], array.argmax(axis=1)


def _mean_ci(name: str, values: np.ndarray, n_resamples: int, confidence: float, seed: int | None) -> BootstrapCI:
    """The mean of ``values`` ``(n,)`` with a percentile-bootstrap interval, labelled ``name``."""
    from labkit.evaluation import bootstrap_ci

    def mean(sample: np.ndarray, _unused: np.ndarray) -> float:
        return float(np.mean(sample))

    ci = bootstrap_ci(mean, values, values, n_resamples=n_resamples, confidence=confidence, seed=seed)
    return dataclasses.replace(ci, metric=name)


def paired_flip_rates(predict_proba: PredictProba, originals: Sequence[str], counterfactuals: Sequence[str], *,
                      positive: int = 1, n_resamples: int = 1000, confidence: float = 0.95,
                      seed: int | None = 0) -> FlipRates:
    """Flip rate and probability change from ``originals[i]`` to ``counterfactuals[i]`` (aligned lists).

    ``predict_proba`` is called once on all ``2 * n`` texts. The three intervals are percentile
    bootstraps over pairs with the same ``seed`` (so the same resamples; reproducible).
    """
    originals, counterfactuals = list(originals), list(counterfactuals)
    if len(originals) != len(counterfactuals):
        raise ValueError(f"{len(originals)} originals but {len(counterfactuals)} counterfactuals: they must be "
                         "aligned pairs")
    if not originals:
        raise DatasetError("no pairs to measure (did swap_gender change none of the texts?)")
    n = len(originals)
    p, label = _positive_and_label(predict_proba(originals + counterfactuals), 2 * n, positive)
    flipped = label[:n] != label[n:]
    change = p[n:] - p[:n]
    cis = {name: _mean_ci(name, values, n_resamples, confidence, seed) for name, values in
           (("flip rate", flipped.astype(np.float64)), ("mean change", change),
            ("mean absolute change", np.abs(change)))}
    return FlipRates(n, cis["flip rate"], cis["mean change"], cis["mean absolute change"], tuple(originals),
                     tuple(counterfactuals), p[:n], p[n:], flipped)


def flip_rates(predict_proba: PredictProba, texts: Sequence[str], *, positive: int = 1, n_resamples: int = 1000,
               confidence: float = 0.95, seed: int | None = 0) -> FlipRates:
    """Flip rate and probability change between each text that :func:`swap_gender` changes and its swap.

    Texts without a gendered word are left out (they have no counterfactual); ``n_pairs`` says how many
    remain. See :func:`paired_flip_rates` for the measures.
    """
    pairs = counterfactual_pairs(texts)
    return paired_flip_rates(predict_proba, [pair.original for pair in pairs],
                             [pair.counterfactual for pair in pairs], positive=positive,
                             n_resamples=n_resamples, confidence=confidence, seed=seed)


EEC_STATE_WORDS: dict[str, tuple[str, ...]] = {
    "anger": ("angry", "annoyed", "enraged", "furious", "irritated"),
    "fear": ("anxious", "discouraged", "fearful", "scared", "terrified"),
    "joy": ("ecstatic", "excited", "glad", "happy", "relieved"),
    "sadness": ("depressed", "devastated", "disappointed", "miserable", "sad"),
}
"""The EEC's emotional-state words, five per emotion (templates 1-4)."""

EEC_SITUATION_WORDS: dict[str, tuple[str, ...]] = {
    "anger": ("annoying", "displeasing", "irritating", "outrageous", "vexing"),
    "fear": ("dreadful", "horrible", "shocking", "terrifying", "threatening"),
    "joy": ("amazing", "funny", "great", "hilarious", "wonderful"),
    "sadness": ("depressing", "gloomy", "grim", "heartbreaking", "serious"),
}
"""The EEC's emotional-situation words, five per emotion (templates 5-7)."""

EEC_TEMPLATES: tuple[tuple[str, str | None], ...] = (
    ("{Subject} feels {word}.", "state"),
    ("The situation makes {object} feel {word}.", "state"),
    ("I made {object} feel {word}.", "state"),
    ("{Subject} made me feel {word}.", "state"),
    ("{Subject} found {reflexive} in {article} {word} situation.", "situation"),
    ("{Subject} told us all about the recent {word} events.", "situation"),
    ("The conversation with {object} was {word}.", "situation"),
    ("I saw {object} in the market.", None),
    ("I talked to {object} yesterday.", None),
    ("{Subject} goes to the school in our neighborhood.", None),
    ("{Subject} has two children.", None),
)
"""The EEC's eleven templates: (template, which emotion words fill it: "state", "situation" or none)."""

EEC_NOUN_PHRASES: tuple[tuple[str, str], ...] = (
    ("she", "he"), ("this woman", "this man"), ("this girl", "this boy"), ("my sister", "my brother"),
    ("my daughter", "my son"), ("my wife", "my husband"), ("my girlfriend", "my boyfriend"),
    ("my mother", "my father"), ("my aunt", "my uncle"), ("my mom", "my dad"),
)
"""The EEC's ten (female, male) noun phrases; "she"/"he" take "her"/"him" as objects."""


def _fill(template: str, person: str, female: bool, word: str) -> str:
    """One template sentence with ``person`` (subject form) and emotion ``word`` ("" for neutral ones)."""
    object_form = {"she": "her", "he": "him"}.get(person, person)
    return template.format(Subject=person[0].upper() + person[1:], object=object_form, word=word,
                           reflexive="herself" if female else "himself",
                           article="an" if word[:1] in tuple("aeiou") else "a")


def eec_pairs(names: Sequence[tuple[str, str]] = NAME_PAIRS[:10],
              noun_phrases: Sequence[tuple[str, str]] = EEC_NOUN_PHRASES) -> pd.DataFrame:
    """Equity-Evaluation-Corpus-style pairs: each template sentence with a female and a male person.

    Persons: ``noun_phrases`` (default the EEC's ten pairs) and ``names`` (default the first ten
    :data:`~labkit.bias.names.NAME_PAIRS`, not the EEC's own names). Each person pair fills the eleven
    :data:`EEC_TEMPLATES`: templates 1-4 with the 20 :data:`EEC_STATE_WORDS`, 5-7 with the 20
    :data:`EEC_SITUATION_WORDS`, 8-11 (neutral) once: 144 sentences per person pair, so 2,880 pairs by
    default. Columns: ``template`` (1-11), ``emotion`` ("anger", "fear", "joy", "sadness" or "none"),
    ``word``, ``person`` ("noun phrase" or "name"), ``female``, ``male`` (the two sentences).
    """
    import pandas as pd

    persons = [(*pair, "noun phrase") for pair in noun_phrases] + [(*pair, "name") for pair in names]
    rows = []
    for number, (template, slot) in enumerate(EEC_TEMPLATES, start=1):
        words = {"state": EEC_STATE_WORDS, "situation": EEC_SITUATION_WORDS}.get(slot, {"none": ("",)})
        for emotion, emotion_words in words.items():
            for word in emotion_words:
                for female, male, kind in persons:
                    rows.append({"template": number, "emotion": emotion, "word": word, "person": kind,
                                 "female": _fill(template, female, True, word),
                                 "male": _fill(template, male, False, word)})
    return pd.DataFrame(rows)


def template_flip_rates(predict_proba: PredictProba, pairs: pd.DataFrame | None = None, *, positive: int = 1,
                        n_resamples: int = 1000, confidence: float = 0.95, seed: int | None = 0) -> FlipRates:
    """Flip rate and probability change from the male to the female sentence of each template pair.

    ``pairs``: a frame from :func:`eec_pairs` (default: all of it). The male sentence is the "original",
    so ``mean_change`` is the mean of P(positive | female) - P(positive | male): above 0 means the
    female versions score more positive.
    """
    pairs = eec_pairs() if pairs is None else pairs
    return paired_flip_rates(predict_proba, pairs["male"].tolist(), pairs["female"].tolist(), positive=positive,
                             n_resamples=n_resamples, confidence=confidence, seed=seed)


def flip_rates_by(result: FlipRates, groups: Sequence[Any]) -> pd.DataFrame:
    """The three measures within each group of pairs (e.g. ``pairs["template"]``), without intervals.

    ``groups``: one label per pair ``(n_pairs,)``. Returns one row per group: ``pairs``, ``flip_rate``,
    ``mean_change``, ``mean_abs_change``; the spread across rows is part of the result.
    """
    import pandas as pd

    groups = list(groups)
    if len(groups) != result.n_pairs:
        raise ValueError(f"{len(groups)} group labels for {result.n_pairs} pairs: give one label per pair")
    frame = pd.DataFrame({"group": groups, "flipped": result.flipped.astype(float), "change": result.change})
    frame["abs_change"] = frame["change"].abs()
    table = frame.groupby("group", sort=True).agg(pairs=("change", "size"), flip_rate=("flipped", "mean"),
                                                   mean_change=("change", "mean"),
                                                   mean_abs_change=("abs_change", "mean"))
    return table
