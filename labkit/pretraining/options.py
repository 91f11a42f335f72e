"""How one call of :func:`~labkit.pretraining.pretrain` runs: its folder, its length, resume, output, display.

:class:`PretrainConfig` says *what* is trained and is saved with the checkpoint; :class:`PretrainOptions`
says how this invocation runs (a resumed run may use other options than the run it continues).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.errors import ConfigError


@dataclass
class PretrainOptions:
    """The options of one :func:`pretrain` call (``pretrain(config, run_dir, **fields)`` builds one for you).

    ``run_dir`` holds the tokenizer, ``state.pt`` (model, optimizer, data cursor) and ``log.csv``.
    The run lasts ``max_steps``, or about ``minutes`` of wall time (at least one of them).
    ``resume=True`` continues from ``state.pt``. With ``output_dir`` the final model is exported there
    as a transformers checkpoint. ``train_texts``/``eval_texts`` default to the config's corpus;
    ``tokenizer`` reuses an existing tokenizer instead of training one. ``threads`` sets torch's
    thread count. ``progress`` shows a tqdm bar; without it each evaluation is printed as a JSON line
    unless ``print_metrics=False``. ``stop_after_steps`` simulates an interruption (for tests).
    ``final_eval_limit`` caps the held-out examples of the untrained/final metrics (None: all).
    ``command`` is recorded in ``training.json`` (default: ``sys.argv``).
    """

    run_dir: str | Path
    minutes: float | None = None
    max_steps: int | None = None
    resume: bool = False
    output_dir: str | Path | None = None
    train_texts: Sequence[str] | None = None
    eval_texts: Sequence[str] | None = None
    tokenizer: Any = None
    threads: int | None = None
    progress: bool = True
    print_metrics: bool = True
    stop_after_steps: int | None = None
    final_eval_limit: int | None = None
    command: str | None = None

    def __post_init__(self) -> None:
        if self.minutes is None and self.max_steps is None:
            raise ConfigError("give minutes or max_steps (how long to train)")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max_steps must be positive, got {self.max_steps}")
        if self.minutes is not None and self.minutes <= 0:
            raise ConfigError(f"minutes must be positive, got {self.minutes}")
        if self.run_dir is None:
            raise ConfigError("give run_dir: the folder for the run's tokenizer, state.pt and log.csv")
        self.run_dir = Path(self.run_dir)
        if self.output_dir is not None:
            self.output_dir = Path(self.output_dir)

    @property
    def state_path(self) -> Path:
        """The run's checkpoint: model, optimizer and where the loop is (written atomically)."""
        return Path(self.run_dir) / "state.pt"

    @property
    def tokenizer_dir(self) -> Path:
        """Where the run's tokenizer is saved (a resumed run reads it from there)."""
        return Path(self.run_dir) / "tokenizer"
