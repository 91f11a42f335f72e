"""How an encoder's cost grows with sequence length, and when attention's n^2 takes over.

Per layer, with ``n`` tokens and hidden size ``d`` (counting multiply-adds, a 4d-wide feed-forward):

- the linear layers cost about ``12 n d^2``: query, key, value and output projections ``4 n d^2``, and the
  feed-forward block ``8 n d^2``;
- attention itself (scores ``Q K^T`` and the weighted sum ``A V``) costs about ``2 n^2 d``.

So attention's share grows with ``n`` and its cost equals the linear layers' at ``n = 6 d``
(``predicted_crossover``): about 2,300 tokens for MiniLM (``d = 384``), about 770 for tiny-bert
(``d = 128``). That is a count of arithmetic, and measured time can differ from it: attention's many small
matrix products and its softmax run further below the machine's peak than the big projections do. In the
shipped measurements (``data/results/length-scaling``, one CPU thread) tiny-bert follows the count (41% of
its time in attention at 512 tokens, against 40% predicted), but MiniLM (12 heads of only 32 dimensions)
already spends 43% of its time there at 512 tokens (18% predicted), and the fit of its two parts crosses near
640 tokens, not 2,300. Notebook 10 shows both.

``measure_length_scaling`` times a Hugging Face encoder with eager attention (the implementation that
materialises the ``n x n`` weights, so its memory shows) at several lengths, twice per length: as is,
and with the attention core replaced by "no mixing" (each token keeps its own value vector; the
projections still run), so the difference is the time spent in attention. ``fit_cost_model`` fits
``t(n) = c + a n + b n^2`` to timings (where its ``n^2`` term overtakes the ``n`` term); ``fit_split_costs``
fits the two measured parts separately and extrapolates where attention's time overtakes the rest's,
beyond the 512 positions a BERT can read. ``synthetic_encoder`` builds a small random BERT (``d = 64``) whose
crossover (about 384 tokens) is inside the lengths a CPU can time in seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from labkit.errors import ConfigError
from labkit.files import write_atomically, write_json_atomically
from labkit.reproducibility import load_average

NO_MIXING = "labkit_no_mixing"  # the name the "attention removed" variant is registered under


def attention_flops(n: int, d: int) -> float:
    """Multiply-adds of attention's two n x n products in one layer: ``2 n^2 d``."""
    _check_sizes(n, d)
    return 2.0 * n * n * d


def linear_flops(n: int, d: int) -> float:
    """Multiply-adds of one layer's linear maps (4 projections, a 4d-wide feed-forward): ``12 n d^2``."""
    _check_sizes(n, d)
    return 12.0 * n * d * d


def predicted_crossover(d: int) -> float:
    """The length at which ``2 n^2 d = 12 n d^2``: ``n = 6 d`` tokens."""
    _check_sizes(1, d)
    return 6.0 * d


def _check_sizes(n: int, d: int) -> None:
    for name, value in (("n", n), ("d", d)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ConfigError(f"{name} must be a whole number of at least 1, got {value!r}")


@dataclass(frozen=True)
class CostModelFit:
    """``t(n) = constant + linear * n + quadratic * n^2``, fitted by least squares to timings."""

    constant: float
    linear: float
    quadratic: float
    r_squared: float

    @property
    def crossover(self) -> float:
        """The length where the quadratic term equals the linear one (``linear / quadratic``); inf if none."""
        if self.quadratic <= 0 or self.linear <= 0:
            return float("inf")
        return self.linear / self.quadratic

    def predict(self, lengths: Sequence[float]) -> np.ndarray:
        """Fitted seconds at ``lengths``, ``(len(lengths),)``."""
        n = np.asarray(lengths, dtype=np.float64)
        return self.constant + self.linear * n + self.quadratic * n**2


def fit_cost_model(lengths: Sequence[float], seconds: Sequence[float]) -> CostModelFit:
    """Fit ``t(n) = c + a n + b n^2`` to measured ``seconds`` at ``lengths`` (both ``(k,)``, k >= 3).

    Least squares on *relative* errors (each residual divided by its measured time), so that the short
    lengths, whose times are small, weigh as much as the long ones; solved with ``numpy.linalg.lstsq``
    on the columns ``1, n, n^2`` (``n`` rescaled for a well-conditioned system, coefficients scaled back).
    ``r_squared`` is the ordinary coefficient of determination of the fitted times.
    """
    n = np.asarray(lengths, dtype=np.float64)
    t = np.asarray(seconds, dtype=np.float64)
    if n.ndim != 1 or n.shape != t.shape:
        raise ValueError(f"lengths and seconds must be 1-d and the same length, got {n.shape} and {t.shape}")
    if not (np.isfinite(n).all() and np.isfinite(t).all()) or (n <= 0).any() or (t <= 0).any():
        raise ValueError("lengths and seconds must be positive finite numbers")
    if len(np.unique(n)) < 3:
        raise ValueError(f"a quadratic needs timings at 3 or more different lengths, got {sorted(set(n.tolist()))}")
    scale = n.max()
    design = np.stack([np.ones_like(n), n / scale, (n / scale) ** 2], axis=1)
    coefficients, *_ = np.linalg.lstsq(design / t[:, None], np.ones_like(t), rcond=None)
    fitted = design @ coefficients
    total = ((t - t.mean()) ** 2).sum()
    r_squared = 1.0 - ((t - fitted) ** 2).sum() / total if total > 0 else 1.0
    return CostModelFit(float(coefficients[0]), float(coefficients[1] / scale), float(coefficients[2] / scale**2),
                        float(r_squared))


@dataclass(frozen=True)
class SplitCostFit:
    """Separate fits of the two parts of a forward pass, from ``measure_length_scaling``'s table.

    The rest (projections, feed-forward, embeddings, overheads): ``constant + per_token * n``; attention:
    ``per_token_squared * n^2 + attention_per_token * n`` (the ``n^2`` products and softmax, plus the
    reshapes that grow with ``n``). ``crossover`` is the length where the two fitted times are equal.
    """

    constant: float
    per_token: float
    per_token_squared: float
    attention_per_token: float

    @property
    def crossover(self) -> float:
        """The positive root of ``q n^2 + (p - a) n - c = 0``; inf if attention never catches up."""
        q, b, c = self.per_token_squared, self.attention_per_token - self.per_token, -self.constant
        if q <= 0:
            return float("inf") if b <= 0 else -c / b
        return float((-b + math.sqrt(b * b - 4 * q * c)) / (2 * q)) if b * b - 4 * q * c >= 0 else float("inf")

    def predict(self, lengths: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """Fitted seconds of (the rest, attention) at ``lengths``."""
        n = np.asarray(lengths, dtype=np.float64)
        return self.constant + self.per_token * n, self.per_token_squared * n**2 + self.attention_per_token * n


def fit_split_costs(table: pd.DataFrame) -> SplitCostFit:
    """Fit the rest of the pass (``seconds_without_attention``) as ``c + a n`` and attention
    (``attention_seconds``) as ``q n^2 + p n``, each by least squares (``numpy.linalg.lstsq``).

    Needs at least 3 lengths. The crossover of the fitted parts extrapolates beyond the lengths
    measured, which is how the crossover of a model limited to 512 positions is estimated.
    """
    for column in ("n", "seconds_without_attention", "attention_seconds"):
        if column not in table:
            raise ValueError(f"the table has no column {column!r} (use measure_length_scaling's table)")
    n = table["n"].to_numpy(dtype=np.float64)
    if len(np.unique(n)) < 3:
        raise ValueError("fitting the two parts needs timings at 3 or more different lengths")
    rest, attention = (table[column].to_numpy(dtype=np.float64)
                       for column in ("seconds_without_attention", "attention_seconds"))
    scale = n.max()
    (constant, per_token), *_ = np.linalg.lstsq(np.stack([np.ones_like(n), n / scale], axis=1), rest, rcond=None)
    (squared, linear), *_ = np.linalg.lstsq(np.stack([(n / scale) ** 2, n / scale], axis=1), attention, rcond=None)
    return SplitCostFit(float(constant), float(per_token / scale), float(squared / scale**2), float(linear / scale))


def _no_mixing_attention(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                         attention_mask: torch.Tensor | None, **kwargs: Any) -> tuple[torch.Tensor, None]:
    """Attention removed: every token keeps its own value vector, ``(batch, n, heads, head_dim)``."""
    return value.transpose(1, 2).contiguous(), None


def _register_no_mixing() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(NO_MIXING, _no_mixing_attention)


def _set_attention(model: torch.nn.Module, implementation: str) -> None:
    model.set_attn_implementation(implementation)


def synthetic_encoder(d: int = 64, *, layers: int = 2, heads: int = 2, max_positions: int = 4096,
                      seed: int = 0) -> torch.nn.Module:
    """A small random BERT encoder (``BertModel``, eager attention, feed-forward ``4 d``) for timing only."""
    from transformers import BertConfig, BertModel

    _check_sizes(1, d)
    if d % heads:
        raise ConfigError(f"d = {d} must be divisible by heads = {heads}")
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=1000, hidden_size=d, num_hidden_layers=layers, num_attention_heads=heads,
                        intermediate_size=4 * d, max_position_embeddings=max_positions)
    config._attn_implementation = "eager"
    return BertModel(config, add_pooling_layer=False).eval()


def encoder_of(model: torch.nn.Module) -> torch.nn.Module:
    """The encoder inside a classifier (``model.base_model``), or ``model`` itself."""
    return getattr(model, "base_model", model)


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def _time_pairs(encoder: torch.nn.Module, input_ids: torch.Tensor, repeats: int, min_seconds: float,
                clock: str) -> tuple[float, float]:
    """The median forward pass with eager attention and with attention removed, in seconds of ``clock``.

    The two are timed in alternating pairs (after one untimed pass of each), at least ``repeats`` pairs
    and until ``min_seconds`` of wall time have been spent, so short passes get many pairs, and a slow
    spell of a shared machine hits both alike. Returns ``(with, without)``.
    """
    timer = CLOCKS[clock]
    with_attention, without = [], []
    with torch.inference_mode():
        for implementation in ("eager", NO_MIXING):
            _set_attention(encoder, implementation)
            encoder(input_ids=input_ids)
        started = time.perf_counter()
        while len(with_attention) < repeats or time.perf_counter() - started < min_seconds:
            for implementation, times in (("eager", with_attention), (NO_MIXING, without)):
                _set_attention(encoder, implementation)
                start = timer()
                encoder(input_ids=input_ids)
                times.append(timer() - start)
    _set_attention(encoder, "eager")
    return float(np.median(with_attention)), float(np.median(without))


def _forward_peak_memory(encoder: torch.nn.Module, input_ids: torch.Tensor) -> float:
    """MB the resident memory rose by during one eager forward pass (freed memory returned to the system
    first, where the C library allows, so that the rise is not hidden by memory kept from earlier)."""
    import ctypes
    import gc

    from labkit.evaluation import peak_memory

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, Windows): measure as is
        pass
    with torch.inference_mode():
        return peak_memory(encoder, input_ids=input_ids, interval_s=0.001).increase_bytes / 1e6


def measure_length_scaling(model: torch.nn.Module, lengths: Sequence[int], *, batch_size: int = 1,
                           repeats: int = 5, min_seconds: float = 1.0, clock: str = "cpu", memory: bool = True,
                           seed: int = 0) -> pd.DataFrame:
    """Time (and measure the memory of) ``model``'s encoder at each length, with and without attention.

    ``model``: a Hugging Face BERT-style encoder or classifier (its ``base_model`` is timed), set to eager
    attention here (and left so). Inputs are random token ids ``(batch_size, n)`` without padding.
    Times are read from ``clock``: ``"cpu"`` (default), the CPU seconds this process used
    (``time.process_time``, all its threads), which other jobs on a shared machine do not stretch, or
    ``"wall"`` (``time.perf_counter``), what a user waits, which they do. Returns one row per length:
    ``n``, ``seconds`` (the median of at least ``repeats`` forward passes, and of as many as fit in
    ``min_seconds``), ``seconds_without_attention`` (timed in alternating pairs with the first),
    ``attention_seconds`` (their difference, at least 0),
    ``attention_share`` of the time, the ``predicted_attention_share`` from the FLOP counts
    (``2 n^2 d / (2 n^2 d + 12 n d^2)``), ``attention_weights_mb`` (one layer's ``batch x heads x n x n``
    float32 weights, what eager attention materialises) and, with ``memory``, ``peak_memory_mb``: the
    largest rise in the process's resident memory during a forward pass (``labkit.evaluation.peak_memory``).
    """
    if not lengths:
        raise ConfigError("give at least one length")
    encoder = encoder_of(model).eval()
    config = encoder.config
    d, heads = int(config.hidden_size), int(config.num_attention_heads)
    limit = int(getattr(config, "max_position_embeddings", 512))
    for n in lengths:
        _check_sizes(n, d)
        if n > limit:
            raise ConfigError(f"{n} tokens is more than the model's {limit} positions")
    if batch_size < 1 or repeats < 1:
        raise ConfigError(f"batch_size and repeats must be at least 1, got {batch_size} and {repeats}")
    if clock not in CLOCKS:
        raise ConfigError(f"clock must be one of {sorted(CLOCKS)}, got {clock!r}")
    _register_no_mixing()
    generator = torch.Generator().manual_seed(seed)
    vocabulary = int(config.vocab_size)
    rows = []
    for n in lengths:
        input_ids = torch.randint(100 if vocabulary > 200 else 0, vocabulary, (batch_size, n), generator=generator)
        with_attention, without = _time_pairs(encoder, input_ids, repeats, min_seconds, clock)
        peak = _forward_peak_memory(encoder, input_ids) if memory else None
        attention = max(with_attention - without, 0.0)
        predicted = attention_flops(n, d) / (attention_flops(n, d) + linear_flops(n, d))
        rows.append({"n": n, "seconds": with_attention, "seconds_without_attention": without,
                     "attention_seconds": attention, "attention_share": attention / with_attention,
                     "predicted_attention_share": predicted,
                     "attention_weights_mb": batch_size * heads * n * n * 4 / 1e6, "peak_memory_mb": peak})
    table = pd.DataFrame(rows)
    table.attrs.update({"d": d, "heads": heads, "layers": int(config.num_hidden_layers), "batch_size": batch_size,
                        "attention": "eager", "threads": torch.get_num_threads(), "clock": clock})
    return table


def measured_crossover(table: pd.DataFrame) -> float:
    """The length from which the measured attention share stays at 1/2 or more, interpolated linearly
    between the rows of ``measure_length_scaling``'s table (the last crossing from below 1/2, so that a
    noisy short length does not count); the first length if the share is never below 1/2, inf if it
    ends below."""
    shares, lengths = table["attention_share"].to_numpy(), table["n"].to_numpy(dtype=float)
    below = np.flatnonzero(shares < 0.5)
    if len(below) == 0:
        return float(lengths[0])
    i = int(below[-1])
    if i == len(shares) - 1:
        return float("inf")
    low, high = shares[i], shares[i + 1]
    return float(lengths[i] + (0.5 - low) / (high - low) * (lengths[i + 1] - lengths[i]))


def length_scaling_job(output: str | Path, encoders: dict[str, tuple[str | None, Sequence[int]]], *,
                       repeats: int = 10, min_seconds: float = 3.0,
                       log: Callable[[str], None] = print) -> dict[str, Any]:
    """Time each encoder (name -> registered model or ``None`` for ``synthetic_encoder(64)``, lengths) at batch 1;
    write ``<name>.csv`` and ``length_scaling.json`` (``labkit compress length-scaling``).

    The JSON holds, under ``encoders``, per encoder: ``d``, heads, layers, the predicted crossover
    ``6 d``, the measured one (where attention's share reaches 1/2, if it does), the fit
    ``t(n) = c + a n + b n^2`` of the whole pass and the separate fits of its two parts with their
    crossover (``fit_split_costs``); beside them, the clock and the machine's load.
    """
    from labkit import models, seed_everything

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    summary = {}
    for name, (registered, lengths) in encoders.items():
        seed_everything(0)
        if registered is None:
            model = synthetic_encoder(64, max_positions=max(lengths))
        else:
            model = models.load(registered, attn_implementation="eager").model
        table = measure_length_scaling(model, list(lengths), repeats=repeats, min_seconds=min_seconds)
        write_atomically(output / f"{name}.csv", lambda temporary, table=table: table.to_csv(temporary, index=False))
        fit = fit_cost_model(table["n"], table["seconds"])
        split = fit_split_costs(table)
        summary[name] = {**table.attrs, "model": registered or "synthetic BERT encoder (random weights)",
                         "predicted_crossover": predicted_crossover(table.attrs["d"]),
                         "measured_crossover": _finite_or_none(measured_crossover(table)),
                         "fit": {"constant": fit.constant, "linear": fit.linear, "quadratic": fit.quadratic,
                                 "r_squared": fit.r_squared, "crossover": _finite_or_none(fit.crossover)},
                         "split_fit": {**vars(split), "crossover": _finite_or_none(split.crossover)},
                         "repeats": repeats}
        log(f"{name}: attention share {table['attention_share'].iloc[0]:.2f} at {lengths[0]} tokens, "
            f"{table['attention_share'].iloc[-1]:.2f} at {lengths[-1]}; predicted crossover "
            f"{summary[name]['predicted_crossover']:.0f}, measured {summary[name]['measured_crossover']}, "
            f"extrapolated from the fitted parts {split.crossover:.0f}")
    write_json_atomically(output / "length_scaling.json", {
        "encoders": summary, "load_average": load_average(),
        "clock": "process CPU seconds (time.process_time), median over alternating pairs; batch 1, random token ids"})
    return summary


def _finite_or_none(value: float) -> float | None:
    """JSON has no infinity: a crossover that is never reached is saved as null."""
    return float(value) if np.isfinite(value) else None
