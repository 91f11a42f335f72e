"""Do two explanations of the same prediction agree? Rank correlations over the text's real tokens.

Attention is often read as an explanation. Jain & Wallace (2019) and Wiegreffe & Pinter (2019) asked
whether attention weights rank the tokens as gradient-based attributions do; the measure they used is
Kendall's tau between two score vectors over the same tokens. Two rules keep the comparison honest:

* the special tokens (``[CLS]``, ``[SEP]``, ``[PAD]``) are left out: attention piles onto them for
  reasons that have nothing to do with the words, and they would dominate any ranking;
* one text proves nothing: :func:`agreement_over_texts` returns one tau per text, so the notebook can
  show the distribution over the test set.

The score vectors are inputs here (a ``(seq,)`` row per text): the last layer's head-averaged
``[CLS]`` attention row, rollout's ``[CLS]`` row, a ``TokenAttribution``'s scores. Computing them is the
job of :mod:`labkit.interpret.attention` and :mod:`labkit.interpret.attribution`;
:func:`explanation_rows` calls those for one text when you want all three at once.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

SPECIAL_TOKENS: tuple[str, ...] = ("[CLS]", "[SEP]", "[PAD]")
"""Tokens that are never compared, ranked or deleted: they carry no word of the text (BERT's vocabulary)."""


def content_positions(tokens: Sequence[str], special_tokens: Sequence[str] = SPECIAL_TOKENS) -> np.ndarray:
    """The positions of the text's own tokens (``special_tokens`` left out), in order: ``(n_content,)`` ints."""
    special = set(special_tokens)
    return np.array([i for i, token in enumerate(tokens) if token not in special], dtype=np.int64)


def _content_pair(first: Any, second: Any, tokens: Sequence[str],
                  special_tokens: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The two score vectors restricted to the content positions; clear errors for bad input."""
    a = np.asarray(first, dtype=np.float64).reshape(-1)
    b = np.asarray(second, dtype=np.float64).reshape(-1)
    if not len(a) == len(b) == len(tokens):
        raise ValueError(f"the two score vectors and the tokens must have the same length (one score per "
                         f"token), got {len(a)}, {len(b)} and {len(tokens)} tokens")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("a score vector contains NaN: rank correlations need a number for every token")
    keep = content_positions(tokens, special_tokens)
    return a[keep], b[keep]


def _quietly(statistic: Any, a: np.ndarray, b: np.ndarray) -> float:
    """``statistic(a, b)[0]`` as a float, NaN (no warning) when fewer than 2 tokens or a constant vector."""
    if len(a) < 2 or np.all(a == a[0]) or np.all(b == b[0]):
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(statistic(a, b)[0])


def kendall_tau(first: Any, second: Any, tokens: Sequence[str],
                special_tokens: Sequence[str] = SPECIAL_TOKENS) -> float:
    """Kendall's tau-b (``scipy.stats.kendalltau``) between two score vectors ``(seq,)`` over ``tokens``.

    The positions of ``special_tokens`` are left out of both vectors first. The result is NaN when fewer
    than two tokens remain or when one vector is constant there (a ranking with no order).
    """
    from scipy.stats import kendalltau

    a, b = _content_pair(first, second, tokens, special_tokens)
    return _quietly(kendalltau, a, b)


def spearman_rho(first: Any, second: Any, tokens: Sequence[str], special_tokens: Sequence[str] = SPECIAL_TOKENS,
                 *, absolute: bool = False) -> float:
    """Spearman's rank correlation (``scipy.stats.spearmanr``) between two score vectors ``(seq,)``.

    ``special_tokens`` are left out as in :func:`kendall_tau`. With ``absolute=True`` the absolute values
    are ranked (how strongly each token matters, whatever its sign), as Adebayo et al. (2018) also report.
    """
    from scipy.stats import spearmanr

    a, b = _content_pair(first, second, tokens, special_tokens)
    if absolute:
        a, b = np.abs(a), np.abs(b)
    return _quietly(spearmanr, a, b)


def agreement_over_texts(scores: Mapping[str, Sequence[Any]], tokens: Sequence[Sequence[str]],
                         special_tokens: Sequence[str] = SPECIAL_TOKENS) -> pd.DataFrame:
    """Kendall's tau between every pair of explanations, one value per text: the distribution, not one example.

    ``scores`` maps an explanation's name (e.g. ``"last-layer attention"``, ``"rollout"``,
    ``"gradient x input"``) to one score vector ``(seq_i,)`` per text; ``tokens[i]`` are text ``i``'s
    tokens (special tokens included, left out of the comparison). Returns one row per text and pair:
    ``text`` (index), ``first``, ``second``, ``pair`` (``"first vs second"``), ``tau`` (NaN where undefined,
    see :func:`kendall_tau`).
    """
    names = list(scores)
    if len(names) < 2:
        raise ValueError(f"give at least two explanations to compare, got {names}")
    for name in names:
        if len(scores[name]) != len(tokens):
            raise ValueError(f"{name!r} has {len(scores[name])} score vectors but there are {len(tokens)} "
                             "texts: give one vector per text, in the same order")
    rows = []
    for first, second in combinations(names, 2):
        for index, text_tokens in enumerate(tokens):
            tau = kendall_tau(scores[first][index], scores[second][index], text_tokens, special_tokens)
            rows.append({"text": index, "first": first, "second": second, "pair": f"{first} vs {second}",
                         "tau": tau})
    return pd.DataFrame(rows, columns=["text", "first", "second", "pair", "tau"])


def summarise_agreement(frame: pd.DataFrame) -> pd.DataFrame:
    """Per pair: how many texts had a defined tau, its median, mean, quartiles and share of texts with tau > 0."""
    valid = frame.dropna(subset=["tau"])
    grouped = valid.groupby("pair", sort=False)["tau"]
    return pd.DataFrame({
        "texts": grouped.size(), "median": grouped.median(), "mean": grouped.mean(),
        "q25": grouped.quantile(0.25), "q75": grouped.quantile(0.75),
        "share_positive": grouped.apply(lambda tau: float((tau > 0).mean())),
    }).reset_index()


def explanation_rows(model: Any, tokenizer: Any, text: str, *, methods: Sequence[str] = ("gradient_x_input",),
                     **options: Any) -> tuple[list[str], dict[str, np.ndarray]]:
    """For one text: ``(tokens, {name: score vector (seq,)})`` for the attention rows and attribution methods.

    ``"last-layer attention"`` is the last layer's ``[CLS]`` row averaged over heads and ``"rollout"``
    rollout's ``[CLS]`` row (:func:`labkit.interpret.attention.cls_attention` and ``cls_rollout``; the
    model must be loaded with ``attn_implementation="eager"``); each name in ``methods`` adds the scores
    of :func:`labkit.interpret.attribution.attribute` (``options`` are passed to it). All of them are for
    the same tokens (checked).
    """
    from labkit.interpret.attention import attention_weights, cls_attention, cls_rollout
    from labkit.interpret.attribution import attribute

    tokens, attentions = attention_weights(model, tokenizer, text)  # (layers, heads, seq, seq)
    batch_of_one = attentions.unsqueeze(1)  # (layers, 1, heads, seq, seq)
    rows = {"last-layer attention": _numpy(cls_attention(batch_of_one)[0]),
            "rollout": _numpy(cls_rollout(batch_of_one)[0])}
    for method in methods:
        attribution = attribute(model, tokenizer, text, method, **options)
        if list(attribution.tokens) != list(tokens):
            raise ValueError(f"{method} explained other tokens than the attention rows: {attribution.tokens}")
        rows[method] = np.asarray(attribution.scores, dtype=np.float64)
    return list(tokens), rows


def _numpy(tensor: Any) -> np.ndarray:
    """A tensor (or array) as a float64 numpy array."""
    return tensor.detach().cpu().numpy().astype(np.float64) if hasattr(tensor, "detach") else np.asarray(tensor, float)
