"""What a model costs: learned parameters, bytes on disk, inference latency, peak memory, CPU time.

:func:`count_parameters`, :func:`size_on_disk`, :func:`measure_latency` / :func:`latency_table` (p50/p95
per example, batch 1 and batched, throughput), :func:`peak_memory` and :func:`cpu_timer` (fine-tuning
CPU time). These *measure*; nothing here asserts a time. Latency follows the kit's one device policy
(:mod:`labkit.devices`): a torch model is timed where it lives, its tensor batches are put there in one
place, and every result names the device that measured it.

Light on purpose: NumPy only at import (no scikit-learn, no torch), so ``labkit.finetune`` and
``labkit.pretraining`` can count parameters without loading the metrics.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from labkit.errors import ConfigError, MissingFileError

if TYPE_CHECKING:
    import torch

__all__ = [
    "ParameterCount", "count_parameters", "size_on_disk", "format_bytes", "LatencyResult", "measure_latency",
    "latency_table", "throughput", "MemoryResult", "peak_memory", "CPUTiming", "cpu_timer",
]


@dataclass(frozen=True)
class ParameterCount:
    """Numbers of learned parameters."""

    total: int
    trainable: int

    @property
    def frozen(self) -> int:
        return self.total - self.trainable

    def __str__(self) -> str:
        return f"{self.total:,} parameters ({self.trainable:,} trainable)"


def count_parameters(model: Any) -> ParameterCount:
    """Count a model's parameters.

    * a torch ``nn.Module`` (or anything with ``.parameters()`` yielding tensors): the sum of
      ``numel()``; trainable = those with ``requires_grad``. Shared (tied) tensors count once.
    * a fitted scikit-learn estimator or ``Pipeline``: every fitted floating-point array attribute
      (names ending in ``_``, e.g. ``coef_``, ``intercept_``, ``idf_``) of each step; all trainable.
      A vocabulary (a dict) is not counted.
    """
    if hasattr(model, "parameters") and callable(model.parameters):
        seen: set[int] = set()
        total = trainable = 0
        for parameter in model.parameters():
            key = id(parameter)
            if key in seen:
                continue
            seen.add(key)
            count = int(parameter.numel())
            total += count
            if getattr(parameter, "requires_grad", False):
                trainable += count
        return ParameterCount(total, trainable)
    steps = [step for _, step in model.steps] if hasattr(model, "steps") else [model]
    if not any(hasattr(step, "get_params") for step in steps):
        raise TypeError(f"count_parameters takes a torch module or a scikit-learn estimator, got "
                        f"{type(model).__name__}")
    total = 0
    for step in steps:
        if step is None or isinstance(step, str):  # None / "passthrough"
            continue
        for attribute in dir(step):  # dir(), not vars(): some fitted arrays are properties (idf_)
            if not attribute.endswith("_") or attribute.startswith("_"):
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    value = getattr(step, attribute)
                except Exception:  # an unfitted or deprecated attribute
                    continue
            if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
                total += value.size
            elif hasattr(value, "nnz") and np.issubdtype(value.dtype, np.floating):  # sparse coef_
                total += int(np.prod(value.shape))
    return ParameterCount(total, total)


def size_on_disk(path: str | Path) -> int:
    """Bytes a saved model takes: a file's size, or the sum over all files under a folder.

    Symbolic links are not followed (a linked file counts as the link itself).
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"no file or folder at {path}")
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            total += os.lstat(os.path.join(root, name)).st_size
    return total


def format_bytes(n_bytes: float) -> str:
    """``1536 -> '1.5 KiB'``."""
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover


@dataclass(frozen=True)
class LatencyResult:
    """Inference latency of one batch size, from ``time.perf_counter`` around each call."""

    batch_size: int
    n_batches: int  #: timed calls (after warmup)
    n_examples: int  #: examples in the timed calls
    warmup: int  #: untimed calls made first
    per_example_ms_p50: float  #: median over calls of (call time / examples in the call)
    per_example_ms_p95: float
    per_example_ms_mean: float
    per_batch_ms_p50: float
    per_batch_ms_p95: float
    examples_per_second: float  #: n_examples / total timed seconds
    total_seconds: float
    device: str  #: what measured the times, from ``labkit.devices.describe_device``: "cpu (2 threads)"

    def as_dict(self) -> dict[str, float | int | str]:
        return dict(vars(self))


def _slice(inputs: Any, start: int, stop: int) -> Any:
    """``inputs[start:stop]`` (by position, also for pandas objects)."""
    if hasattr(inputs, "iloc"):
        return inputs.iloc[start:stop]
    return inputs[start:stop]


def _measurement_device(predict: Callable[[Any], Any], inputs: Any,
                        device: torch.device | str | None) -> torch.device:
    """Where ``predict`` runs, so its tensor batches go there and the result can say so.

    ``device`` if given; else the device of the torch model ``predict`` is, whose method it is
    (``model.forward``) or that it is a ``functools.partial`` of (``partial(finetune.predict_proba, model,
    tokenizer)``); the CPU for a scikit-learn estimator's method (``pipeline.predict``); else the device
    of tensor ``inputs``; else the kit's :func:`~labkit.devices.default_device`, where the kit's own
    predictors put their models. A closure hides its model: pass ``device=`` for one.
    """
    import torch

    from labkit.devices import default_device, model_device

    if device is not None:
        return torch.device(device)
    owner = getattr(predict, "__self__", None)
    bound = (*predict.args, *predict.keywords.values()) if isinstance(predict, functools.partial) else ()
    for candidate in (predict, owner, *bound):
        if isinstance(candidate, torch.nn.Module):
            return model_device(candidate)
    if hasattr(owner, "get_params"):  # scikit-learn runs on the CPU
        return torch.device("cpu")
    if isinstance(inputs, torch.Tensor):
        return inputs.device
    return default_device()


def _batch_on(batch: Any, device: torch.device) -> Any:
    """``batch`` with its tensors on ``device``: a tensor, or a mapping of them; anything else unchanged."""
    import torch

    from labkit.devices import move_to_device

    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return move_to_device(batch, device)
    return batch


def _synchronize(device: torch.device) -> None:
    """Wait for the device to finish queued work, so a timer around a call sees all of it (GPUs run
    asynchronously; on the CPU this does nothing)."""
    import torch

    if device.type == "cuda":  # pragma: no cover - no GPU in CI
        torch.cuda.synchronize(device)
    elif device.type == "mps":  # pragma: no cover
        torch.mps.synchronize()


def _time_calls(predict: Callable[[Any], Any], batches: list[Any], warmup: int, repeats: int,
                device: torch.device) -> np.ndarray:
    """Seconds of each timed ``predict(batch)`` call, ``(repeats * len(batches),)``, after ``warmup``
    untimed calls; all under ``torch.inference_mode()``."""
    import torch

    times: list[float] = []
    with torch.inference_mode():
        for i in range(warmup):
            predict(batches[i % len(batches)])
        _synchronize(device)
        for _ in range(repeats):
            for batch in batches:
                begin = time.perf_counter()
                predict(batch)
                _synchronize(device)
                times.append(time.perf_counter() - begin)
    return np.array(times)


def measure_latency(predict: Callable[[Any], Any], inputs: Any, batch_size: int = 1, warmup: int = 3,
                    max_batches: int | None = None, repeats: int = 1,
                    device: torch.device | str | None = None) -> LatencyResult:
    """Time ``predict(batch)`` over consecutive batches of ``inputs``.

    ``predict``: any callable taking a batch (a slice of ``inputs``): a torch model wrapped with its
    tokenizer, ``pipeline.predict``, ...; its return value is ignored. ``inputs``: a sliceable sequence
    with ``len`` (list of texts, array, tensor, pandas object), ``(n_examples, ...)``. The first
    ``warmup`` batches are run untimed (caches, lazy initialisation, allocator); then up to
    ``max_batches`` batches (all by default) are timed one call each, ``repeats`` times over. Calls run
    under ``torch.inference_mode()``.

    ``device``: where ``predict`` runs; by default the device of a torch model passed as ``predict``,
    else the kit's default device (see :func:`_measurement_device`). Tensor batches are moved there
    before timing (the copy is not timed), GPU work is waited for inside each timed call, and the
    result's ``device`` says what measured it. Results depend on the machine and its load: compare
    models measured in the same process, never assert a time.
    """
    if not callable(predict):
        raise TypeError("predict must be a callable taking a batch of inputs")
    n = len(inputs)
    if n == 0:
        raise ValueError("inputs is empty: need at least one example to time")
    if batch_size < 1 or warmup < 0 or repeats < 1:
        raise ConfigError(f"need batch_size >= 1, warmup >= 0 and repeats >= 1, got {batch_size}, {warmup}, "
                          f"{repeats}")
    starts = list(range(0, n, batch_size))
    if max_batches is not None:
        if max_batches < 1:
            raise ConfigError(f"max_batches must be >= 1, got {max_batches}")
        starts = starts[:max_batches]
    run_on = _measurement_device(predict, inputs, device)
    batches = [_batch_on(_slice(inputs, start, min(start + batch_size, n)), run_on) for start in starts]
    sizes = np.array([min(start + batch_size, n) - start for start in starts], dtype=np.float64)
    seconds = _time_calls(predict, batches, warmup, repeats, run_on)
    return _latency_result(seconds, np.tile(sizes, repeats), batch_size, warmup, run_on)


def _latency_result(seconds: np.ndarray, sizes: np.ndarray, batch_size: int, warmup: int,
                    device: torch.device) -> LatencyResult:
    """The summary of timed calls: ``seconds`` and ``sizes`` (examples per call) are ``(n_calls,)``."""
    from labkit.devices import describe_device

    per_example_ms = seconds / sizes * 1000.0
    total = float(seconds.sum())
    return LatencyResult(
        batch_size=batch_size, n_batches=len(seconds), n_examples=int(sizes.sum()), warmup=warmup,
        per_example_ms_p50=float(np.percentile(per_example_ms, 50)),
        per_example_ms_p95=float(np.percentile(per_example_ms, 95)),
        per_example_ms_mean=float(per_example_ms.mean()),
        per_batch_ms_p50=float(np.percentile(seconds * 1000.0, 50)),
        per_batch_ms_p95=float(np.percentile(seconds * 1000.0, 95)),
        examples_per_second=float(sizes.sum() / total) if total > 0 else float("inf"),
        total_seconds=total, device=describe_device(device))


def latency_table(predict: Callable[[Any], Any], inputs: Any, batch_sizes: Sequence[int] = (1, 32),
                  warmup: int = 3, max_batches: int | None = None, repeats: int = 1,
                  device: torch.device | str | None = None) -> Any:
    """:func:`measure_latency` for each batch size, as a ``pandas.DataFrame`` with one row per size
    (the last column, ``device``, says what measured it)."""
    import pandas as pd

    rows = [measure_latency(predict, inputs, batch_size=size, warmup=warmup, max_batches=max_batches,
                            repeats=repeats, device=device).as_dict() for size in batch_sizes]
    return pd.DataFrame(rows)


def throughput(predict: Callable[[Any], Any], inputs: Any, batch_size: int = 32, warmup: int = 1,
               max_batches: int | None = None, device: torch.device | str | None = None) -> float:
    """Examples per second when ``predict`` runs over ``inputs`` in batches of ``batch_size``."""
    return measure_latency(predict, inputs, batch_size=batch_size, warmup=warmup, max_batches=max_batches,
                           device=device).examples_per_second


@dataclass(frozen=True)
class MemoryResult:
    """Peak memory while a callable ran."""

    method: str  #: "rss" or "tracemalloc"
    baseline_bytes: int  #: before the call (RSS, or traced Python memory)
    peak_bytes: int  #: the highest value seen during the call
    n_samples: int  #: RSS readings taken (rss method); 0 for tracemalloc
    result: Any = field(repr=False, default=None)  #: what the callable returned

    @property
    def increase_bytes(self) -> int:
        """Peak minus baseline: what the call added at its highest point."""
        return max(0, self.peak_bytes - self.baseline_bytes)

    def __str__(self) -> str:
        return (f"peak {format_bytes(self.peak_bytes)} ({self.method}), "
                f"+{format_bytes(self.increase_bytes)} over the baseline")


def peak_memory(function: Callable[..., Any], *args: Any, method: Literal["rss", "tracemalloc"] = "rss",
                interval_s: float = 0.002, **kwargs: Any) -> MemoryResult:
    """Run ``function(*args, **kwargs)`` and report the peak memory it reached.

    * ``method="rss"`` (default): a background thread reads the process's resident set size with
      ``psutil`` every ``interval_s`` seconds. Sees everything (torch tensors, NumPy, C libraries) but:
      it is the **whole process** (other threads count too); a spike shorter than the interval can be
      missed; memory freed earlier but kept by the allocator is already in the baseline, so the increase
      can under-state what the call needs in a fresh process.
    * ``method="tracemalloc"``: Python's allocation tracer; exact for memory allocated through Python's
      allocators (Python objects, NumPy arrays) but **blind to torch tensors** and other C/C++
      allocations, and it slows the call down. The peak is reset at the start.

    Both see this machine's main memory only: a model on a GPU (see :mod:`labkit.devices`) keeps its
    weights and activations in the GPU's own memory, which neither method sees.

    Returns a :class:`MemoryResult` (the callable's return value is in ``.result``).
    """
    if not callable(function):
        raise TypeError("peak_memory needs a callable")
    if method == "tracemalloc":
        started_here = not tracemalloc.is_tracing()
        if started_here:
            tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            baseline, _ = tracemalloc.get_traced_memory()
            result = function(*args, **kwargs)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            if started_here:
                tracemalloc.stop()
        return MemoryResult("tracemalloc", int(baseline), int(peak), 0, result)
    if method != "rss":
        raise ConfigError(f"method must be 'rss' or 'tracemalloc', got {method!r}")
    import psutil

    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = [baseline]
    readings = [1]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            rss = process.memory_info().rss
            readings[0] += 1
            if rss > peak[0]:
                peak[0] = rss
            stop.wait(interval_s)

    thread = threading.Thread(target=sample, name="labkit-peak-memory", daemon=True)
    thread.start()
    try:
        result = function(*args, **kwargs)
    finally:
        stop.set()
        thread.join()
    final = process.memory_info().rss
    return MemoryResult("rss", int(baseline), int(max(peak[0], final)), readings[0] + 1, result)


@dataclass
class CPUTiming:
    """Filled in when a :func:`cpu_timer` block ends."""

    cpu_seconds: float = math.nan  #: process CPU time (all threads of this process, user + system)
    wall_seconds: float = math.nan

    @property
    def cores_used(self) -> float:
        """Average number of cores busy: CPU time / wall time."""
        return self.cpu_seconds / self.wall_seconds if self.wall_seconds > 0 else math.nan

    def __str__(self) -> str:
        return (f"{self.cpu_seconds:.3g} s CPU in {self.wall_seconds:.3g} s wall "
                f"({self.cores_used:.2g} cores on average)")


@contextlib.contextmanager
def cpu_timer() -> Iterator[CPUTiming]:
    """Time a block (e.g. fine-tuning) in CPU seconds and wall seconds::

        with cpu_timer() as timing:
            trainer.train()
        print(timing.cpu_seconds)

    CPU time is ``time.process_time()``: every thread of this process, user plus system, so with 2
    threads busy it runs about twice as fast as the wall clock; child processes (e.g. DataLoader workers)
    are **not** included.
    """
    timing = CPUTiming()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        yield timing
    finally:
        timing.cpu_seconds = time.process_time() - cpu0
        timing.wall_seconds = time.perf_counter() - wall0
