"""Global feature importance: which words matter across a whole test set, for a classical and a neural model.

* TF-IDF + logistic regression (:func:`labkit.finetune.tfidf_pipeline`) is linear: each word (or word
  pair) has one coefficient per class, the same for every text. :func:`logistic_regression_weights` and
  :func:`logistic_regression_importance` read them.
* A transformer has no such table: its attributions belong to one text at a time.
  :func:`word_importance` aggregates them over many texts per *word*: WordPiece pieces are merged back
  into words (:func:`merge_word_pieces`; a word's score is the **sum** of its pieces' scores, so it keeps
  the units of the attribution), words are lower-cased, special tokens skipped, and each word gets its
  mean score, total and how many times it was seen.
* :func:`compare_importance` sets the two lists side by side: the overlap of their top-k words and the
  rank correlation over the words both know.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from labkit.interpret.agreement import SPECIAL_TOKENS
from labkit.interpret.token_attribution import TokenAttribution


def _vectoriser_and_classifier(fitted: Any) -> tuple[Any, Any, list[str] | None]:
    """``(TfidfVectorizer, LogisticRegression, label names or None)`` from a fitted pipeline or a ``FineTuneResult``."""
    label_names = None
    if hasattr(fitted, "label_names") and hasattr(fitted, "model"):  # a FineTuneResult of the baseline
        fitted, label_names = fitted.model, list(fitted.label_names)
    steps = getattr(fitted, "steps", None)
    if not steps or len(steps) < 2:
        raise TypeError("expected a fitted scikit-learn Pipeline (TF-IDF then logistic regression) or the "
                        f"FineTuneResult of tfidf_logistic_regression, got {type(fitted).__name__}")
    vectoriser, classifier = steps[0][1], steps[-1][1]
    if not hasattr(vectoriser, "get_feature_names_out") or not hasattr(classifier, "coef_"):
        raise ValueError("the pipeline is not fitted, or is not a vectoriser followed by a linear classifier: "
                         "fit it first (pipeline.fit(texts, labels))")
    return vectoriser, classifier, label_names


def logistic_regression_weights(fitted: Any, *, unigrams_only: bool = False) -> pd.DataFrame:
    """Every feature's coefficient per class: one row per feature, one column per class.

    ``fitted``: a fitted ``tfidf_pipeline()`` or the ``FineTuneResult`` of ``tfidf_logistic_regression``
    (then the columns are the label names). With two classes scikit-learn fits **one** coefficient
    vector, for the second class: a positive coefficient pushes towards ``classes_[1]`` and a negative
    one towards ``classes_[0]``; the table then has a single column, named after ``classes_[1]``. With
    ``unigrams_only`` the word pairs (bigrams) are dropped, for comparison with per-word importance.
    """
    vectoriser, classifier, label_names = _vectoriser_and_classifier(fitted)
    classes = [label_names[c] if label_names is not None and isinstance(c, (int, np.integer)) else c
               for c in classifier.classes_]
    coefficients = np.asarray(classifier.coef_)
    columns = classes[1:] if coefficients.shape[0] == 1 else classes
    frame = pd.DataFrame(coefficients.T, index=vectoriser.get_feature_names_out(), columns=columns)
    frame.index.name = "feature"
    if unigrams_only:
        frame = frame[[" " not in feature for feature in frame.index]]
    return frame


def logistic_regression_importance(fitted: Any, k: int = 10, *, unigrams_only: bool = False) -> pd.DataFrame:
    """The ``k`` largest positive and ``k`` most negative coefficients of each class, with their words.

    One row per feature kept: ``class`` (whose coefficient row it is; with two classes only the second,
    see :func:`logistic_regression_weights`), ``direction`` (``"positive"``: pushes towards that class;
    ``"negative"``: away from it, i.e. towards the other class when there are two), ``rank`` (1 = the
    strongest), ``feature`` and ``coefficient``.
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    weights = logistic_regression_weights(fitted, unigrams_only=unigrams_only)
    rows = []
    for label in weights.columns:
        column = weights[label]
        for direction, chosen in (("positive", column.nlargest(k)), ("negative", column.nsmallest(k))):
            rows += [{"class": label, "direction": direction, "rank": rank, "feature": feature,
                      "coefficient": float(value)}
                     for rank, (feature, value) in enumerate(chosen.items(), start=1)]
    return pd.DataFrame(rows, columns=["class", "direction", "rank", "feature", "coefficient"])


def merge_word_pieces(tokens: Sequence[str], scores: Any,
                      special_tokens: Sequence[str] = SPECIAL_TOKENS) -> list[tuple[str, float]]:
    """WordPiece tokens back into lower-cased words: ``[(word, score)]``, a word's score the sum of its pieces'.

    A piece starting with ``##`` continues the word before it (``"un", "##for", "##get", "##table"`` ->
    ``"unforgettable"``); special tokens are skipped. Punctuation tokens stay words of their own.
    """
    values = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(values) != len(tokens):
        raise ValueError(f"one score per token: got {len(values)} scores for {len(tokens)} tokens")
    special = set(special_tokens)
    words: list[list[Any]] = []
    previous_special = True
    for token, value in zip(tokens, values, strict=True):
        if token in special:
            previous_special = True
            continue
        if token.startswith("##") and words and not previous_special:
            words[-1][0] += token[2:]
            words[-1][1] += float(value)
        else:
            words.append([token, float(value)])
        previous_special = False
    return [(word.lower(), score) for word, score in words]


def word_importance(attributions: Sequence[TokenAttribution], *, min_count: int = 1,
                    special_tokens: Sequence[str] = SPECIAL_TOKENS) -> pd.DataFrame:
    """Per-word importance over many texts, from one ``TokenAttribution`` per text.

    Each text's tokens are merged into words (:func:`merge_word_pieces`); every occurrence of a word
    adds its score. Returns one row per word seen at least ``min_count`` times: ``word``, ``mean_score``
    (average over occurrences), ``total`` (sum), ``count`` (occurrences) and ``texts`` (how many texts
    contain it), highest mean first. The scores explain each attribution's ``target`` class, so all
    attributions must explain the same class (compute them with a fixed ``target``) or the signs mix.
    """
    if not attributions:
        raise ValueError("give at least one TokenAttribution")
    targets = {attribution.target for attribution in attributions}
    if len(targets) > 1:
        raise ValueError(f"the attributions explain different classes {sorted(targets)}: a word's score for one "
                         "class cannot be averaged with its score for another; use the same target for all")
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, got {min_count}")
    rows = []
    for index, attribution in enumerate(attributions):
        rows += [(index, word, score) for word, score in
                 merge_word_pieces(attribution.tokens, attribution.scores, special_tokens)]
    occurrences = pd.DataFrame(rows, columns=["text", "word", "score"])
    grouped = occurrences.groupby("word")
    table = pd.DataFrame({"mean_score": grouped["score"].mean(), "total": grouped["score"].sum(),
                          "count": grouped.size(), "texts": grouped["text"].nunique()}).reset_index()
    table = table[table["count"] >= min_count]
    return table.sort_values(["mean_score", "word"], ascending=[False, True], ignore_index=True)


@dataclass(frozen=True)
class ImportanceComparison:
    """Two per-word importance lists side by side."""

    k: int
    top_first: list[str]  #: the first list's top-k words, strongest first
    top_second: list[str]
    overlap: list[str]  #: words in both top-k lists, in the first list's order
    shared_words: int  #: words both lists score
    spearman: float  #: rank correlation over the shared words (NaN if fewer than 3)
    p_value: float

    @property
    def overlap_share(self) -> float:
        """The share of the top-k words the two lists have in common (0 to 1)."""
        return len(self.overlap) / self.k

    def __str__(self) -> str:
        return (f"{len(self.overlap)} of the top {self.k} words in common; Spearman {self.spearman:.2f} over "
                f"{self.shared_words} shared words")


def compare_importance(first: pd.Series, second: pd.Series, k: int = 20) -> ImportanceComparison:
    """Overlap of the top-``k`` words and Spearman's rank correlation over the words both lists score.

    ``first`` and ``second`` map words (the index, compared lower-cased) to scores, e.g. the logistic
    regression's coefficient column for the positive class and ``word_importance(...)`` indexed by
    ``word`` with its ``mean_score`` for the same class. "Top" means the highest scores (the words
    pushing hardest towards the class); pass ``series.abs()`` to rank by strength in either direction.
    """
    from scipy.stats import spearmanr

    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    a, b = (_by_lower_word(series, name) for series, name in ((first, "first"), (second, "second")))
    top_a, top_b = list(a.nlargest(k).index), list(b.nlargest(k).index)
    overlap = [word for word in top_a if word in set(top_b)]
    shared = a.index.intersection(b.index)
    if len(shared) >= 3:
        result = spearmanr(a[shared].to_numpy(), b[shared].to_numpy())
        rho, p_value = float(result[0]), float(result[1])
    else:
        rho, p_value = float("nan"), float("nan")
    return ImportanceComparison(k, top_a, top_b, overlap, len(shared), rho, p_value)


def _by_lower_word(series: pd.Series, name: str) -> pd.Series:
    """``series`` with a lower-cased index (duplicates after lower-casing averaged), NaN dropped."""
    if not isinstance(series, pd.Series):
        raise TypeError(f"{name} must be a pandas Series word -> score, got {type(series).__name__}")
    values = series.dropna().astype(float)
    return values.groupby(values.index.astype(str).str.lower()).mean()
