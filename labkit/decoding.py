"""Decoding a causal language model: nucleus (top-p) filtering, beam search and the KV cache's speed-up.

Notebook 04 writes each of these by hand first; the versions here are the same algorithms with input
checks, for reuse, and the kit's tests hold them equal to ``transformers``:

* :func:`top_p_filter` -> the logits of the nucleus (the smallest set of most probable tokens whose
  probability reaches ``top_p``), every other token at ``-inf``; equal to transformers'
  ``TopPLogitsWarper``;
* :func:`beam_search` -> the token ids ``model.generate(num_beams=..., do_sample=False, ...)`` returns,
  following transformers 5's rules for the length penalty, ``early_stopping`` and end-of-sequence tokens;
* :func:`kv_cache_speedup` -> how much faster ``generate`` is with its key/value cache than without, as a
  ratio of times measured in the same run (a measurement: nothing here asserts a time).

Shapes: ``V`` is the vocabulary size, ``T`` a sequence length.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["top_p_filter", "beam_search", "CacheSpeedup", "kv_cache_speedup"]



def _describe(value: object) -> str:
    """A short description of a wrong argument for an error message: a tensor's shape, else its type."""
    return f"shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__

def top_p_filter(logits: Tensor, top_p: float) -> Tensor:
    """Nucleus filtering: keep the smallest set of most probable tokens whose probability reaches ``top_p``.

    ``logits``: ``(..., V)`` floating point, one distribution per row (any leading shape). Returns a tensor
    of the same shape: the kept tokens keep their logits, every other token gets ``-inf``, so a softmax of
    the result is the nucleus renormalised. The most probable token is always kept; with ``top_p=1`` every
    token is. Ties between equally probable tokens at the edge of the nucleus are broken by sort order.
    """
    if not isinstance(logits, Tensor) or not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point torch.Tensor of shape (..., V), got {type(logits).__name__}"
                        + (f" of dtype {logits.dtype}" if isinstance(logits, Tensor) else ""))
    if logits.dim() == 0 or logits.shape[-1] == 0:
        raise ValueError("logits must have a vocabulary dimension (..., V) with V >= 1, "
                         f"got shape {tuple(logits.shape)}")
    if not isinstance(top_p, (int, float)) or isinstance(top_p, bool) or not 0.0 < float(top_p) <= 1.0:
        raise ValueError(f"top_p must be a probability in (0, 1], got {top_p!r}")
    if float(top_p) == 1.0:
        return logits.clone()
    sorted_logits, order = logits.sort(dim=-1, descending=True)                    # (..., V), most probable first
    sorted_probs = sorted_logits.softmax(dim=-1)
    mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs                       # probability of the tokens ahead
    keep_sorted = mass_before < float(top_p)                                       # still short of top_p: keep
    keep_sorted[..., 0] = True
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)           # back to vocabulary order
    return logits.masked_fill(~keep, float("-inf"))


def _eos_ids(model: Any, eos_token_id: int | Sequence[int] | None) -> list[int]:
    if eos_token_id is None:
        eos_token_id = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if eos_token_id is None:
        return []
    ids = [eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id)
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise TypeError(f"eos_token_id must be an int or a sequence of ints, got {eos_token_id!r}")
    return ids


@torch.no_grad()
def beam_search(model: Any, input_ids: Tensor, *, num_beams: int, max_new_tokens: int,
                length_penalty: float = 1.0, early_stopping: bool | str = False,
                eos_token_id: int | Sequence[int] | None = None) -> Tensor:
    """Beam search for one prompt, by the rules of transformers 5's ``generate(num_beams=..., do_sample=False)``.

    ``model``: a causal LM whose output has ``.logits`` ``(beams, T, V)``; ``input_ids``: ``(1, T)``.
    Returns ``(1, T + n)``: the prompt and the ``n <= max_new_tokens`` tokens of the best finished
    hypothesis (ending in an end-of-sequence token if it finished on one). ``eos_token_id`` defaults to
    ``model.generation_config.eos_token_id``. The rules:

    * every step extends each running beam by every token and keeps the ``K = max(2, 1 + #eos) * num_beams``
      best candidates by summed log-probability;
    * a candidate that ends in an end-of-sequence token, or reaches ``max_new_tokens``, is finished, but
      only if it is among the ``num_beams`` best of the ``K``; it is scored ``sum log p / n ** length_penalty``
      (``n``: its new tokens, the end token included) and the ``num_beams`` best finished hypotheses are kept;
    * the ``num_beams`` best unfinished candidates run on;
    * the search stops at ``max_new_tokens``, or once ``num_beams`` hypotheses have finished and either
      ``early_stopping is True`` or the best running beam can no longer beat the worst finished one (judged
      at its current length, or at ``max_new_tokens`` for ``early_stopping="never"`` with
      ``length_penalty > 0``).
    """
    if not isinstance(input_ids, Tensor) or input_ids.dim() != 2 or input_ids.shape[0] != 1 or input_ids.shape[1] == 0:
        raise ValueError("input_ids must be one tokenised prompt of shape (1, T) with T >= 1, got "
                         + _describe(input_ids))
    if input_ids.dtype != torch.long:
        raise TypeError(f"input_ids must hold token ids (torch.long), got {input_ids.dtype}")
    for name, value in (("num_beams", num_beams), ("max_new_tokens", max_new_tokens)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if early_stopping not in (True, False, "never"):
        raise ValueError(f"early_stopping must be True, False or 'never', got {early_stopping!r}")
    eos = _eos_ids(model, eos_token_id)
    candidates_kept = max(2, 1 + len(eos)) * num_beams

    running_ids = input_ids                                                 # (R, T + step), R running beams
    running_scores = torch.zeros(1)                                         # (R,) summed log-probabilities
    finished: list[tuple[Tensor, Tensor]] = []                              # (score, ids (T + n,)), best first
    for step in range(1, max_new_tokens + 1):
        log_probs = F.log_softmax(model(running_ids).logits[:, -1].float(), dim=-1)   # (R, V)
        vocab = log_probs.shape[-1]
        if candidates_kept > running_ids.shape[0] * vocab:
            raise ValueError(f"num_beams={num_beams} is too large for a vocabulary of {vocab} tokens")
        totals = (log_probs + running_scores.unsqueeze(1)).flatten()          # (R * V,)
        best_totals, best = totals.topk(candidates_kept)                     # (K,), best first
        beam, token = best // vocab, best % vocab
        candidate_ids = torch.cat([running_ids[beam], token.unsqueeze(1)], dim=1)   # (K, T + step)
        ends = (torch.isin(token, torch.tensor(eos, dtype=torch.long)) if eos
                else torch.zeros_like(token, dtype=torch.bool))
        if step == max_new_tokens:
            ends = torch.ones_like(ends)
        for k in range(num_beams):                                          # only the num_beams best may finish
            if ends[k]:
                finished.append((best_totals[k] / step ** length_penalty, candidate_ids[k]))
        finished = sorted(finished, key=lambda item: item[0].item(), reverse=True)[:num_beams]
        if step == max_new_tokens:
            break
        still_running = (~ends).nonzero().squeeze(1)[:num_beams]
        running_ids, running_scores = candidate_ids[still_running], best_totals[still_running]
        if len(finished) == num_beams:
            if early_stopping is True:
                break
            length = max_new_tokens if (early_stopping == "never" and length_penalty > 0) else step
            if running_scores[0] / length ** length_penalty <= finished[-1][0]:
                break
    return finished[0][1].unsqueeze(0)


@dataclass(frozen=True)
class CacheSpeedup:
    """Generating up to ``length`` tokens (prompt included) with and without the key/value cache."""

    length: int            #: total tokens in each generated sequence, prompt included
    cached_seconds: float  #: median time of ``generate(use_cache=True)``
    uncached_seconds: float  #: median time of ``generate(use_cache=False)``
    speedup: float         #: median over the paired runs of uncached time / cached time (> 1: the cache is faster)
    ratios: tuple[float, ...]  #: every paired ratio, in run order
    identical: bool        #: both ways generated exactly the same tokens in every run


def kv_cache_speedup(model: Any, input_ids: Tensor, lengths: Sequence[int] = (32, 64, 128), repeats: int = 5,
                     threads: int | None = 1) -> list[CacheSpeedup]:
    """Time greedy ``generate`` with ``use_cache=True`` and ``False``, interleaved, for each total length.

    ``input_ids``: the prompt ``(1, T)``; each length must exceed ``T``. Every run generates exactly
    ``length - T`` tokens (the end-of-sequence token is held back until then). One untimed warm-up run of
    each kind (at the shortest length) comes first; then, per length, ``repeats`` pairs, alternating which
    kind runs first, so that a change in the machine's load hits both. ``threads``: torch threads while
    timing (restored afterwards); one thread keeps a busy second core from adding noise larger than the
    effect. Shared machines give different absolute
    times from run to run: compare the ratios, never assert a time.
    """
    if not isinstance(input_ids, Tensor) or input_ids.dim() != 2 or input_ids.shape[0] != 1:
        raise ValueError("input_ids must be one tokenised prompt of shape (1, T), got "
                         + _describe(input_ids))
    prompt_length = input_ids.shape[1]
    lengths = list(lengths)
    if not lengths or any(not isinstance(n, int) or n <= prompt_length for n in lengths):
        raise ValueError(f"every length must be an int above the prompt's {prompt_length} tokens, got {lengths}")
    if not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be a positive int, got {repeats!r}")
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be a positive int or None, got {threads!r}")
    config = model.generation_config
    pad = config.pad_token_id if config.pad_token_id is not None else _first(config.eos_token_id)

    def run(new_tokens: int, use_cache: bool) -> tuple[float, Tensor]:
        start = time.perf_counter()
        out = model.generate(input_ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                             num_beams=1, use_cache=use_cache, pad_token_id=pad)
        return time.perf_counter() - start, out

    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        run(min(lengths) - prompt_length, True), run(min(lengths) - prompt_length, False)   # warm-up, untimed
        results = []
        for length in lengths:
            new_tokens = length - prompt_length
            cached, uncached, identical = [], [], True
            for repeat in range(repeats):
                order = (True, False) if repeat % 2 == 0 else (False, True)
                timed = {use_cache: run(new_tokens, use_cache) for use_cache in order}
                cached.append(timed[True][0])
                uncached.append(timed[False][0])
                identical &= torch.equal(timed[True][1], timed[False][1]) and timed[True][1].shape[1] == length
            ratios = tuple(u / c for u, c in zip(uncached, cached, strict=True))
            results.append(CacheSpeedup(length=length, cached_seconds=statistics.median(cached),
                                        uncached_seconds=statistics.median(uncached),
                                        speedup=statistics.median(ratios), ratios=ratios, identical=identical))
        return results
    finally:
        torch.set_num_threads(previous_threads)


def _first(ids: int | Sequence[int] | None) -> int | None:
    if ids is None or isinstance(ids, int):
        return ids
    return list(ids)[0]
