"""What defines a pretraining run (:class:`PretrainConfig`) and the named recipes the kit offers (:data:`PRESETS`).

``tiny-bert`` and ``tiny-gpt`` are what the kit ships, sized for a 2-core CPU; ``tiny-bert-movies``
continues tiny-bert on movie text (MLM only); the larger ones are for people with GPUs. A config is
saved with every checkpoint (``training.json``'s ``preset``), so a shipped model says how it was made.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from labkit.errors import ConfigError
from labkit.pretraining.corpora import CORPORA


@dataclass
class PretrainConfig:
    """Everything that defines a pretraining run (saved with every checkpoint).

    How one invocation runs (its folder, how long, resume or not) is :class:`PretrainOptions` instead.
    """

    name: str
    kind: str  # "bert" or "gpt"
    vocab_size: int = 8192
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 2
    intermediate_size: int = 512
    max_length: int = 128
    batch_size: int = 64
    learning_rate: float = 2e-3
    warmup_steps: int = 300
    min_lr_ratio: float = 0.05
    weight_decay: float = 0.01
    adam_betas: tuple[float, float] = (0.9, 0.98)
    grad_clip: float = 1.0
    dropout: float = 0.0
    mlm_probability: float = 0.15
    short_seq_prob: float = 0.1
    init_bias_unigram: bool = True
    seed: int = 0
    eval_every: int = 200
    checkpoint_every_s: float = 120.0
    eval_instances: int = 256  # held-out examples used for the metrics logged during training
    description: str = ""
    corpus: str = "sotu"  # "sotu" (the speeches) or "movies" (the sentiment task's unlabelled train text)
    next_sentence_prediction: bool = True  # False: MLM only, one segment per text (no pairs)
    initial_checkpoint: str | None = None  # continue from these weights and tokenizer (registry name or folder)

    def __post_init__(self) -> None:
        if self.kind not in ("bert", "gpt"):
            raise ConfigError(f"kind must be 'bert' or 'gpt', got {self.kind!r}")
        if self.hidden_size % self.num_heads:
            raise ConfigError(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        if self.corpus not in CORPORA:
            raise ConfigError(f"corpus must be one of {', '.join(CORPORA)}, got {self.corpus!r}")
        if self.kind == "gpt" and not self.next_sentence_prediction:
            raise ConfigError("next_sentence_prediction is a BERT setting; leave it at True for kind='gpt'")
        self.adam_betas = tuple(self.adam_betas)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PRESETS: dict[str, PretrainConfig] = {
    preset.name: preset
    for preset in (
        PretrainConfig(
            name="tiny-bert", kind="bert", hidden_size=128, num_layers=2, num_heads=2, intermediate_size=512,
            max_length=128, batch_size=64, learning_rate=2e-3, warmup_steps=300,
            description="what the kit ships: trains on a 2-core CPU in about an hour",
        ),
        PretrainConfig(
            name="tiny-gpt", kind="gpt", hidden_size=128, num_layers=4, num_heads=4, intermediate_size=512,
            max_length=128, batch_size=16, learning_rate=2e-3, warmup_steps=300,
            description="what the kit ships: trains on a 2-core CPU in about an hour",
        ),
        PretrainConfig(
            name="tiny-bert-movies", kind="bert", hidden_size=128, num_layers=2, num_heads=2,
            intermediate_size=512, max_length=64, batch_size=64, learning_rate=5e-4, warmup_steps=240,
            min_lr_ratio=0.0, corpus="movies", next_sentence_prediction=False, initial_checkpoint="tiny-bert",
            description="domain-adaptive pretraining: tiny-bert's weights, further trained with MLM on the "
            "movie-review training sentences (their text only); about 20 minutes on one CPU thread",
        ),
        PretrainConfig(
            name="small-bert", kind="bert", vocab_size=16384, hidden_size=256, num_layers=4, num_heads=4,
            intermediate_size=1024, max_length=128, batch_size=128, learning_rate=1e-3, warmup_steps=1000,
            dropout=0.1, eval_every=1000, description="for a GPU: minutes per epoch",
        ),
        PretrainConfig(
            name="small-gpt", kind="gpt", vocab_size=16384, hidden_size=256, num_layers=6, num_heads=4,
            intermediate_size=1024, max_length=256, batch_size=64, learning_rate=1e-3, warmup_steps=1000,
            dropout=0.1, eval_every=1000, description="for a GPU: minutes per epoch",
        ),
        PretrainConfig(
            name="base-bert", kind="bert", vocab_size=30522, hidden_size=768, num_layers=12, num_heads=12,
            intermediate_size=3072, max_length=128, batch_size=256, learning_rate=1e-4, warmup_steps=10000,
            dropout=0.1, eval_every=2000, description="BERT-base shape: several GPUs, many hours",
        ),
    )
}


def get_preset(name: str, **overrides: Any) -> PretrainConfig:
    """A copy of preset ``name`` with ``overrides`` applied (unknown names/fields raise ``ConfigError``)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    fields = {f.name for f in dataclasses.fields(PretrainConfig)}
    unknown = set(overrides) - fields
    if unknown:
        raise ConfigError(f"unknown PretrainConfig field(s): {', '.join(sorted(unknown))}")
    return dataclasses.replace(PRESETS[name], **overrides)
