"""Parameter-efficient fine-tuning with LoRA (Hu et al., 2021), through the ``peft`` library.

Full fine-tuning updates every weight of the encoder. LoRA freezes them all and learns, beside chosen
weight matrices ``W`` (``d_out x d_in``), a low-rank update ``B A`` (``B``: ``d_out x r``, ``A``:
``r x d_in``, ``r`` small), so a layer computes ``W x + (alpha / r) B A x``. ``B`` starts at zero, so
training starts exactly from the pretrained model. Only ``A``, ``B`` and the new classification head
train, and only they need shipping: a few hundred kilobytes on top of a base model the user already
has, instead of a full copy of it.

After training, ``B A`` can be *merged* into ``W`` (``merge_and_unload``): the model is then a plain
transformers model again, exactly as fast as the original, which is what ``load_with_adapter`` returns.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from labkit.errors import ConfigError, MissingFileError


@dataclass(frozen=True)
class LoraSettings:
    """Where LoRA goes and how big it is.

    ``rank`` is ``r``; ``alpha`` scales the update by ``alpha / rank``; ``dropout`` applies to the
    input of the low-rank path while training. ``target_modules`` names the linear layers that get an
    update: the attention's query and value projections, the choice of the LoRA paper.
    """

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.1
    target_modules: tuple[str, ...] = ("query", "value")

    def __post_init__(self) -> None:
        if isinstance(self.rank, bool) or not isinstance(self.rank, int) or self.rank < 1:
            raise ConfigError(f"LoRA rank must be a whole number of at least 1, got {self.rank!r}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"LoRA dropout must be in [0, 1), got {self.dropout!r}")
        if not self.target_modules:
            raise ConfigError("LoRA needs at least one target module (e.g. 'query', 'value')")

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain values (recorded with a run)."""
        values = asdict(self)
        values["target_modules"] = list(self.target_modules)
        return values


def add_lora(model: torch.nn.Module, settings: LoraSettings | None = None) -> torch.nn.Module:
    """Wrap a sequence classifier so that only LoRA's matrices and the classification head train.

    Returns peft's ``PeftModel``; the pretrained weights inside are frozen (``requires_grad=False``).
    Raises ``ConfigError`` if none of ``settings.target_modules`` exists in the model.
    """
    from peft import LoraConfig, TaskType, get_peft_model

    settings = settings or LoraSettings()
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    if not set(settings.target_modules) & names:
        raise ConfigError(f"LoRA target modules {list(settings.target_modules)} are not in this model; "
                          f"its linear layers are named e.g. {sorted(names)[:12]}")
    config = LoraConfig(task_type=TaskType.SEQ_CLS, r=settings.rank, lora_alpha=settings.alpha,
                        lora_dropout=settings.dropout, target_modules=list(settings.target_modules))
    with _quiet_peft():
        return get_peft_model(model, config)


@contextlib.contextmanager
def _quiet_peft() -> Iterator[None]:
    """peft 0.21 calls a transformers 5 method that warns it was renamed: not the learner's concern."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def is_lora_model(model: Any) -> bool:
    """True for a model wrapped by ``add_lora`` (a peft ``PeftModel``)."""
    return hasattr(model, "peft_config")


def merged_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A plain transformers model with LoRA's update merged into the weights (the input is left as is)."""
    import copy

    if not is_lora_model(model):
        return model
    return copy.deepcopy(model).merge_and_unload().eval()


def save_adapter(model: torch.nn.Module, folder: str | Path) -> Path:
    """Save only what LoRA trained (adapter matrices and classification head) into ``folder``."""
    if not is_lora_model(model):
        raise ConfigError("save_adapter needs a model wrapped by add_lora; save a plain model with save_pretrained")
    folder = Path(folder)
    model.save_pretrained(str(folder))
    return folder


def load_with_adapter(base_model: torch.nn.Module, folder: str | Path) -> torch.nn.Module:
    """``base_model`` (a sequence classifier with the right number of labels) with the adapter in
    ``folder`` applied and merged: a plain transformers model in eval mode."""
    from peft import PeftModel

    folder = Path(folder)
    if not (folder / "adapter_config.json").is_file():
        raise MissingFileError(f"no LoRA adapter at {folder} (adapter_config.json is missing)")
    with _quiet_peft():
        wrapped = PeftModel.from_pretrained(base_model, str(folder))
    return wrapped.merge_and_unload().eval()


def adapter_settings(folder: str | Path) -> dict[str, Any]:
    """The adapter's saved peft configuration (rank, alpha, target modules...) as a dict."""
    return json.loads((Path(folder) / "adapter_config.json").read_text())
