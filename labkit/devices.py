"""One device policy for the whole kit: where models and batches go.

Fine-tuning, prediction, latency measurement and attribution all ask :func:`default_device` where to
run, and move batches with :func:`move_to_device`, so a user with a GPU runs the same commands and
notebooks faster with nothing changed. Pretraining goes through ``accelerate``, which makes the same
choice. ``LABKIT_DEVICE=cpu`` (or ``cuda``, ``cuda:1``, ``mps``) overrides the choice, e.g. to time
the CPU on a machine that has a GPU.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from labkit.errors import ConfigError


def default_device() -> torch.device:
    """``$LABKIT_DEVICE`` if set, else the first CUDA GPU, else Apple's MPS, else the CPU."""
    requested = os.environ.get("LABKIT_DEVICE", "").strip()
    if requested:
        try:
            device = torch.device(requested)
        except RuntimeError as error:
            raise ConfigError(f"LABKIT_DEVICE={requested!r} is not a device torch knows ({error})") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ConfigError(f"LABKIT_DEVICE={requested!r} but torch sees no CUDA GPU on this machine")
        return device
    if torch.cuda.is_available():  # pragma: no cover - no GPU in CI
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():  # pragma: no cover
        return torch.device("mps")
    return torch.device("cpu")


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of a model's first parameter (the CPU for a model without parameters)."""
    for parameter in model.parameters():
        return parameter.device
    return torch.device("cpu")


def move_to_device(batch: Mapping[str, Any], device: torch.device | str) -> dict[str, Any]:
    """A copy of ``batch`` with every tensor on ``device`` (other values, e.g. lists of text, unchanged)."""
    return {key: value.to(device) if isinstance(value, torch.Tensor) else value for key, value in batch.items()}


def describe_device(device: torch.device | str) -> str:
    """What measured a number, for tables: ``"cpu (2 threads)"`` or ``"cuda (NVIDIA ...)"``."""
    device = torch.device(device)
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    if device.type == "cuda":  # pragma: no cover - no GPU in CI
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type  # pragma: no cover
