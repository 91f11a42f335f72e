"""Intrinsic bias of a masked language model: does it fill "[MASK]" with "he" or "she" after an occupation?

For a template such as "the nurse said that [MASK] would be late.", a masked LM gives a probability to
every word at the mask. The raw association ``log P(he) - log P(she)`` mixes two things: what the model
thinks of nurses, and how often it says "he" at all (in the State of the Union, "he" is about 3.7 times
as frequent as "she"). Kurita et al. (2019, "Measuring bias in contextualized word representations")
remove the second part with the pronoun's **prior**: the same sentence with the occupation itself
masked too (each of its word pieces replaced by ``[MASK]``), "the [MASK] [MASK] said that [MASK] would
be late.". For a pronoun ``t``:

    association(t) = log( p_target(t) / p_prior(t) )

where ``p_target`` is read at the pronoun's mask with the occupation present and ``p_prior`` with it
masked. The bias score of an occupation in a template is ``association(he) - association(she)``:
positive means the occupation moves the model towards "he" more than towards "she", beyond its habit.
Both probabilities are read at the same position (the pronoun's mask) of sentences of the same length.

Templates are part of the result (:data:`MLM_TEMPLATES`, seven of them: five with the pronoun after the
occupation, two with it before), so the spread across them is reported, not only the mean. The model
is called in batches: every template x occupation x {with, without the occupation} in a few forward
passes. The pronouns must each be one token of the model's vocabulary (:func:`pronoun_token_ids`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from labkit.errors import ConfigError

PRONOUN_PAIR: tuple[str, str] = ("he", "she")

MLM_TEMPLATES: tuple[str, ...] = (
    "the {occupation} said that {pronoun} would be late.",
    "the {occupation} told us that {pronoun} was busy.",
    "the {occupation} went home because {pronoun} was ill.",
    "the {occupation} asked whether {pronoun} could help.",
    "our {occupation} said that {pronoun} had finished the work.",
    "{pronoun} worked as the {occupation} for many years.",
    "{pronoun} is the {occupation}.",
)
"""Each holds ``{occupation}`` and ``{pronoun}`` once; "the" before every occupation, so no "a" / "an"
gives the occupation away when it is masked."""

_SLOT = re.compile(r"(\{occupation\}|\{pronoun\})")


def pronoun_token_ids(tokenizer: Any, pronouns: Sequence[str] = PRONOUN_PAIR) -> list[int]:
    """The vocabulary id of each pronoun; a ``ConfigError`` if one is not a single token.

    The association reads one probability at one masked position, so a pronoun the tokenizer splits
    into pieces (or maps to ``[UNK]``) cannot be scored this way.
    """
    ids = []
    for pronoun in pronouns:
        pieces = tokenizer.tokenize(pronoun)
        if len(pieces) != 1 or pieces[0] == tokenizer.unk_token:
            raise ConfigError(f"{pronoun!r} is not one token of this tokenizer's vocabulary (it becomes "
                              f"{pieces}): the association reads one probability at one [MASK], so each "
                              "pronoun must be a single token")
        ids.append(tokenizer.convert_tokens_to_ids(pieces[0]))
    return ids


def encode_template(tokenizer: Any, template: str, occupation: str, mask_occupation: bool = False
                    ) -> tuple[list[int], int]:
    """``(input_ids, pronoun_position)`` for one filled template, with ``[CLS]`` ... ``[SEP]`` around it.

    The pronoun slot becomes one ``[MASK]``; the occupation becomes its word pieces, or, with
    ``mask_occupation``, one ``[MASK]`` per word piece (Kurita et al.'s prior sentence). The text between
    the slots is tokenised piece by piece, which for a BERT tokenizer gives the same ids as tokenising the
    whole sentence (the slots sit between spaces).
    """
    parts = _SLOT.split(template)
    if parts.count("{pronoun}") != 1 or parts.count("{occupation}") != 1:
        raise ConfigError(f"a template needs exactly one {{occupation}} and one {{pronoun}}, got {template!r}")
    if tokenizer.cls_token_id is None or tokenizer.sep_token_id is None or tokenizer.mask_token_id is None:
        raise ConfigError("encode_template needs a BERT-style tokenizer with [CLS], [SEP] and [MASK] tokens")
    occupation_ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(occupation))
    if not occupation_ids:
        raise ConfigError(f"occupation {occupation!r} gives no tokens")
    body: list[int] = []
    position = -1
    for part in parts:
        if part == "{pronoun}":
            position = len(body) + 1  # + 1 for [CLS]
            body.append(tokenizer.mask_token_id)
        elif part == "{occupation}":
            body += [tokenizer.mask_token_id] * len(occupation_ids) if mask_occupation else occupation_ids
        elif part.strip():
            body += tokenizer.convert_tokens_to_ids(tokenizer.tokenize(part))
    return [tokenizer.cls_token_id, *body, tokenizer.sep_token_id], position


def masked_log_probs(model: Any, sequences: Sequence[Sequence[int]], positions: Sequence[int],
                     token_ids: Sequence[int], pad_id: int = 0, batch_size: int = 64) -> np.ndarray:
    """``log P(token | sequence)`` at one position of each sequence: ``(n_sequences, n_tokens)`` floats.

    ``model`` is a masked LM called as ``model(input_ids=(b, seq), attention_mask=(b, seq))`` returning
    ``.logits`` ``(b, seq, vocab)``; sequences are right-padded with ``pad_id`` to the longest in the batch.
    Log-softmax over the whole vocabulary, in float64 for the subtraction that follows. ``batch_size`` bounds
    memory: the logits of a batch are ``(b, seq, vocab)`` floats, 25 MB for 64 sentences of 12 tokens over
    tiny-bert's 8,192 pieces (256 at once took about 300 MB more at the peak, too much beside another kernel on
    Binder).
    """
    import torch

    if len(sequences) != len(positions):
        raise ConfigError(f"one position per sequence: got {len(sequences)} sequences, {len(positions)} positions")
    out = np.empty((len(sequences), len(token_ids)))
    columns = torch.tensor(list(token_ids))
    for begin in range(0, len(sequences), batch_size):
        batch = sequences[begin:begin + batch_size]
        width = max(len(ids) for ids in batch)
        input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, ids in enumerate(batch):
            input_ids[row, :len(ids)] = torch.tensor(ids)
            mask[row, :len(ids)] = 1
        with torch.inference_mode():
            logits = model(input_ids=input_ids, attention_mask=mask).logits
        at = torch.tensor(positions[begin:begin + batch_size])
        chosen = logits[torch.arange(len(batch)), at].double().log_softmax(dim=-1)  # (b, vocab)
        out[begin:begin + len(batch)] = chosen[:, columns].numpy()
    return out


def kurita_association(log_p_target: Any, log_p_prior: Any) -> np.ndarray:
    """``log(p_target / p_prior)`` from log-probabilities (any matching shapes), Kurita et al.'s association."""
    target, prior = np.asarray(log_p_target, dtype=float), np.asarray(log_p_prior, dtype=float)
    if target.shape != prior.shape:
        raise ConfigError(f"target and prior log-probabilities must have the same shape, got {target.shape} "
                          f"and {prior.shape}")
    return target - prior


def pronoun_associations(tokenizer: Any, model: Any, occupations: Sequence[str],
                         templates: Sequence[str] = MLM_TEMPLATES, pronouns: Sequence[str] = PRONOUN_PAIR,
                         batch_size: int = 64) -> pd.DataFrame:
    """Every occupation in every template: the pronoun log-probabilities, raw and prior-corrected.

    One row per (template, occupation), templates outermost, with ``log_p_he``, ``log_p_she`` (occupation
    present), ``prior_log_p_he``, ``prior_log_p_she`` (occupation masked), ``raw`` = log P(he) - log
    P(she) and ``association`` = :func:`kurita_association` of he minus that of she. ``pronouns`` is the
    pair (first, second); the column names use them. All 2 x templates x occupations sentences go through
    :func:`masked_log_probs` together.
    """
    if len(pronouns) != 2:
        raise ConfigError(f"give two pronouns (first, second), got {list(pronouns)}")
    if not len(occupations) or not len(templates):
        raise ConfigError("need at least one occupation and one template")
    ids = pronoun_token_ids(tokenizer, pronouns)
    pairs = [(template, occupation) for template in templates for occupation in occupations]
    encoded = [encode_template(tokenizer, template, occupation, mask_occupation=masked)
               for masked in (False, True) for template, occupation in pairs]
    log_p = masked_log_probs(model, [seq for seq, _ in encoded], [pos for _, pos in encoded], ids,
                             pad_id=tokenizer.pad_token_id or 0, batch_size=batch_size)
    target, prior = log_p[:len(pairs)], log_p[len(pairs):]
    first, second = pronouns
    association = kurita_association(target, prior)
    return pd.DataFrame({
        "template": [template for template, _ in pairs], "occupation": [occupation for _, occupation in pairs],
        f"log_p_{first}": target[:, 0], f"log_p_{second}": target[:, 1],
        f"prior_log_p_{first}": prior[:, 0], f"prior_log_p_{second}": prior[:, 1],
        "raw": target[:, 0] - target[:, 1], "association": association[:, 0] - association[:, 1]})


def mean_association(frame: pd.DataFrame, column: str = "association") -> pd.DataFrame:
    """Per occupation (in first-seen order): the mean of ``column`` over templates, its std (ddof=1), min, max."""
    grouped = frame.groupby("occupation", sort=False)[column]
    return pd.DataFrame({"mean": grouped.mean(), "std": grouped.std(ddof=1), "min": grouped.min(),
                         "max": grouped.max()})


def _pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson's r of each row of ``x`` with the same row of ``y`` (``(r, n)`` -> ``(r,)``); NaN for a constant row."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    y = np.atleast_2d(np.asarray(y, dtype=float))
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    scale = np.sqrt((x * x).sum(axis=1) * (y * y).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scale > 1e-12, (x * y).sum(axis=1) / np.where(scale > 1e-12, scale, 1.0), np.nan)


def _spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho row by row: Pearson's r of the ranks (ties get their mean rank)."""
    from scipy.stats import rankdata

    return _pearson_rows(rankdata(np.atleast_2d(x), axis=1), rankdata(np.atleast_2d(y), axis=1))


CORRELATIONS = {"pearson": _pearson_rows, "spearman": _spearman_rows}


def correlation_with_share(scores: Any, percent_female: Any, n_resamples: int = 2000, seed: int = 0,
                           confidence: float = 0.95) -> pd.DataFrame:
    """Pearson's and Spearman's correlation of a score with the share of women, with bootstrap intervals.

    ``scores`` and ``percent_female``: ``(n_occupations,)``, in the same order. The interval is a
    percentile bootstrap over occupations: ``n_resamples`` sets of occupations drawn with replacement by
    ``numpy.random.default_rng(seed)`` (the same draws :func:`labkit.evaluation.bootstrap_ci` makes,
    vectorised here: a thousand times faster than calling a Python function per resample); resamples on
    which a correlation is undefined (a constant column) are left out. One row per correlation:
    ``estimate``, ``low``, ``high``. A negative correlation is the stereotype: the more women in an
    occupation, the less the model prefers "he" after it.
    """
    share, score = np.asarray(percent_female, dtype=float), np.asarray(scores, dtype=float)
    if share.shape != score.shape or share.ndim != 1 or len(share) < 3:
        raise ConfigError(f"need two 1-D arrays of the same length (at least 3 occupations), got shapes "
                          f"{score.shape} and {share.shape}")
    if not 0 < confidence < 1 or n_resamples < 1:
        raise ConfigError(f"need 0 < confidence < 1 and n_resamples >= 1, got {confidence} and {n_resamples}")
    draws = np.random.default_rng(seed).integers(0, len(share), size=(n_resamples, len(share)))
    alpha = 1 - confidence
    rows = []
    for name, function in CORRELATIONS.items():
        samples = function(share[draws], score[draws])
        low, high = np.nanquantile(samples, [alpha / 2, 1 - alpha / 2])
        rows.append({"correlation": name, "estimate": float(function(share, score)[0]), "low": float(low),
                     "high": float(high)})
    return pd.DataFrame(rows).set_index("correlation")


def correlation_by_template(frame: pd.DataFrame, percent_female: pd.Series | dict,
                            column: str = "association") -> pd.DataFrame:
    """Per template: Pearson's and Spearman's correlation of ``column`` with the share of women.

    ``percent_female`` maps occupation -> % female (a Series indexed by occupation, or a dict). The rows'
    min and max are the spread across templates, part of the result.
    """
    share = pd.Series(percent_female, dtype=float)
    rows = []
    for template, part in frame.groupby("template", sort=False):
        missing = set(part["occupation"]) - set(share.index)
        if missing:
            raise ConfigError(f"no % female for {sorted(missing)}")
        women = share.loc[part["occupation"]].to_numpy()
        values = part[column].to_numpy()
        rows.append({"template": template, "pearson": float(_pearson_rows(values, women)[0]),
                     "spearman": float(_spearman_rows(values, women)[0])})
    return pd.DataFrame(rows).set_index("template")
