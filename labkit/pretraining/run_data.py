"""A run's data: tokenised train/held-out documents and the batch plan of every epoch (BERT and GPT).

Epoch ``e``'s instances and batch order depend only on ``(seed, e)``, and a step's masks only on the
step, which is what makes resume exact: a checkpoint stores ``(epoch, batch index)`` and nothing else
about the data.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import torch

from labkit.pretraining.batching import bucket_batches, collate_nsp, pack_blocks
from labkit.pretraining.masking import mask_tokens, replacement_ids_for, special_tokens_mask_for
from labkit.pretraining.nsp import Documents, NSPInstance, make_nsp_instances, make_single_segment_instances
from labkit.pretraining.presets import PretrainConfig
from labkit.pretraining.sentences import tokenize_documents

EVAL_SEED = 12345  # the held-out instances and masks are the same at every evaluation


def epoch_rng(config: PretrainConfig, epoch: int) -> random.Random:
    """The random numbers of epoch ``epoch``: a function of ``(config.seed, epoch)`` only."""
    return random.Random(config.seed * 1_000_003 + epoch)


class BertData:
    """Tokenised train/validation documents and the per-epoch batch plans of a BERT run.

    Epoch ``e``'s instances and batch order depend only on ``(seed, e)``, which is what makes resume
    exact: a checkpoint stores ``(epoch, batch index)``.
    """

    def __init__(self, tokenizer: Any, train_texts: Sequence[str], eval_texts: Sequence[str], config: PretrainConfig):
        self.tokenizer = tokenizer
        self.config = config
        self.train_docs = tokenize_documents(tokenizer, train_texts)
        self.eval_docs = tokenize_documents(tokenizer, eval_texts)
        self.special_ids = sorted(set(tokenizer.all_special_ids))
        self.replacement_ids = replacement_ids_for(tokenizer)
        self._epoch: int | None = None
        self._instances: list[NSPInstance] = []
        self._batches: list[list[int]] = []

    def _instances_for(self, documents: Documents, rng: random.Random, short_seq_prob: float) -> list[NSPInstance]:
        if not self.config.next_sentence_prediction:
            return make_single_segment_instances(documents, self.config.max_length)
        return make_nsp_instances(documents, self.config.max_length, rng, short_seq_prob=short_seq_prob)

    def epoch_plan(self, epoch: int) -> list[list[int]]:
        """The batches of epoch ``epoch``, as lists of instance indices (built once per epoch)."""
        if self._epoch != epoch:
            rng = epoch_rng(self.config, epoch)
            self._instances = self._instances_for(self.train_docs, rng, self.config.short_seq_prob)
            self._batches = bucket_batches([len(x) for x in self._instances], self.config.batch_size, rng)
            self._epoch = epoch
        return self._batches

    def batch(self, instances: Sequence[NSPInstance], generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Collate and mask: ``input_ids``, ``token_type_ids``, ``attention_mask``, ``labels``
        (each ``(batch, seq)``) and ``next_sentence_label`` ``(batch,)``."""
        tok = self.tokenizer
        batch = collate_nsp(instances, tok.cls_token_id, tok.sep_token_id, tok.pad_token_id)
        special = special_tokens_mask_for(batch["input_ids"], self.special_ids)
        batch["input_ids"], batch["labels"] = mask_tokens(
            batch["input_ids"], special, tok.mask_token_id, self.replacement_ids,
            self.config.mlm_probability, generator,
        )
        return batch

    def train_batch(self, epoch: int, index: int, step_seed: int) -> dict[str, torch.Tensor]:
        """Batch ``index`` of epoch ``epoch``, masked with random numbers drawn from ``step_seed``."""
        plan = self.epoch_plan(epoch)
        generator = torch.Generator().manual_seed(step_seed)
        return self.batch([self._instances[i] for i in plan[index]], generator)

    def eval_batches(self, limit: int | None = None, batch_size: int = 64) -> list[dict[str, torch.Tensor]]:
        """A fixed held-out set (same instances and masks every call): batches of validation speeches."""
        rng = random.Random(EVAL_SEED)
        instances = self._instances_for(self.eval_docs, rng, 0.0)
        rng.shuffle(instances)
        if limit is not None:
            instances = instances[:limit]
        generator = torch.Generator().manual_seed(EVAL_SEED)
        return [self.batch(instances[i : i + batch_size], generator) for i in range(0, len(instances), batch_size)]


def _encode_documents(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """Each text as one list of token ids (no special tokens): GPT reads documents, not sentences."""
    if not texts:
        return []
    return tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]


class GPTData:
    """Tokenised documents packed into blocks for a causal LM; epoch ``e`` is a function of ``(seed, e)``."""

    def __init__(self, tokenizer: Any, train_texts: Sequence[str], eval_texts: Sequence[str], config: PretrainConfig):
        self.tokenizer = tokenizer
        self.config = config
        self.train_docs = _encode_documents(tokenizer, train_texts)
        self.eval_docs = _encode_documents(tokenizer, eval_texts)
        self._epoch: int | None = None
        self._blocks = torch.empty(0)  # (blocks, max_length) once an epoch is planned
        self._batches: list[list[int]] = []

    def epoch_plan(self, epoch: int) -> list[list[int]]:
        """The batches of epoch ``epoch``, as lists of block indices (incomplete batches are dropped)."""
        if self._epoch != epoch:
            rng = epoch_rng(self.config, epoch)
            order = list(range(len(self.train_docs)))
            rng.shuffle(order)
            stream_docs = [self.train_docs[i] for i in order]
            offset = rng.randrange(self.config.max_length)  # blocks start at different places each epoch
            stream_docs[0] = stream_docs[0][offset:]
            self._blocks = pack_blocks(stream_docs, self.config.max_length, self.tokenizer.eos_token_id)
            indices = list(range(len(self._blocks)))
            rng.shuffle(indices)
            size = self.config.batch_size
            self._batches = [indices[i : i + size] for i in range(0, len(indices) - size + 1, size)]
            self._epoch = epoch
        return self._batches

    def train_batch(self, epoch: int, index: int, step_seed: int) -> dict[str, torch.Tensor]:
        """Batch ``index`` of epoch ``epoch``: ``input_ids`` ``(batch, max_length)`` (``step_seed`` is unused:
        causal LM batches have nothing random in them)."""
        plan = self.epoch_plan(epoch)
        return {"input_ids": self._blocks[plan[index]]}

    def eval_batches(self, limit: int | None = None, batch_size: int = 32) -> list[dict[str, torch.Tensor]]:
        """The held-out documents packed into blocks (the first ``limit`` blocks), in batches."""
        blocks = pack_blocks(self.eval_docs, self.config.max_length, self.tokenizer.eos_token_id)
        if limit is not None:
            blocks = blocks[:limit]
        return [{"input_ids": blocks[i : i + batch_size]} for i in range(0, len(blocks), batch_size)]
