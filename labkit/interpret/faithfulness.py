"""Is an explanation faithful to the model? ERASER's comprehensiveness and sufficiency, by deleting tokens.

An attribution ranks a text's tokens. If the ranking is faithful, the model should *need* the top
tokens (taking them away hurts) and they should be *enough* (keeping only them preserves the
prediction). DeYoung et al. (2020, ERASER) turn this into two numbers, here computed by **deleting**
tokens: their ids are removed from the input (the text gets shorter), never replaced.

With ``p`` the model's probability of the class the attribution explains (its ``target``):

* comprehensiveness at k% = ``p(full text) - p(text without its top k% tokens)``: higher = more faithful;
* sufficiency at k% = ``p(full text) - p(only the top k% tokens, in their order)``: lower = more faithful.

Each is reported as its average over k in 1, 5, 10, 20 and 50% (:data:`FRACTIONS`), the AOPC-style
aggregate ERASER uses. k% of a text's ``n`` deletable tokens is ``ceil(k/100 * n)`` tokens, at least one
(:func:`tokens_for_fraction`). ``[CLS]``, ``[SEP]`` and ``[PAD]`` are never deleted nor counted among the
``n`` candidates. Ties between equal scores go to the earlier token.

A number alone says little: the same measures for tokens chosen *at random* (several seeded draws,
with their spread) are the floor a method must clear; :func:`faithfulness_table` reports both, with
bootstrap confidence intervals over texts, and says whether each method does better than random.
:func:`deletion_curve` shows the target probability as the top tokens are deleted one by one.

The model is seen through a *probability function* ``probabilities(sequences) -> (batch, classes)``
over lists of token ids: :func:`model_probabilities` makes one from a Hugging Face classifier (batches
of similar lengths, padded under an attention mask); tests pass hand-made ones. Every distinct input a
text needs (all methods, all random draws) is built first and scored in one call, with the inputs of
many texts together in :func:`faithfulness_per_text`. The inputs are the attribution's own
``input_ids`` (a text truncated for the attribution is measured truncated).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from labkit.interpret.agreement import SPECIAL_TOKENS, content_positions
from labkit.interpret.token_attribution import TokenAttribution

FRACTIONS: tuple[float, ...] = (0.01, 0.05, 0.10, 0.20, 0.50)
"""ERASER's bins: the share of a text's tokens deleted (comprehensiveness) or kept (sufficiency)."""

ProbabilityFunction = Callable[[Sequence[Sequence[int]]], np.ndarray]
"""``probabilities(sequences)``: token-id lists (any lengths) -> class probabilities ``(batch, classes)``."""

Explainer = Callable[[str], TokenAttribution]


def model_probabilities(model: Any, *, pad_token_id: int | None = None,
                        tokens_per_batch: int = 8192) -> ProbabilityFunction:
    """A probability function for a Hugging Face sequence classifier: softmax of its logits, batched.

    Sequences are sorted by length and cut into batches of at most ``tokens_per_batch`` tokens
    (padding included), so short and long inputs are not padded to one width; each batch is
    right-padded with ``pad_token_id`` (the model config's by default) under an attention mask, so
    padding changes nothing. The model runs in eval mode under ``torch.no_grad`` (its mode is restored).
    """
    import torch

    pad = model.config.pad_token_id if pad_token_id is None else pad_token_id
    pad = 0 if pad is None else int(pad)
    device = next(model.parameters()).device

    def probabilities(sequences: Sequence[Sequence[int]]) -> np.ndarray:
        out = np.zeros((len(sequences), model.config.num_labels))
        was_training = model.training
        model.eval()
        try:
            for chunk in _length_batches([len(sequence) for sequence in sequences], tokens_per_batch):
                width = len(sequences[chunk[-1]])
                ids = torch.full((len(chunk), width), pad, dtype=torch.long)
                mask = torch.zeros((len(chunk), width), dtype=torch.long)
                for row, i in enumerate(chunk):
                    ids[row, :len(sequences[i])] = torch.as_tensor(list(sequences[i]), dtype=torch.long)
                    mask[row, :len(sequences[i])] = 1
                with torch.no_grad():
                    logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
                out[chunk] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
        finally:
            model.train(was_training)
        return out

    return probabilities


def _length_batches(lengths: Sequence[int], tokens_per_batch: int) -> list[list[int]]:
    """Indices sorted by length, grouped so that ``batch size x longest length <= tokens_per_batch`` (>= 1 each)."""
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        if batches and (len(batches[-1]) + 1) * lengths[i] <= tokens_per_batch:
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def as_probability_function(model_or_function: Any) -> ProbabilityFunction:
    """A ``torch.nn.Module`` wrapped by :func:`model_probabilities`; a probability function as it is."""
    import torch

    if isinstance(model_or_function, torch.nn.Module):
        return model_probabilities(model_or_function)
    if not callable(model_or_function):
        raise TypeError("pass a classifier (torch.nn.Module) or a function probabilities(sequences) -> "
                        f"(batch, classes), got {type(model_or_function).__name__}")
    return model_or_function


def tokens_for_fraction(n_tokens: int, fraction: float) -> int:
    """How many of ``n_tokens`` deletable tokens make ``fraction`` of them: ``ceil(fraction * n)``, 1 to n.

    Rounding up means every bin deletes at least one token (1% of a 20-token review is one token).
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fractions must be in (0, 1], e.g. 0.2 for 20%, got {fraction}")
    if n_tokens < 1:
        raise ValueError("the text has no token that may be deleted (only special tokens)")
    return min(n_tokens, max(1, math.ceil(round(fraction * n_tokens, 9))))


def _checked(attribution: TokenAttribution, special_tokens: Sequence[str]) -> tuple[list[int], np.ndarray]:
    """``(input ids, content positions)`` of an attribution, with a clear error for what deletion cannot use."""
    if not isinstance(attribution, TokenAttribution):
        raise TypeError(f"expected a TokenAttribution, got {type(attribution).__name__}")
    ids = [int(i) for i in attribution.input_ids]
    if len(ids) != len(attribution.tokens):
        raise ValueError(f"deleting tokens needs the attribution's input_ids, one per token: got {len(ids)} ids "
                         f"for {len(attribution.tokens)} tokens")
    if np.isnan(np.asarray(attribution.scores, dtype=float)).any():
        raise ValueError(f"the {attribution.method} scores contain NaN: cannot rank the tokens")
    content = content_positions(attribution.tokens, special_tokens)
    if len(content) == 0:
        raise ValueError(f"the text {attribution.tokens} has no token that may be deleted (only special tokens)")
    return ids, content


def ranking(attribution: TokenAttribution, special_tokens: Sequence[str] = SPECIAL_TOKENS) -> np.ndarray:
    """The content positions, highest score first (ties: earlier token first): ``(n_content,)`` ints."""
    content = content_positions(attribution.tokens, special_tokens)
    scores = np.asarray(attribution.scores, dtype=float)[content]
    return content[np.argsort(-scores, kind="stable")]


@dataclass
class _Plan:
    """The inputs one text needs for some rankings: distinct id sequences and which is which.

    ``removed[r, f]`` / ``kept[r, f]``: the sequence without / with only the top tokens of ranking ``r``
    at fraction ``f``; ``full``: the whole text.
    """

    sequences: list[tuple[int, ...]]
    full: int
    removed: np.ndarray  # (rankings, fractions) ints
    kept: np.ndarray  # (rankings, fractions) ints
    target: int
    n_tokens: int  # deletable tokens


def _plan(ids: list[int], content: np.ndarray, rankings: Sequence[np.ndarray], target: int,
          fractions: Sequence[float]) -> _Plan:
    """Every distinct input comprehensiveness and sufficiency need for ``rankings`` of one text."""
    counts = [tokens_for_fraction(len(content), fraction) for fraction in fractions]
    specials = set(range(len(ids))) - set(content.tolist())
    sequences: dict[tuple[int, ...], int] = {}

    def slot(positions: Sequence[int]) -> int:
        return sequences.setdefault(tuple(ids[i] for i in sorted(positions)), len(sequences))

    full = slot(range(len(ids)))
    removed, kept = np.zeros((len(rankings), len(counts)), int), np.zeros((len(rankings), len(counts)), int)
    for r, order in enumerate(rankings):
        for f, count in enumerate(counts):
            top = set(order[:count].tolist())
            removed[r, f] = slot([i for i in range(len(ids)) if i not in top])
            kept[r, f] = slot(specials | top)
    return _Plan(list(sequences), full, removed, kept, target, len(content))


def _score(plans: Sequence[_Plan], probabilities: ProbabilityFunction) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """``[(p_full, comprehensiveness (rankings, fractions), sufficiency (rankings, fractions))]`` per plan.

    The sequences of all plans go to the probability function in **one** call (it batches them).
    """
    everything = [list(sequence) for plan in plans for sequence in plan.sequences]
    probs = np.asarray(probabilities(everything), dtype=float)
    if probs.ndim != 2 or probs.shape[0] != len(everything):
        raise ValueError(f"the probability function returned shape {probs.shape} for {len(everything)} inputs; "
                         "expected (inputs, classes)")
    results, start = [], 0
    for plan in plans:
        if not 0 <= plan.target < probs.shape[1]:
            raise ValueError(f"class {plan.target} is not among the model's {probs.shape[1]} classes")
        p = probs[start:start + len(plan.sequences), plan.target]
        start += len(plan.sequences)
        results.append((float(p[plan.full]), p[plan.full] - p[plan.removed], p[plan.full] - p[plan.kept]))
    return results


def _measures(ids: list[int], content: np.ndarray, rankings: Sequence[np.ndarray], target: int,
              probabilities: ProbabilityFunction,
              fractions: Sequence[float]) -> tuple[float, np.ndarray, np.ndarray]:
    """:func:`_plan` and :func:`_score` for one text: every distinct input scored once, in one call."""
    return _score([_plan(ids, content, rankings, target, fractions)], probabilities)[0]


@dataclass(frozen=True)
class FaithfulnessScores:
    """ERASER's two measures for one text and one attribution (averages over ``fractions``)."""

    comprehensiveness: float  #: higher = more faithful
    sufficiency: float  #: lower = more faithful
    probability: float  #: p(target) on the full text
    target: int
    n_tokens: int  #: deletable tokens (special tokens excluded)
    fractions: tuple[float, ...]
    comprehensiveness_per_fraction: np.ndarray  #: (fractions,)
    sufficiency_per_fraction: np.ndarray  #: (fractions,)


def faithfulness_scores(attribution: TokenAttribution, probabilities: Any, *,
                        fractions: Sequence[float] = FRACTIONS,
                        special_tokens: Sequence[str] = SPECIAL_TOKENS) -> FaithfulnessScores:
    """Comprehensiveness and sufficiency of one attribution, for the class it explains.

    ``probabilities``: a classifier or a probability function (see :func:`as_probability_function`).
    """
    ids, content = _checked(attribution, special_tokens)
    p_full, comp, suff = _measures(ids, content, [ranking(attribution, special_tokens)], attribution.target,
                                   as_probability_function(probabilities), fractions)
    return FaithfulnessScores(float(comp.mean()), float(suff.mean()), p_full, attribution.target, len(content),
                              tuple(fractions), comp[0], suff[0])


@dataclass(frozen=True)
class RandomFaithfulness:
    """The same measures for random token choices: one value per seeded draw, shape ``(draws,)``."""

    comprehensiveness: np.ndarray
    sufficiency: np.ndarray

    def spread(self) -> dict[str, float]:
        """Mean, standard deviation (``ddof=1``; 0 for one draw), min and max of each measure over draws."""
        out = {}
        for name, values in (("comprehensiveness", self.comprehensiveness), ("sufficiency", self.sufficiency)):
            out.update({f"{name}_mean": float(values.mean()), f"{name}_min": float(values.min()),
                        f"{name}_max": float(values.max()), f"{name}_sd": _sd(values)})
        return out


def _sd(values: np.ndarray) -> float:
    """Sample standard deviation (``ddof=1``), 0.0 for a single value."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _random_rankings(content: np.ndarray, draws: int, seed: int | Sequence[int]) -> list[np.ndarray]:
    """``draws`` random orders of the content positions, from ``numpy.random.default_rng(seed)``."""
    if draws < 1:
        raise ValueError(f"draws must be at least 1, got {draws}")
    rng = np.random.default_rng(seed)
    return [rng.permutation(content) for _ in range(draws)]


def random_faithfulness(attribution: TokenAttribution, probabilities: Any, *, draws: int = 5,
                        seed: int | Sequence[int] = 0, fractions: Sequence[float] = FRACTIONS,
                        special_tokens: Sequence[str] = SPECIAL_TOKENS) -> RandomFaithfulness:
    """Comprehensiveness and sufficiency when the ranked tokens are a random order instead of the attribution's.

    Only the attribution's tokens, ids and target are used (its scores are ignored). ``draws`` random
    orders come from ``numpy.random.default_rng(seed)``, so the same seed gives the same values.
    """
    ids, content = _checked(attribution, special_tokens)
    _, comp, suff = _measures(ids, content, _random_rankings(content, draws, seed), attribution.target,
                              as_probability_function(probabilities), fractions)
    return RandomFaithfulness(comp.mean(axis=1), suff.mean(axis=1))


def deletion_curve(attribution: TokenAttribution, probabilities: Any, *, fractions: Sequence[float] | None = None,
                   random_seed: int | None = None, special_tokens: Sequence[str] = SPECIAL_TOKENS) -> pd.DataFrame:
    """The target probability as the top-ranked tokens are deleted, one by one (or by ``fractions``).

    Returns one row per point: ``deleted`` (how many tokens are gone, from 0), ``fraction`` (of the
    deletable tokens), ``probability`` (of the attribution's target class) and ``token`` (the last token
    deleted, ``""`` at 0). With ``random_seed`` the tokens go in a random order instead (the baseline curve).
    A faithful ranking makes the curve fall early. All points are scored in one batched call.
    """
    ids, content = _checked(attribution, special_tokens)
    order = ranking(attribution, special_tokens) if random_seed is None else \
        _random_rankings(content, 1, random_seed)[0]
    n = len(content)
    counts = list(range(n + 1)) if fractions is None else \
        [0, *sorted({tokens_for_fraction(n, fraction) for fraction in fractions})]
    sequences = []
    for count in counts:
        gone = set(order[:count].tolist())
        sequences.append([ids[i] for i in range(len(ids)) if i not in gone])
    probs = np.asarray(as_probability_function(probabilities)(sequences), dtype=float)
    return pd.DataFrame({
        "deleted": counts, "fraction": [count / n for count in counts],
        "probability": probs[:, attribution.target],
        "token": [attribution.tokens[order[count - 1]] if count else "" for count in counts],
    })


def _explanations_per_text(explanations: Mapping[str, Any], texts: Sequence[str] | None) -> list[dict[str, Any]]:
    """``[{method: TokenAttribution}]``, one dict per text; callables are called on ``texts``."""
    if not explanations:
        raise ValueError("give at least one method: {name: [TokenAttribution per text] or explain(text)}")
    lengths = {name: len(value) for name, value in explanations.items() if not callable(value)}
    if any(callable(value) for value in explanations.values()) and texts is None:
        raise ValueError("some methods are functions explain(text): pass texts= too")
    n = len(texts) if texts is not None else next(iter(lengths.values()))
    if any(length != n for length in lengths.values()):
        raise ValueError(f"every method needs one attribution per text ({n} texts), got {lengths}")
    if "random" in explanations:
        raise ValueError("'random' is the name of the baseline rows: call your method something else")
    return [{name: (value(texts[i]) if callable(value) else value[i]) for name, value in explanations.items()}
            for i in range(n)]


def _text_plans(index: int, by_method: dict[str, TokenAttribution], draws: int, seed: int,
                fractions: Sequence[float], special_tokens: Sequence[str]) -> list[tuple[_Plan, list[tuple]]]:
    """One text's plans, one per target its methods explain: ``[(plan, [(method, draw) per ranking])]``."""
    ids, content = _checked(next(iter(by_method.values())), special_tokens)
    for name, attribution in by_method.items():
        if _checked(attribution, special_tokens)[0] != ids:
            raise ValueError(f"text {index}: {name} explained other input ids than the other methods")
    random_orders = _random_rankings(content, draws, [seed, index])
    plans = []
    for target in sorted({attribution.target for attribution in by_method.values()}):
        methods = [name for name, attribution in by_method.items() if attribution.target == target]
        orders = [ranking(by_method[name], special_tokens) for name in methods] + random_orders
        labels = [(name, pd.NA) for name in methods] + [("random", draw) for draw in range(draws)]
        plans.append((_plan(ids, content, orders, target, fractions), labels))
    return plans


def faithfulness_per_text(explanations: Mapping[str, Sequence[TokenAttribution] | Explainer], probabilities: Any,
                          *, texts: Sequence[str] | None = None, draws: int = 5, seed: int = 0,
                          fractions: Sequence[float] = FRACTIONS, special_tokens: Sequence[str] = SPECIAL_TOKENS,
                          texts_per_call: int = 32) -> pd.DataFrame:
    """Comprehensiveness and sufficiency of every method on every text, beside random draws (a long table).

    ``explanations`` maps a method's name to one ``TokenAttribution`` per text (same order, same input
    ids for every method) or to a function ``explain(text)`` (then pass ``texts``). Returns one row per
    text and method: ``text`` (index), ``method``, ``draw`` (``<NA>`` for a method), ``target``,
    ``n_tokens``, ``probability`` (of the target, full text), ``comprehensiveness``, ``sufficiency``; and
    ``draws`` rows per text and target with ``method == "random"``, whose orders come from
    ``numpy.random.default_rng([seed, text index])`` (reproducible, whatever other texts are given).
    Every distinct input of ``texts_per_call`` texts (all methods, all draws) goes to the model in one
    call, which batches them by length. This is the table to save.
    """
    model = as_probability_function(probabilities)
    planned = [(index, plan, labels)
               for index, by_method in enumerate(_explanations_per_text(explanations, texts))
               for plan, labels in _text_plans(index, by_method, draws, seed, fractions, special_tokens)]
    rows = []
    for start in range(0, len(planned), max(1, texts_per_call)):
        chunk = planned[start:start + max(1, texts_per_call)]
        for (index, plan, labels), (p_full, comp, suff) in zip(chunk, _score([c[1] for c in chunk], model),
                                                              strict=True):
            for (name, draw), c, s in zip(labels, comp.mean(axis=1), suff.mean(axis=1), strict=True):
                rows.append({"text": index, "method": name, "draw": draw, "target": plan.target,
                             "n_tokens": plan.n_tokens, "probability": p_full,
                             "comprehensiveness": float(c), "sufficiency": float(s)})
    frame = pd.DataFrame(rows)
    frame["draw"] = frame["draw"].astype("Int64")
    return frame


def _mean_of(_: np.ndarray, values: np.ndarray) -> float:
    """The mean of ``values`` (the form ``metric(y_true, y_pred)`` the bootstrap helper calls)."""
    return float(np.mean(values))


def _interval(values: np.ndarray, n_resamples: int, confidence: float, seed: int) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of ``values`` over texts (``labkit.evaluation.bootstrap_ci``)."""
    from labkit.evaluation.resampling import bootstrap_ci

    result = bootstrap_ci(_mean_of, values, values, n_resamples=n_resamples, confidence=confidence, seed=seed)
    return result.low, result.high


def _verdict(low: float, high: float, lower_is_better: bool) -> str:
    """``"better than random"``, ``"worse than random"`` or ``"no better than random"`` from a difference's CI."""
    if (high < 0) if lower_is_better else (low > 0):
        return "better than random"
    if (low > 0) if lower_is_better else (high < 0):
        return "worse than random"
    return "no better than random"


def summarise_faithfulness(per_text: pd.DataFrame, *, confidence: float = 0.95, n_resamples: int = 1000,
                           seed: int = 0) -> pd.DataFrame:
    """One row per method from :func:`faithfulness_per_text`'s table: the faithfulness table.

    For each measure (``comprehensiveness``, ``sufficiency``) the columns are: the mean over texts and its
    percentile-bootstrap interval over texts (``_low``, ``_high``); ``random_<measure>``, the random
    baseline on the same texts and targets (mean over draws), with ``random_<measure>_sd``, the standard
    deviation over draws of each draw's mean over texts; ``<measure>_minus_random`` (paired per text)
    with its interval; and ``<measure>_verdict``: "better than random" when that interval excludes 0 on
    the good side (comprehensiveness above random, sufficiency below), "worse than random" on the other
    side, else "no better than random".
    """
    random = per_text[per_text["method"] == "random"]
    if random.empty:
        raise ValueError("the table has no random rows: make it with faithfulness_per_text(draws >= 1)")
    baseline = random.groupby(["text", "target"])[["comprehensiveness", "sufficiency"]].mean()
    rows = []
    for method, rows_m in per_text[per_text["method"] != "random"].groupby("method", sort=False):
        keys = pd.MultiIndex.from_frame(rows_m[["text", "target"]])
        row: dict[str, Any] = {"method": method, "texts": len(rows_m)}
        for measure in ("comprehensiveness", "sufficiency"):
            values = rows_m[measure].to_numpy(float)
            versus = baseline.loc[keys, measure].to_numpy(float)
            per_draw = random.set_index(["text", "target"]).loc[keys].groupby("draw")[measure].mean()
            low, high = _interval(values, n_resamples, confidence, seed)
            d_low, d_high = _interval(values - versus, n_resamples, confidence, seed)
            row.update({measure: values.mean(), f"{measure}_low": low, f"{measure}_high": high,
                        f"random_{measure}": versus.mean(), f"random_{measure}_sd": _sd(per_draw.to_numpy(float)),
                        f"{measure}_minus_random": (values - versus).mean(),
                        f"{measure}_minus_random_low": d_low, f"{measure}_minus_random_high": d_high,
                        f"{measure}_verdict": _verdict(d_low, d_high, lower_is_better=measure == "sufficiency")})
        rows.append(row)
    return pd.DataFrame(rows)


def faithfulness_table(explanations: Mapping[str, Sequence[TokenAttribution] | Explainer], probabilities: Any,
                       *, texts: Sequence[str] | None = None, draws: int = 5, seed: int = 0,
                       confidence: float = 0.95) -> pd.DataFrame:
    """:func:`faithfulness_per_text` then :func:`summarise_faithfulness`: one row per method, beside random."""
    per_text = faithfulness_per_text(explanations, probabilities, texts=texts, draws=draws, seed=seed)
    return summarise_faithfulness(per_text, confidence=confidence, seed=seed)
