"""Embedding association: WEAT (Caliskan et al., 2017) on plain vectors, and SEAT (May et al., 2019) on MiniLM.

WEAT asks whether two sets of **target** vectors ``X`` and ``Y`` (e.g. occupations held mostly by women,
and mostly by men) differ in how close they are to two sets of **attribute** vectors ``A`` and ``B``
(female and male words). For one vector ``w``:

    s(w, A, B) = mean_{a in A} cos(w, a) - mean_{b in B} cos(w, b)

and the **effect size** is a standardised difference of means (a Cohen's d):

    d = ( mean_{x in X} s(x, A, B) - mean_{y in Y} s(y, A, B) ) / std_{w in X u Y} s(w, A, B)

The papers write "std-dev"; this module uses the **sample** standard deviation (``ddof=1``), as May et
al.'s SEAT code does. ``d > 0``: X is closer to A (and Y to B) than the other way round.

The **p-value** is a one-sided permutation test. The statistic is ``S(X, Y) = sum_X s - sum_Y s``; under
the null hypothesis that the labels X and Y are exchangeable, every split of ``X u Y`` into two sets of
the original sizes is as likely. ``p`` is the share of splits whose statistic is **at least** the one
observed (``>=``, the observed split included, so ``p > 0``; Caliskan et al. write ``>``, which
ignores ties). With at most :data:`EXACT_LIMIT` splits they are all enumerated (exact); otherwise
``permutations`` random splits are drawn by ``numpy.random.default_rng(seed)`` and
``p = (1 + #{S_i >= S}) / (1 + permutations)`` (Phipson & Smyth, 2010: never 0). The test needs
``|X| == |Y|``, as in the paper.

**SEAT** applies WEAT to sentence embeddings: each word goes into semantically "bleached" templates
("This is a nurse.", :data:`SEAT_TEMPLATES`), each sentence is a member of its set, and MiniLM embeds
the sentences the way all-MiniLM-L6-v2 is meant to be used (its ``modules.json``: mean pooling over
the tokens under the attention mask, then L2 normalisation; :func:`sentence_embeddings`). Sentences of
one word are not independent draws, so the sentence-level test is optimistic; :func:`seat` also runs
each template alone, which shows the spread across templates.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from math import comb
from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import ConfigError

EXACT_LIMIT = 100_000
"""Enumerate every split when there are at most this many (``C(|X|+|Y|, |X|)``); C(16, 8) = 12,870 is."""

SEAT_TEMPLATES: tuple[str, ...] = (
    "This is {article} {word}.",
    "That is {article} {word}.",
    "There is {article} {word}.",
    "Here is {article} {word}.",
    "The {word} is here.",
    "The {word} is there.",
    "This is the {word}.",
)
"""May et al.'s (2019) bleached templates for nouns; ``{article}`` is "a" or "an" (:func:`fill_templates`)."""

FEMALE_ATTRIBUTES: tuple[str, ...] = ("woman", "girl", "sister", "daughter", "mother", "aunt", "grandmother",
                                      "wife")
MALE_ATTRIBUTES: tuple[str, ...] = ("man", "boy", "brother", "son", "father", "uncle", "grandfather", "husband")
"""Attribute words A (female) and B (male): the nouns of Caliskan et al.'s gender lists (WEAT 6-8; their
pronouns dropped, since the templates need a noun) plus wife / husband, in matched pairs."""


def _vectors(name: str, values: Any) -> np.ndarray:
    """``values`` as a float matrix ``(n, d)`` with ``n >= 1`` finite, non-zero rows; clear errors otherwise."""
    array = np.asarray(values, dtype=float)
    if array.ndim == 1 and array.size:
        array = array[None, :]
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ConfigError(f"{name} must be a non-empty set of vectors, shape (n, d), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ConfigError(f"{name} contains NaN or infinite values")
    if np.any(np.linalg.norm(array, axis=1) == 0):
        raise ConfigError(f"{name} contains a zero vector, whose cosine similarity is undefined")
    return array


def _unit(array: np.ndarray) -> np.ndarray:
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def weat_association(W: Any, A: Any, B: Any) -> np.ndarray:
    """``s(w, A, B)`` for each row ``w`` of ``W``: mean cosine with ``A`` minus mean cosine with ``B``: ``(n_w,)``."""
    W, A, B = _vectors("W", W), _vectors("A", A), _vectors("B", B)
    if not W.shape[1] == A.shape[1] == B.shape[1]:
        raise ConfigError(f"all vectors must have the same dimension, got {W.shape[1]}, {A.shape[1]}, {B.shape[1]}")
    W, A, B = _unit(W), _unit(A), _unit(B)
    return (W @ A.T).mean(axis=1) - (W @ B.T).mean(axis=1)


def _target_associations(X: Any, Y: Any, A: Any, B: Any) -> tuple[np.ndarray, int]:
    """``s`` for the rows of X then Y (``(n_x + n_y,)``) and ``n_x``; checks the four sets."""
    X, Y = _vectors("X", X), _vectors("Y", Y)
    if X.shape[1] != Y.shape[1]:
        raise ConfigError(f"X and Y must have the same dimension, got {X.shape[1]} and {Y.shape[1]}")
    return weat_association(np.vstack([X, Y]), A, B), len(X)


def weat_effect_size(X: Any, Y: Any, A: Any, B: Any, ddof: int = 1) -> float:
    """Caliskan et al.'s effect size: ``(mean_X s - mean_Y s) / std_{X u Y} s``, sample std (``ddof=1``).

    ``X``, ``Y``, ``A``, ``B``: ``(n, d)`` arrays of vectors (any lengths; they are normalised). X and Y
    may differ in size here (the p-value needs them equal). NaN when every ``s`` is the same.
    """
    s, n_x = _target_associations(X, Y, A, B)
    if len(s) - ddof <= 0:
        raise ConfigError(f"X and Y together have {len(s)} vectors: too few for a std with ddof={ddof}")
    spread = np.std(s, ddof=ddof)
    return float((s[:n_x].mean() - s[n_x:].mean()) / spread) if spread > 0 else float("nan")


def weat_partitions(n_x: int, n_y: int) -> int:
    """How many ways ``X u Y`` splits into sets of sizes ``n_x`` and ``n_y``: ``C(n_x + n_y, n_x)``."""
    return comb(n_x + n_y, n_x)


def _split_sums(s: np.ndarray, n_x: int, exact: bool, permutations: int, seed: int) -> np.ndarray:
    """``sum_Xi s`` over the splits: all of them (exact, ``(C,)``) or ``permutations`` seeded random ones."""
    if exact:
        members = np.fromiter((i for chosen in combinations(range(len(s)), n_x) for i in chosen), dtype=np.int64)
        return s[members.reshape(-1, n_x)].sum(axis=1)
    rng = np.random.default_rng(seed)
    sums = np.empty(permutations)
    chunk = max(1, 1_000_000 // len(s))
    for begin in range(0, permutations, chunk):
        rows = min(chunk, permutations - begin)
        chosen = rng.random((rows, len(s))).argsort(axis=1)[:, :n_x]
        sums[begin:begin + rows] = s[chosen].sum(axis=1)
    return sums


def weat_p_value(X: Any, Y: Any, A: Any, B: Any, *, permutations: int = 10_000, seed: int = 0,
                 exact: bool | None = None) -> float:
    """One-sided permutation p-value of WEAT's statistic ``sum_X s - sum_Y s`` (see the module docstring).

    ``exact=None`` enumerates every equal-size split when there are at most :data:`EXACT_LIMIT` of them
    and otherwise draws ``permutations`` random splits (seeded); ``True`` / ``False`` force one way.
    ``p = #{S_i >= S} / C`` when exact, ``(1 + #{S_i >= S}) / (1 + permutations)`` when sampled. Ties are
    compared with a tolerance of 1e-12 (times the scale of ``s``), so float rounding does not break them.
    """
    s, n_x = _target_associations(X, Y, A, B)
    n_y = len(s) - n_x
    if n_x != n_y:
        raise ConfigError(f"the permutation test needs X and Y of the same size, got {n_x} and {n_y}")
    if permutations < 1:
        raise ConfigError(f"permutations must be >= 1, got {permutations}")
    n_splits = weat_partitions(n_x, n_y)
    if exact is None:
        exact = n_splits <= EXACT_LIMIT
    if exact and n_splits > 10 * EXACT_LIMIT:
        raise ConfigError(f"{n_splits:,} splits are too many to enumerate; use exact=False (sampling)")
    total = s.sum()
    observed = 2 * s[:n_x].sum() - total  # sum_X s - sum_Y s
    statistics = 2 * _split_sums(s, n_x, exact, permutations, seed) - total
    at_least = int(np.sum(statistics >= observed - 1e-12 * max(1.0, np.abs(s).sum())))
    return at_least / n_splits if exact else (1 + at_least) / (1 + permutations)


def article(word: str) -> str:
    """"an" before a vowel letter, else "a" (good enough for these word lists: "an assistant", "a nurse")."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def fill_templates(words: Sequence[str], templates: Sequence[str] = SEAT_TEMPLATES) -> pd.DataFrame:
    """Every word in every template: a table with ``word``, ``template`` and ``sentence``, words outermost."""
    if not len(words) or not len(templates):
        raise ConfigError("need at least one word and one template")
    rows = [{"word": word, "template": template,
             "sentence": template.format(word=word, article=article(word))}
            for word in words for template in templates]
    return pd.DataFrame(rows)


def sentence_embeddings(tokenizer: Any, model: Any, sentences: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Sentence-transformers embeddings from a BERT encoder: ``(n_sentences, hidden)`` unit vectors.

    Mean of the last hidden states over the real tokens (``[CLS]`` and ``[SEP]`` included, padding left
    out by the attention mask), then L2 normalisation: all-MiniLM-L6-v2's ``Pooling`` and ``Normalize``
    modules.
    """
    import torch

    if not len(sentences):
        raise ConfigError("no sentences to embed")
    out = []
    for begin in range(0, len(sentences), batch_size):
        batch = tokenizer(list(sentences[begin:begin + batch_size]), padding=True, truncation=True,
                          return_tensors="pt")
        with torch.inference_mode():
            hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (b, seq, 1)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        out.append(torch.nn.functional.normalize(pooled, p=2, dim=1).double().numpy())
    return np.concatenate(out)


def stereotyped_occupations(table: pd.DataFrame, k: int = 8) -> tuple[list[str], list[str]]:
    """The ``k`` occupations with the highest and the ``k`` with the lowest ``percent_female``.

    ``table`` has columns ``occupation`` and ``percent_female`` (``labkit.data.load_winobias_occupations``).
    Ties are broken by name; a tie across the cut is refused, since the choice would be arbitrary.
    """
    if not 1 <= k <= len(table) // 2:
        raise ConfigError(f"k must be between 1 and half the {len(table)} occupations, got {k}")
    ordered = table.sort_values(["percent_female", "occupation"], ascending=[False, True])
    shares = ordered["percent_female"].to_numpy()
    if shares[k - 1] == shares[k] or shares[-k] == shares[-k - 1]:
        raise ConfigError(f"k={k} cuts through occupations with the same % female: choose another k")
    return ordered["occupation"].head(k).tolist(), ordered["occupation"].tail(k).tolist()[::-1]


def seat(tokenizer: Any, model: Any, targets: tuple[Sequence[str], Sequence[str]],
         attributes: tuple[Sequence[str], Sequence[str]] = (FEMALE_ATTRIBUTES, MALE_ATTRIBUTES), *,
         templates: Sequence[str] = SEAT_TEMPLATES, permutations: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """SEAT over all ``templates`` together and for each template alone: effect size and p-value.

    ``targets = (X words, Y words)``, ``attributes = (A words, B words)``. Every word is put in every
    template and embedded once (:func:`sentence_embeddings`). Returns one row per template and a first row
    ``"all templates"`` (each sentence a member of its set, as in May et al.), with ``effect_size``,
    ``p_value``, ``exact`` (whether the splits were enumerated) and ``n_per_set`` (sentences in X).
    """
    words = {"X": targets[0], "Y": targets[1], "A": attributes[0], "B": attributes[1]}
    filled = pd.concat([fill_templates(list(group), templates).assign(set=name) for name, group in words.items()],
                       ignore_index=True)
    vectors = sentence_embeddings(tokenizer, model, filled["sentence"].tolist())
    rows = []
    for label in ["all templates", *templates]:
        chosen = filled if label == "all templates" else filled[filled["template"] == label]
        sets = {name: vectors[chosen.index[chosen["set"] == name]] for name in words}
        n_x, n_y = len(sets["X"]), len(sets["Y"])
        rows.append({"templates": label, "effect_size": weat_effect_size(sets["X"], sets["Y"], sets["A"], sets["B"]),
                     "p_value": weat_p_value(sets["X"], sets["Y"], sets["A"], sets["B"],
                                             permutations=permutations, seed=seed),
                     "exact": weat_partitions(n_x, n_y) <= EXACT_LIMIT, "n_per_set": n_x})
    return pd.DataFrame(rows).set_index("templates")
