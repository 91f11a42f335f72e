"""Parameter-efficient fine-tuning with LoRA (Hu et al., 2021), through the ``peft`` library.

Full fine-tuning updates every weight of the encoder. LoRA freezes them all and learns, beside chosen
weight matrices ``W`` (``d_out x d_in``), a low-rank update ``B A`` (``B``: ``d_out x r``, ``A``:
``r x d_in``, ``r`` small), so a layer computes ``W x + (alpha / r) B A x``. ``B`` starts at zero, so
training starts exactly from the pretrained model. Only ``A``, ``B`` and the new classification head
train, and only they need shipping: a few hundred kilobytes on top of a base model the user already
has, instead of a full copy of it.

After training, ``B A`` can be *merged* into ``W`` (``merge_and_unload``): the model is then a plain
transformers model again, exactly as fast as the original, which is what ``load_with_adapter`` returns
(it lives in ``labkit.adapters``, so that the model registry can load a shipped adapter too).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from labkit.adapters import load_with_adapter, quiet_peft
from labkit.errors import ConfigError

__all__ = ["LoraSettings", "add_lora", "is_lora_model", "merged_copy", "save_adapter", "load_with_adapter",
           "adapter_settings"]


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
    with quiet_peft():
        return get_peft_model(model, config)


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


def adapter_settings(folder: str | Path) -> dict[str, Any]:
    """The adapter's saved peft configuration (rank, alpha, target modules...) as a dict."""
    return json.loads((Path(folder) / "adapter_config.json").read_text())
