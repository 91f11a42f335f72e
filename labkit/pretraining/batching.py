"""Instances into batches: padding NSP pairs, grouping them by length, packing GPT text into blocks.

BERT batches are length-bucketed (:func:`bucket_batches`) so that almost no compute is spent on
padding; GPT batches have no padding at all: documents are concatenated and cut into full blocks
(:func:`pack_blocks`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch

from labkit.errors import DatasetError
from labkit.pretraining.nsp import NSPInstance


def collate_nsp(instances: Sequence[NSPInstance], cls_id: int, sep_id: int, pad_id: int) -> dict[str, torch.Tensor]:
    """Pad instances into a batch ``[CLS] A [SEP] B [SEP] [PAD]...`` (``[CLS] A [SEP]`` when B is empty).

    Returns ``input_ids``, ``token_type_ids``, ``attention_mask`` (each ``(batch, seq)`` with ``seq``
    the longest instance) and ``next_sentence_label`` ``(batch,)``.
    """
    if not instances:
        raise ValueError("cannot collate an empty list of instances")
    length = max(len(instance) for instance in instances)
    batch = len(instances)
    input_ids = torch.full((batch, length), pad_id, dtype=torch.long)
    token_type_ids = torch.zeros((batch, length), dtype=torch.long)
    attention_mask = torch.zeros((batch, length), dtype=torch.long)
    for row, instance in enumerate(instances):
        ids = [cls_id, *instance.tokens_a, sep_id] + ([*instance.tokens_b, sep_id] if instance.tokens_b else [])
        input_ids[row, : len(ids)] = torch.tensor(ids)
        token_type_ids[row, len(instance.tokens_a) + 2 : len(ids)] = 1
        attention_mask[row, : len(ids)] = 1
    labels = torch.tensor([instance.label for instance in instances], dtype=torch.long)
    return {
        "input_ids": input_ids,
        "token_type_ids": token_type_ids,
        "attention_mask": attention_mask,
        "next_sentence_label": labels,
    }


def bucket_batches(lengths: Sequence[int], batch_size: int, rng: random.Random,
                   bucket_factor: int = 50) -> list[list[int]]:
    """Group example indices into batches of similar length (so padding is rare), in random order.

    Indices are shuffled, cut into pools of ``batch_size * bucket_factor``, sorted by length inside
    each pool, cut into batches, and the batches are shuffled. Every index appears exactly once.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool_size = batch_size * bucket_factor
    batches = []
    for start in range(0, len(order), pool_size):
        pool = sorted(order[start : start + pool_size], key=lambda index: lengths[index])
        batches += [pool[i : i + batch_size] for i in range(0, len(pool), batch_size)]
    rng.shuffle(batches)
    return batches


def pack_blocks(documents: Sequence[Sequence[int]], block_size: int, eos_id: int) -> torch.Tensor:
    """Concatenate documents (each followed by ``eos_id``) and cut into full blocks: ``(blocks, block_size)``.

    The incomplete tail is dropped, so there is no padding at all.
    """
    stream = [token for document in documents for token in (*document, eos_id)]
    n_blocks = len(stream) // block_size
    if n_blocks == 0:
        raise DatasetError(f"not enough tokens ({len(stream)}) for one block of {block_size}")
    return torch.tensor(stream[: n_blocks * block_size], dtype=torch.long).view(n_blocks, block_size)
