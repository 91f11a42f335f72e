"""Post-training dynamic int8 quantisation of a model's Linear layers, on the CPU, and what it changes.

*Dynamic* quantisation stores each ``nn.Linear`` weight as 8-bit integers with one scale per output
channel (row of the weight matrix); at inference the activations are quantised on the fly, batch by
batch, the matrix product runs in int8 (the fbgemm kernels on x86), and the result is turned back into
float. No calibration data and no retraining are needed. Embeddings and LayerNorms stay in float32, so
the model shrinks by less than 4x: the saving is 3/4 of the bytes of the Linear layers only
(``linear_share``).

Which API. ``torch.ao.quantization.quantize_dynamic`` still runs in torch 2.13 but warns that it is
deprecated in favour of torchao (``torchao.quantization.quantize_`` with
``Int8DynamicActivationInt8WeightConfig``). The kit uses ``quantize_dynamic``. Measured once on this
machine class while it was shared with other jobs (2 CPU cores, torch 2.13.0+cpu, torchao 0.18.0, the
MiniLM sentiment classifier, a batch of 32 snippets at 64 tokens, 1 thread): ``quantize_dynamic`` ran
in 0.69x the float model's time, torchao's int8 dynamic configuration in about 19x (its int8 matrix
products are only fast once compiled with ``torch.compile``, which a learner's laptop cannot count on);
torchao's wheel also prints errors while loading its CUDA extensions on a CPU-only torch, and would be
one more pinned dependency. Both saved the same size. Weights get one scale per output channel
(``per_channel_dynamic_qconfig``) rather than one per matrix: on 300 validation snippets the int8
MiniLM then agreed with the float model on 97.7% of the predictions instead of 95.0% (mean absolute
logit change 0.12 instead of 0.22), at the same size and speed. (That choice was made on validation; the
shipped job measures the cost on the test set, in ``compress-sentiment/quantisation.json``: 96.9% of the
first 256 test predictions unchanged, and test accuracy 0.877 -> 0.862, a real loss.) ``quantize_dynamic``'s deprecation
warnings are silenced here, in one place (``quiet_quantisation_warnings``), so that no learner sees
them; every other warning still shows.

Size on disk is defined as the bytes of ``torch.save(model.state_dict(), file)``: for the int8 model
that is how its packed weights are saved (and loaded back with ``load_quantised``); the float model
is measured the same way, so the two numbers compare like with like.
"""

from __future__ import annotations

import contextlib
import copy
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from labkit.errors import ConfigError

QUANTISATION_API = ("torch.ao.quantization.quantize_dynamic (nn.Linear only: qint8 weights with per-channel scales, "
                    "activations quantised per batch)")

# The messages torch 2.13 prints for the eager quantisation API (matched at their start, as a regular
# expression): its deprecation in favour of torchao, that of quantized tensor dtypes, and that of the
# storage class ``torch.load`` rebuilds packed int8 weights with.
_EXPECTED_WARNINGS = (
    (DeprecationWarning, r"torch\.ao\.quantization is deprecated"),
    (UserWarning, r"torch\.quantize_per_tensor, torch\.quantize_per_channel and other quantized tensor"),
    (UserWarning, r"TypedStorage is deprecated"),
)


@contextlib.contextmanager
def quiet_quantisation_warnings() -> Iterator[None]:
    """Hide the deprecation notices of ``torch.ao.quantization`` (known, explained above); nothing else."""
    with warnings.catch_warnings():
        for category, message in _EXPECTED_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield


def _check_float_model(model: Any) -> None:
    if not isinstance(model, torch.nn.Module):
        raise ConfigError(f"quantise_dynamic needs a torch model (nn.Module), got {type(model).__name__}")
    if not any(isinstance(module, torch.nn.Linear) for module in model.modules()):
        raise ConfigError(f"{type(model).__name__} has no nn.Linear layer: dynamic quantisation would change nothing")
    if any(parameter.device.type != "cpu" for parameter in model.parameters()):
        raise ConfigError("dynamic int8 quantisation runs on the CPU: move the model there first (model.cpu())")


def quantise_dynamic(model: torch.nn.Module) -> torch.nn.Module:
    """An int8 copy of ``model`` (on the CPU) whose ``nn.Linear`` layers are dynamically quantised.

    ``model`` itself is left unchanged (float32). The copy is in eval mode, for inference only.
    """
    _check_float_model(model)
    float_copy = copy.deepcopy(model).eval()
    with quiet_quantisation_warnings():
        qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
        return torch.ao.quantization.quantize_dynamic(float_copy, {torch.nn.Linear: qconfig}, dtype=torch.qint8)


def linear_share(model: torch.nn.Module) -> float:
    """The share of ``model``'s parameters that sit in ``nn.Linear`` layers (what int8 shrinks)."""
    total = sum(parameter.numel() for parameter in model.parameters())
    linear = sum(parameter.numel() for module in model.modules() if isinstance(module, torch.nn.Linear)
                 for parameter in module.parameters(recurse=False))
    if total == 0:
        raise ConfigError("the model has no parameters")
    return linear / total


def save_quantised(model: torch.nn.Module, path: str | Path) -> Path:
    """Save a model's weights as ``torch.save(model.state_dict(), path)`` (int8 weights stay packed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


def load_quantised(float_model: torch.nn.Module, path: str | Path) -> torch.nn.Module:
    """Rebuild an int8 model: quantise ``float_model`` (same architecture), then load the saved weights."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no saved quantised weights at {path}")
    quantised = quantise_dynamic(float_model)
    with quiet_quantisation_warnings():
        quantised.load_state_dict(torch.load(path, weights_only=False))  # packed int8 weights are not plain tensors
    return quantised


def saved_size_bytes(model: torch.nn.Module) -> int:
    """Size on disk: the bytes of ``torch.save(model.state_dict(), file)`` (see the module docstring)."""
    from labkit.evaluation import size_on_disk

    with tempfile.TemporaryDirectory() as folder:
        return size_on_disk(save_quantised(model, Path(folder) / "weights.pt"))


@torch.inference_mode()
def logits_of(model: torch.nn.Module, tokenizer: Any, texts: Sequence[str], max_length: int = 64,
              batch_size: int = 64) -> np.ndarray:
    """A classifier's logits for ``texts``, ``(len(texts), n_classes)``, in input order."""
    from labkit.compression.distillation import teacher_logits

    return teacher_logits(model, tokenizer, texts, max_length=max_length, batch_size=batch_size)


@dataclass(frozen=True)
class OutputAgreement:
    """How close the int8 model's outputs are to the float model's on the same inputs."""

    max_abs_logit_difference: float  #: largest |int8 - float| over all logits
    mean_abs_logit_difference: float
    max_abs_probability_difference: float  #: largest |int8 - float| over the class probabilities
    same_prediction: float  #: share of inputs whose predicted class is the same
    n_examples: int


def output_agreement(float_logits: np.ndarray, quantised_logits: np.ndarray) -> OutputAgreement:
    """Compare two models' logits, both ``(n_examples, n_classes)`` for the same inputs."""
    a, b = np.asarray(float_logits, dtype=np.float64), np.asarray(quantised_logits, dtype=np.float64)
    if a.ndim != 2 or a.shape != b.shape or len(a) == 0:
        raise ValueError(f"both logits must be the same non-empty (n_examples, n_classes) shape, got {a.shape} "
                         f"and {b.shape}")
    probabilities_a = np.exp(a - a.max(axis=1, keepdims=True))
    probabilities_a /= probabilities_a.sum(axis=1, keepdims=True)
    probabilities_b = np.exp(b - b.max(axis=1, keepdims=True))
    probabilities_b /= probabilities_b.sum(axis=1, keepdims=True)
    difference = np.abs(a - b)
    return OutputAgreement(float(difference.max()), float(difference.mean()),
                           float(np.abs(probabilities_a - probabilities_b).max()),
                           float((a.argmax(axis=1) == b.argmax(axis=1)).mean()), len(a))


def compare_latency(predictors: dict[str, Callable[[Sequence[str]], Any]], texts: Sequence[str], *,
                    batch_sizes: Sequence[int] = (1, 32), rounds: int = 3, warmup: int = 3) -> pd.DataFrame:
    """Latency of several predictors on the same texts, timed in interleaved rounds (fair on a busy machine).

    Each round times every predictor once with ``labkit.evaluation.latency_table`` (all ``batch_sizes``),
    in a rotated order; the table has one row per (predictor, batch size) with the median over rounds of
    ``per_example_ms_p50``, ``per_example_ms_p95``, ``per_batch_ms_p50`` and ``examples_per_second``.
    """
    from labkit.evaluation import latency_table

    if not predictors:
        raise ConfigError("give at least one predictor to time")
    if rounds < 1:
        raise ConfigError(f"rounds must be at least 1, got {rounds}")
    if len(texts) < max(batch_sizes):
        raise ConfigError(f"need at least {max(batch_sizes)} texts for batches of {max(batch_sizes)}, got {len(texts)}")
    names = list(predictors)
    rows = []
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            table = latency_table(predictors[name], list(texts), batch_sizes=batch_sizes, warmup=warmup,
                                  device="cpu")
            table["model"], table["round"] = name, round_index
            rows.append(table)
    measured = pd.concat(rows, ignore_index=True)
    summary = measured.groupby(["model", "batch_size"], sort=False)[
        ["per_example_ms_p50", "per_example_ms_p95", "per_batch_ms_p50", "examples_per_second"]].median().reset_index()
    summary["device"] = measured["device"].iloc[0]
    summary["rounds"] = rounds
    return summary
