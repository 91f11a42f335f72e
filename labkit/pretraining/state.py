"""What a pretraining run carries: the loop's state (:class:`PretrainState`) and its result (:class:`PretrainResult`).

The state is everything the loop updates as it goes. Its saved fields are what ``state.pt`` holds
beside the model and the optimizer, so a resumed run continues exactly where the last one stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from labkit.pretraining.presets import PretrainConfig

# the fields of PretrainState that state.pt stores (the others restart with every process)
SAVED_FIELDS = ("step", "epoch", "batch_index", "total_steps", "elapsed", "tokens_seen", "log", "untrained_metrics")


@dataclass
class PretrainState:
    """Where a run is. ``total_steps`` is None until a time-budgeted run's first estimate."""

    step: int = 0
    epoch: int = 0
    batch_index: int = 0  # the next batch of this epoch's plan
    total_steps: int | None = None
    elapsed: float = 0.0  # seconds trained before the clock last started (a resumed run continues from it)
    tokens_seen: int = 0
    log: list[dict[str, float]] = field(default_factory=list)  # one row of metrics per evaluation
    untrained_metrics: dict[str, float] = field(default_factory=dict)
    # not saved:
    running: dict[str, float] = field(default_factory=dict)  # moving averages of the training losses
    started_at: float = 0.0  # time.perf_counter() when the run would have started without interruptions
    last_save: float = 0.0  # time.perf_counter() of the last save of state.pt
    speed_mark: tuple[int, float] | None = None  # (step, time) of the last estimate of the run's length

    def start_clock(self) -> None:
        """Start (or continue) the run's clock: ``seconds()`` then counts from the original start."""
        now = time.perf_counter()
        self.started_at = now - self.elapsed
        self.last_save = now

    def seconds(self) -> float:
        """Seconds of training so far, including those before an interruption."""
        return time.perf_counter() - self.started_at

    def seconds_since_save(self) -> float:
        return time.perf_counter() - self.last_save

    def mark_saved(self) -> None:
        self.last_save = time.perf_counter()

    def saved_fields(self) -> dict[str, Any]:
        """What ``state.pt`` stores besides the weights, the optimizer and the config."""
        values = {name: getattr(self, name) for name in SAVED_FIELDS}
        values["elapsed"] = self.seconds()
        return values

    @classmethod
    def from_saved(cls, saved: dict[str, Any]) -> PretrainState:
        """The state read back from a ``state.pt`` dict (extra keys, such as the weights, are ignored)."""
        return cls(**{name: saved[name] for name in SAVED_FIELDS})


@dataclass
class PretrainResult:
    """What :func:`pretrain` returns."""

    model: nn.Module
    tokenizer: Any
    config: PretrainConfig
    steps: int
    total_steps: int
    wall_seconds: float
    log: list[dict[str, float]] = field(default_factory=list)
    final_metrics: dict[str, float] = field(default_factory=dict)
    untrained_metrics: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False
