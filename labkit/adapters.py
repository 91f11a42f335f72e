"""Loading a LoRA adapter onto its base model (peft), shared by the model registry and fine-tuning.

An adapter folder (``adapter_config.json`` + ``adapter_model.safetensors``) holds only what LoRA
trained: the low-rank matrices and the new classification head. ``load_with_adapter`` puts them on a
base model and merges them into its weights, giving back a plain transformers model.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from labkit.errors import MissingFileError


@contextlib.contextmanager
def quiet_peft() -> Iterator[None]:
    """peft 0.21 calls a transformers 5 method that warns it was renamed: not the learner's concern."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def load_with_adapter(base_model: Any, folder: str | Path) -> Any:
    """``base_model`` (a sequence classifier with the right number of labels) with the adapter in
    ``folder`` applied and merged: a plain transformers model in eval mode."""
    from peft import PeftModel

    folder = Path(folder)
    if not (folder / "adapter_config.json").is_file():
        raise MissingFileError(f"no LoRA adapter at {folder} (adapter_config.json is missing)")
    with quiet_peft():
        wrapped = PeftModel.from_pretrained(base_model, str(folder))
    return wrapped.merge_and_unload().eval()
