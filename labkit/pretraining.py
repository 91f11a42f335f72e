"""Pretraining our own tiny BERT (masked LM + next-sentence prediction) and tiny GPT (causal LM).

Everything a learner needs to see the data pipeline, and everything the ``labkit pretrain`` command
needs to train and ship a checkpoint:

* tokenizers trained on the corpus with the ``tokenizers`` library: an uncased WordPiece vocabulary
  for BERT (:func:`train_wordpiece_tokenizer`) and a byte-level BPE for GPT (:func:`train_bpe_tokenizer`);
* documents split into sentences (:func:`split_sentences`) and tokenised (:func:`tokenize_documents`);
* next-sentence-prediction pairs built the way BERT builds them (:func:`make_nsp_instances`): half
  the time segment B is the true continuation of A, half the time it comes from a *different* document;
* MLM masking (:func:`mask_tokens`): 15% of the non-special tokens are selected; 80% of those become
  ``[MASK]``, 10% a random non-special token, 10% stay as they are; the loss counts selected tokens only;
* a fast loss (:class:`BertPretrainingObjective`): the vocabulary projection is computed only at the
  selected positions (a ``(M, V)`` matrix instead of ``(B, L, V)``), attention uses PyTorch's SDPA
  kernels and batches are length-bucketed, so almost no compute is spent on padding;
* a resumable training loop (:func:`pretrain`) that runs through Hugging Face Accelerate (CPU, one GPU
  or many with ``accelerate launch``), with warmup + linear decay, gradient clipping, a tqdm bar,
  held-out metrics, atomic checkpoints and exact resume;
* presets (:data:`PRESETS`): ``tiny-bert`` and ``tiny-gpt`` (what the kit ships, sized for a 2-core
  CPU) and larger ones for people with GPUs;
* continued, domain-adaptive pretraining: a run can start from a checkpoint (``initial_checkpoint``)
  and train MLM only (``next_sentence_prediction=False``, one segment per text) on another corpus;
  the ``tiny-bert-movies`` preset does this with the movie-review training sentences.

The models are plain ``transformers`` classes (``BertForPreTraining``, ``GPT2LMHeadModel``): the fast
objective calls their own sub-modules, so a trained model is saved with ``save_pretrained`` and loads
with the Auto classes, with no conversion step.

Shapes in docstrings: ``B`` batch, ``L`` sequence length, ``H`` hidden size, ``V`` vocabulary size,
``M`` number of masked positions in a batch.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import random
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from labkit.evaluation import count_parameters
from labkit.files import file_sha256, save_torch_atomically

IGNORE_INDEX = -100  # label of a position that does not count in the MLM loss
IS_NEXT, NOT_NEXT = 0, 1  # NSP labels, as in transformers: 0 = B continues A, 1 = B is random
BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
GPT_END_OF_TEXT = "<|endoftext|>"

# --------------------------------------------------------------------------------------------------
# sentences and tokenizers
# --------------------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9])")


def split_sentences(text: str) -> list[str]:
    """Split a text into sentences at ``.``, ``!`` or ``?`` followed by space and a capital or digit.

    Deliberately simple (no abbreviation list): for NSP it only matters that segments end at
    plausible boundaries. Empty pieces are dropped.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return [piece.strip() for piece in _SENTENCE_END.split(text) if piece.strip()]


def _check_texts(texts: Sequence[str]) -> list[str]:
    texts = list(texts)
    if not texts:
        raise ValueError("need at least one text to train a tokenizer on")
    if not all(isinstance(text, str) for text in texts):
        raise TypeError("texts must all be strings")
    return texts


def train_wordpiece_tokenizer(texts: Sequence[str], vocab_size: int = 8192, min_frequency: int = 2) -> Any:
    """Train an uncased WordPiece vocabulary on ``texts`` and return a ``BertTokenizerFast``.

    The special tokens are ``[PAD]`` (id 0), ``[UNK]``, ``[CLS]``, ``[SEP]`` and ``[MASK]``; the
    result encodes pairs as ``[CLS] A [SEP] B [SEP]`` with token type ids 0/1, exactly like BERT's.
    """
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizerFast

    texts = _check_texts(texts)
    if vocab_size < 100:
        raise ValueError(f"vocab_size must be at least 100, got {vocab_size}")
    wordpiece = BertWordPieceTokenizer(lowercase=True, strip_accents=True, clean_text=True)
    wordpiece.train_from_iterator(
        texts, vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=list(BERT_SPECIAL_TOKENS),
        show_progress=False,
    )
    vocab = wordpiece.get_vocab()
    tokenizer = BertTokenizerFast(vocab=vocab, do_lower_case=True, strip_accents=True)
    tokenizer.model_max_length = 512
    return tokenizer


def train_bpe_tokenizer(texts: Sequence[str], vocab_size: int = 8192, min_frequency: int = 2) -> Any:
    """Train a GPT-2-style byte-level BPE on ``texts`` and return a ``GPT2TokenizerFast``.

    ``<|endoftext|>`` is the only special token (beginning, end, unknown and, for batching, padding).
    """
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2TokenizerFast

    texts = _check_texts(texts)
    if vocab_size < 300:
        raise ValueError(f"vocab_size must be at least 300 (256 bytes + merges), got {vocab_size}")
    bpe = ByteLevelBPETokenizer(add_prefix_space=False)
    bpe.train_from_iterator(
        texts, vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=[GPT_END_OF_TEXT],
        show_progress=False,
    )
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(merge.split(" ")) if isinstance(merge, str) else tuple(merge) for merge in model["merges"]]
    tokenizer = GPT2TokenizerFast(vocab=model["vocab"], merges=merges, pad_token=GPT_END_OF_TEXT)
    tokenizer.model_max_length = 1024
    return tokenizer


def tokenize_documents(tokenizer: Any, texts: Sequence[str]) -> list[list[list[int]]]:
    """Split each text into sentences and tokenise them without special tokens.

    Returns ``documents[d][s]`` = the token ids of sentence ``s`` of document ``d`` (sentences that
    tokenise to nothing are dropped).
    """
    documents = []
    for text in texts:
        sentences = split_sentences(text)
        encoded = tokenizer(sentences, add_special_tokens=False, verbose=False)["input_ids"] if sentences else []
        documents.append([ids for ids in encoded if ids])
    return documents


# --------------------------------------------------------------------------------------------------
# next-sentence prediction pairs
# --------------------------------------------------------------------------------------------------


@dataclass
class NSPInstance:
    """One BERT pretraining example before masking.

    ``tokens_a`` and ``tokens_b`` are token ids without special tokens. ``doc_a``/``doc_b`` and
    ``sentences_a``/``sentences_b`` (``(first, last_exclusive)`` sentence indices) record where each
    segment came from, so tests and learners can check the construction. Segment B may have been
    truncated at its end and A at its start to fit ``max_length``.
    """

    tokens_a: list[int]
    tokens_b: list[int]
    is_random_next: bool
    doc_a: int
    doc_b: int
    sentences_a: tuple[int, int]
    sentences_b: tuple[int, int]

    @property
    def label(self) -> int:
        """The NSP label: ``IS_NEXT`` (0) or ``NOT_NEXT`` (1), as ``BertForPreTraining`` expects."""
        return NOT_NEXT if self.is_random_next else IS_NEXT

    def __len__(self) -> int:
        """Length with ``[CLS]``, ``[SEP]``, ``[SEP]`` (a single segment: ``[CLS]`` A ``[SEP]``)."""
        return len(self.tokens_a) + len(self.tokens_b) + (3 if self.tokens_b else 2)


def _truncate_pair(tokens_a: list[int], tokens_b: list[int], max_tokens: int) -> None:
    """Trim the longer segment until both fit in ``max_tokens``: A loses tokens at its start, B at its end,
    so the A|B boundary (where NSP looks) is left exactly as it is in the text."""
    excess = len(tokens_a) + len(tokens_b) - max_tokens
    while excess > 0:
        if len(tokens_a) > len(tokens_b):
            del tokens_a[0]
        else:
            tokens_b.pop()
        excess -= 1


def make_nsp_instances(
    documents: Sequence[Sequence[Sequence[int]]],
    max_length: int = 128,
    rng: random.Random | None = None,
    short_seq_prob: float = 0.1,
    random_next_prob: float = 0.5,
) -> list[NSPInstance]:
    """Build NSP instances from tokenised documents, the way BERT's ``create_pretraining_data`` does.

    Sentences of a document are accumulated until they fill ``max_length - 3`` tokens (sometimes less,
    with probability ``short_seq_prob``); the chunk is cut at a random sentence boundary into A and B.
    With probability ``random_next_prob`` B is replaced by consecutive sentences from a random
    *different* document (the unused sentences of this document are put back). Needs at least two
    documents with sentences.
    """
    if max_length < 8:
        raise ValueError(f"max_length must be at least 8, got {max_length}")
    usable = [index for index, doc in enumerate(documents) if len(doc) > 0]
    if len(usable) < 2:
        raise ValueError("NSP needs at least two non-empty documents (negatives come from another document)")
    rng = rng or random.Random(0)
    max_tokens = max_length - 3
    instances: list[NSPInstance] = []
    for doc_index, document in enumerate(documents):
        target = max_tokens if rng.random() >= short_seq_prob else rng.randint(2, max_tokens)
        chunk: list[int] = []  # sentence indices
        length = 0
        i = 0
        while i < len(document):
            chunk.append(i)
            length += len(document[i])
            if i == len(document) - 1 or length >= target:
                if chunk:
                    a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
                    a_sentences = chunk[:a_end]
                    tokens_a = [t for s in a_sentences for t in document[s]]
                    if len(chunk) == 1 or rng.random() < random_next_prob:
                        is_random = True
                        other = doc_index
                        while other == doc_index:
                            other = usable[rng.randrange(len(usable))]
                        other_doc = documents[other]
                        b_target = max(1, target - len(tokens_a))
                        start = rng.randrange(len(other_doc))
                        stop = start
                        tokens_b: list[int] = []
                        while stop < len(other_doc) and len(tokens_b) < b_target:
                            tokens_b.extend(other_doc[stop])
                            stop += 1
                        b_doc, b_sentences = other, (start, stop)
                        i -= len(chunk) - a_end  # put the unused sentences back
                    else:
                        is_random = False
                        b_list = chunk[a_end:]
                        tokens_b = [t for s in b_list for t in document[s]]
                        b_doc, b_sentences = doc_index, (b_list[0], b_list[-1] + 1)
                    tokens_a = list(tokens_a)
                    _truncate_pair(tokens_a, tokens_b, max_tokens)
                    if tokens_a and tokens_b:
                        instances.append(
                            NSPInstance(
                                tokens_a=tokens_a,
                                tokens_b=tokens_b,
                                is_random_next=is_random,
                                doc_a=doc_index,
                                doc_b=b_doc,
                                sentences_a=(a_sentences[0], a_sentences[-1] + 1),
                                sentences_b=b_sentences,
                            )
                        )
                chunk, length = [], 0
                target = max_tokens if rng.random() >= short_seq_prob else rng.randint(2, max_tokens)
            i += 1
    return instances


def make_single_segment_instances(documents: Sequence[Sequence[Sequence[int]]], max_length: int = 128) -> list[NSPInstance]:
    """One MLM-only instance per document: its sentences joined, cut to ``max_length - 2`` tokens.

    For pretraining without next-sentence prediction on short texts (a review sentence, a tweet), where
    there are no sentence pairs to predict. Segment B is empty; the instance is ``[CLS] A [SEP]``.
    Documents without tokens are skipped.
    """
    if max_length < 8:
        raise ValueError(f"max_length must be at least 8, got {max_length}")
    instances = []
    for index, document in enumerate(documents):
        tokens = [token for sentence in document for token in sentence][: max_length - 2]
        if tokens:
            instances.append(NSPInstance(tokens_a=tokens, tokens_b=[], is_random_next=False, doc_a=index,
                                         doc_b=index, sentences_a=(0, len(document)),
                                         sentences_b=(len(document), len(document))))
    return instances


def collate_nsp(instances: Sequence[NSPInstance], cls_id: int, sep_id: int, pad_id: int) -> dict[str, torch.Tensor]:
    """Pad a list of instances into a batch ``[CLS] A [SEP] B [SEP] [PAD]...`` (``[CLS] A [SEP]`` when B is empty).

    Returns ``input_ids``, ``token_type_ids``, ``attention_mask`` (each ``(B, L)`` with ``L`` the
    longest instance) and ``next_sentence_label`` ``(B,)``.
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


def bucket_batches(lengths: Sequence[int], batch_size: int, rng: random.Random, bucket_factor: int = 50) -> list[list[int]]:
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


# --------------------------------------------------------------------------------------------------
# masked language modelling
# --------------------------------------------------------------------------------------------------


def mask_tokens(
    input_ids: torch.Tensor,
    special_tokens_mask: torch.Tensor,
    mask_token_id: int,
    replacement_ids: torch.Tensor,
    mlm_probability: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking: select ``mlm_probability`` of the ordinary tokens; 80/10/10 mask/random/keep.

    ``input_ids``: ``(B, L)`` long. ``special_tokens_mask``: ``(B, L)`` bool, True where a token must
    never be selected (``[CLS]``, ``[SEP]``, ``[PAD]``...). ``replacement_ids``: 1-D long tensor of the
    ids a random replacement may draw (the non-special vocabulary). Returns ``(masked_ids, labels)``,
    both ``(B, L)``: ``labels`` holds the original id at selected positions and ``IGNORE_INDEX`` (-100)
    everywhere else. The input is not modified.
    """
    if input_ids.shape != special_tokens_mask.shape:
        raise ValueError(f"input_ids {tuple(input_ids.shape)} and special_tokens_mask "
                         f"{tuple(special_tokens_mask.shape)} must have the same shape")
    if not 0.0 < mlm_probability < 1.0:
        raise ValueError(f"mlm_probability must be in (0, 1), got {mlm_probability}")
    if replacement_ids.ndim != 1 or replacement_ids.numel() == 0:
        raise ValueError("replacement_ids must be a non-empty 1-D tensor of token ids")
    probabilities = torch.full(input_ids.shape, mlm_probability)
    probabilities.masked_fill_(special_tokens_mask.bool(), 0.0)
    selected = torch.bernoulli(probabilities, generator=generator).bool()
    labels = torch.where(selected, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    action = torch.rand(input_ids.shape, generator=generator)
    to_mask = selected & (action < 0.8)
    to_random = selected & (action >= 0.8) & (action < 0.9)
    random_tokens = replacement_ids[
        torch.randint(len(replacement_ids), input_ids.shape, generator=generator)
    ].to(input_ids.dtype)
    masked = input_ids.clone()
    masked[to_mask] = mask_token_id
    masked[to_random] = random_tokens[to_random]
    return masked, labels


def special_tokens_mask_for(input_ids: torch.Tensor, special_ids: Sequence[int]) -> torch.Tensor:
    """``(B, L)`` bool: True where ``input_ids`` is one of ``special_ids`` (padding included)."""
    return torch.isin(input_ids, torch.tensor(sorted(set(special_ids)), dtype=input_ids.dtype))


def replacement_ids_for(tokenizer: Any) -> torch.Tensor:
    """The ids a random MLM replacement may draw: the whole vocabulary minus special/added tokens."""
    special = set(tokenizer.all_special_ids)
    return torch.tensor([i for i in range(len(tokenizer)) if i not in special], dtype=torch.long)


def format_masked(tokenizer: Any, original_ids: torch.Tensor, masked_ids: torch.Tensor, labels: torch.Tensor,
                  skip_padding: bool = True) -> str:
    """One sequence as text with the MLM corruption marked (all arguments ``(L,)``).

    ``[MASK]>word`` a selected token replaced by ``[MASK]`` (``word`` is what the model must predict),
    ``~rnd~>word`` replaced by a random token, ``=word=`` selected but kept; other tokens as they are.
    """
    if not (original_ids.shape == masked_ids.shape == labels.shape) or original_ids.ndim != 1:
        raise ValueError("format_masked takes three 1-D tensors of the same length (one sequence)")
    pieces = []
    for original, shown, label in zip(original_ids.tolist(), masked_ids.tolist(), labels.tolist()):
        if skip_padding and original == tokenizer.pad_token_id:
            continue
        word = tokenizer.convert_ids_to_tokens(original)
        if label == IGNORE_INDEX:
            pieces.append(word)
        elif shown == tokenizer.mask_token_id:
            pieces.append(f"[MASK]>{word}")
        elif shown != original:
            pieces.append(f"~{tokenizer.convert_ids_to_tokens(shown)}~>{word}")
        else:
            pieces.append(f"={word}=")
    return " ".join(pieces)


# --------------------------------------------------------------------------------------------------
# objectives (thin nn.Modules around the transformers models, so Accelerate/DDP can wrap them)
# --------------------------------------------------------------------------------------------------


class BertPretrainingObjective(nn.Module):
    """MLM + NSP loss of a ``BertForPreTraining``, with the vocabulary projection at masked positions only.

    Mathematically identical to ``BertForPreTraining(...)``'s own loss (mean cross-entropy over the
    positions whose label is not -100, plus NSP cross-entropy), but instead of projecting all ``B*L``
    hidden states to ``V`` logits it gathers the ``M ~ 0.15*B*L`` selected ones first.
    """

    def __init__(self, model: nn.Module, next_sentence_prediction: bool = True):
        super().__init__()
        self.model = model
        self.next_sentence_prediction = next_sentence_prediction

    def forward(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor,
        attention_mask: torch.Tensor | None,
        labels: torch.Tensor,
        next_sentence_label: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """Inputs ``(B, L)`` (``attention_mask`` may be None when there is no padding), labels ``(B, L)``
        with -100 at unselected positions, ``next_sentence_label`` ``(B,)``.

        Returns a dict: ``loss`` (MLM + NSP; MLM alone when built with ``next_sentence_prediction=False``),
        ``mlm_loss``, ``nsp_loss`` (scalars), ``mlm_logits``
        ``(M, V)``, ``mlm_labels`` ``(M,)`` and ``nsp_logits`` ``(B, 2)``.
        """
        if attention_mask is not None and bool(attention_mask.all()):
            attention_mask = None  # no padding: let SDPA run without a mask
        outputs = self.model.bert(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask)
        selected = labels != IGNORE_INDEX  # (B, L)
        hidden = outputs.last_hidden_state[selected]  # (M, H)
        mlm_labels = labels[selected]  # (M,)
        mlm_logits = self.model.cls.predictions(hidden)  # (M, V)
        nsp_logits = self.model.cls.seq_relationship(outputs.pooler_output)  # (B, 2)
        if mlm_labels.numel() == 0:
            mlm_loss = mlm_logits.sum() * 0.0
        else:
            mlm_loss = F.cross_entropy(mlm_logits.float(), mlm_labels)
        if self.next_sentence_prediction:
            nsp_loss = F.cross_entropy(nsp_logits.float(), next_sentence_label)
        else:  # MLM only: the NSP head is not trained (its loss is reported as 0)
            nsp_loss = torch.zeros((), dtype=mlm_loss.dtype, device=mlm_loss.device)
        return {
            "loss": mlm_loss + nsp_loss,
            "mlm_loss": mlm_loss,
            "nsp_loss": nsp_loss,
            "mlm_logits": mlm_logits,
            "mlm_labels": mlm_labels,
            "nsp_logits": nsp_logits,
        }


class CausalLMObjective(nn.Module):
    """Next-token cross-entropy of a causal LM (``GPT2LMHeadModel``) on packed blocks (no padding)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> dict[str, torch.Tensor]:
        """``input_ids`` ``(B, L)``; predicts token ``t+1`` from tokens ``<= t``; ``loss`` is the mean
        over the ``B*(L-1)`` predictions. Also returns ``logits`` ``(B, L, V)``."""
        outputs = self.model(input_ids=input_ids)
        logits = outputs.logits
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)).float(), input_ids[:, 1:].reshape(-1))
        return {"loss": loss, "logits": logits}


# --------------------------------------------------------------------------------------------------
# presets and model construction
# --------------------------------------------------------------------------------------------------


# Where pretraining text comes from: name -> (data file, what the train / held-out texts are).
CORPORA: dict[str, tuple[str, str, str]] = {
    "sotu": ("corpus/sotu.parquet", "labkit.data.load_corpus()['train']", "labkit.data.load_corpus()['validation']"),
    "movies": ("sentiment/movies.parquet", "labkit.data.load_sentiment('movies')['train'] (text only, no labels)",
               "labkit.data.load_sentiment('movies')['validation'] (text only)"),
}


@dataclass
class PretrainConfig:
    """Everything that defines a pretraining run (saved with every checkpoint)."""

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
            raise ValueError(f"kind must be 'bert' or 'gpt', got {self.kind!r}")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        if self.corpus not in CORPORA:
            raise ValueError(f"corpus must be one of {', '.join(CORPORA)}, got {self.corpus!r}")
        if self.kind == "gpt" and not self.next_sentence_prediction:
            raise ValueError("next_sentence_prediction is a BERT setting; leave it at True for kind='gpt'")
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
    """A copy of preset ``name`` with ``overrides`` applied (unknown names/fields raise)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    fields = {f.name for f in dataclasses.fields(PretrainConfig)}
    unknown = set(overrides) - fields
    if unknown:
        raise ValueError(f"unknown PretrainConfig field(s): {', '.join(sorted(unknown))}")
    return dataclasses.replace(PRESETS[name], **overrides)


def build_model(config: PretrainConfig, tokenizer: Any) -> nn.Module:
    """A freshly initialised ``BertForPreTraining`` or ``GPT2LMHeadModel`` for ``config`` (SDPA attention)."""
    from transformers import BertConfig, BertForPreTraining, GPT2Config, GPT2LMHeadModel

    torch.manual_seed(config.seed)
    if config.kind == "bert":
        model_config = BertConfig(
            vocab_size=len(tokenizer), hidden_size=config.hidden_size, num_hidden_layers=config.num_layers,
            num_attention_heads=config.num_heads, intermediate_size=config.intermediate_size,
            max_position_embeddings=max(512, config.max_length), hidden_dropout_prob=config.dropout,
            attention_probs_dropout_prob=config.dropout, pad_token_id=tokenizer.pad_token_id,
            tie_word_embeddings=True,
        )
        model = BertForPreTraining._from_config(model_config, attn_implementation="sdpa")
    else:
        model_config = GPT2Config(
            vocab_size=len(tokenizer), n_positions=max(1024, config.max_length), n_embd=config.hidden_size,
            n_layer=config.num_layers, n_head=config.num_heads, n_inner=config.intermediate_size,
            resid_pdrop=config.dropout, embd_pdrop=config.dropout, attn_pdrop=config.dropout,
            bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
        )
        model = GPT2LMHeadModel._from_config(model_config, attn_implementation="sdpa")
    return model


def init_unigram_bias(model: nn.Module, documents: Sequence[Sequence[Sequence[int]]]) -> None:
    """Start BERT's MLM output bias at the log unigram frequencies of the corpus.

    An untrained model then already predicts the unigram distribution, the plateau every MLM run
    must first reach, so training spends its first steps on context instead of on word counts.
    """
    bias = model.cls.predictions.bias
    counts = torch.ones(bias.numel())
    for document in documents:
        for sentence in document:
            counts += torch.bincount(torch.tensor(sentence), minlength=bias.numel())[: bias.numel()]
    with torch.no_grad():
        bias.copy_(torch.log(counts / counts.sum()))


# --------------------------------------------------------------------------------------------------
# data for the loop
# --------------------------------------------------------------------------------------------------


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

    def _instances_for(self, documents: Sequence[Sequence[Sequence[int]]], rng: random.Random,
                       short_seq_prob: float) -> list[NSPInstance]:
        if not self.config.next_sentence_prediction:
            return make_single_segment_instances(documents, self.config.max_length)
        return make_nsp_instances(documents, self.config.max_length, rng, short_seq_prob=short_seq_prob)

    def epoch_plan(self, epoch: int) -> list[list[int]]:
        if self._epoch != epoch:
            rng = random.Random(self.config.seed * 1_000_003 + epoch)
            self._instances = self._instances_for(self.train_docs, rng, self.config.short_seq_prob)
            self._batches = bucket_batches([len(x) for x in self._instances], self.config.batch_size, rng)
            self._epoch = epoch
        return self._batches

    def batch(self, instances: Sequence[NSPInstance], generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Collate and mask: ``input_ids``, ``token_type_ids``, ``attention_mask``, ``labels`` (``(B, L)``)
        and ``next_sentence_label`` ``(B,)``."""
        tok = self.tokenizer
        batch = collate_nsp(instances, tok.cls_token_id, tok.sep_token_id, tok.pad_token_id)
        special = special_tokens_mask_for(batch["input_ids"], self.special_ids)
        batch["input_ids"], batch["labels"] = mask_tokens(
            batch["input_ids"], special, tok.mask_token_id, self.replacement_ids,
            self.config.mlm_probability, generator,
        )
        return batch

    def train_batch(self, epoch: int, index: int, step_seed: int) -> dict[str, torch.Tensor]:
        plan = self.epoch_plan(epoch)
        generator = torch.Generator().manual_seed(step_seed)
        return self.batch([self._instances[i] for i in plan[index]], generator)

    def eval_batches(self, limit: int | None = None, batch_size: int = 64) -> list[dict[str, torch.Tensor]]:
        """A fixed held-out set (same instances and masks every call): batches of validation speeches."""
        rng = random.Random(12345)
        instances = self._instances_for(self.eval_docs, rng, 0.0)
        rng.shuffle(instances)
        if limit is not None:
            instances = instances[:limit]
        generator = torch.Generator().manual_seed(12345)
        return [self.batch(instances[i : i + batch_size], generator) for i in range(0, len(instances), batch_size)]


def pack_blocks(documents: Sequence[Sequence[int]], block_size: int, eos_id: int) -> torch.Tensor:
    """Concatenate documents (each followed by ``eos_id``) and cut into full blocks: ``(N, block_size)``.

    The incomplete tail is dropped, so there is no padding at all.
    """
    stream = [token for document in documents for token in (*document, eos_id)]
    n_blocks = len(stream) // block_size
    if n_blocks == 0:
        raise ValueError(f"not enough tokens ({len(stream)}) for one block of {block_size}")
    return torch.tensor(stream[: n_blocks * block_size], dtype=torch.long).view(n_blocks, block_size)


class GPTData:
    """Tokenised documents packed into blocks for a causal LM; epoch ``e`` is a function of ``(seed, e)``."""

    def __init__(self, tokenizer: Any, train_texts: Sequence[str], eval_texts: Sequence[str], config: PretrainConfig):
        self.tokenizer = tokenizer
        self.config = config
        encode = lambda texts: tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"] if texts else []  # noqa: E731
        self.train_docs = encode(train_texts)
        self.eval_docs = encode(eval_texts)
        self._epoch: int | None = None
        self._blocks = torch.empty(0)
        self._batches: list[list[int]] = []

    def epoch_plan(self, epoch: int) -> list[list[int]]:
        if self._epoch != epoch:
            rng = random.Random(self.config.seed * 1_000_003 + epoch)
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
        plan = self.epoch_plan(epoch)
        return {"input_ids": self._blocks[plan[index]]}

    def eval_batches(self, limit: int | None = None, batch_size: int = 32) -> list[dict[str, torch.Tensor]]:
        blocks = pack_blocks(self.eval_docs, self.config.max_length, self.tokenizer.eos_token_id)
        if limit is not None:
            blocks = blocks[:limit]
        return [{"input_ids": blocks[i : i + batch_size]} for i in range(0, len(blocks), batch_size)]


# --------------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------------


@torch.no_grad()
def evaluate_bert(model: nn.Module, batches: Sequence[dict[str, torch.Tensor]],
                  next_sentence_prediction: bool = True) -> dict[str, float]:
    """Held-out MLM accuracy, MLM perplexity (exp of the mean masked-token cross-entropy) and NSP accuracy
    (NSP only when ``next_sentence_prediction``: an MLM-only run has no sentence pairs to score)."""
    objective = BertPretrainingObjective(model, next_sentence_prediction)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total_nll = correct = masked = nsp_correct = nsp_total = 0.0
    for batch in batches:
        batch = {key: value.to(device) for key, value in batch.items()}
        out = objective(**batch)
        total_nll += F.cross_entropy(out["mlm_logits"].float(), out["mlm_labels"], reduction="sum").item()
        correct += (out["mlm_logits"].argmax(-1) == out["mlm_labels"]).sum().item()
        masked += out["mlm_labels"].numel()
        nsp_correct += (out["nsp_logits"].argmax(-1) == batch["next_sentence_label"]).sum().item()
        nsp_total += batch["next_sentence_label"].numel()
    model.train(was_training)
    metrics = {"mlm_accuracy": correct / max(masked, 1), "mlm_perplexity": math.exp(total_nll / max(masked, 1)),
               "masked_tokens": int(masked)}
    if next_sentence_prediction:
        metrics.update({"nsp_accuracy": nsp_correct / max(nsp_total, 1), "nsp_pairs": int(nsp_total)})
    return metrics


@torch.no_grad()
def evaluate_gpt(model: nn.Module, batches: Sequence[dict[str, torch.Tensor]]) -> dict[str, float]:
    """Held-out next-token perplexity and accuracy of a causal LM."""
    objective = CausalLMObjective(model)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total_nll = correct = count = 0.0
    for batch in batches:
        input_ids = batch["input_ids"].to(device)
        logits = objective(input_ids)["logits"][:, :-1].float()
        targets = input_ids[:, 1:]
        total_nll += F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), reduction="sum").item()
        correct += (logits.argmax(-1) == targets).sum().item()
        count += targets.numel()
    model.train(was_training)
    return {
        "perplexity": math.exp(total_nll / max(count, 1)),
        "next_token_accuracy": correct / max(count, 1),
        "tokens": int(count),
    }


# --------------------------------------------------------------------------------------------------
# the training loop
# --------------------------------------------------------------------------------------------------


def learning_rate_at(step: int, config: PretrainConfig, total_steps: int) -> float:
    """Linear warmup over ``warmup_steps``, then linear decay to ``min_lr_ratio * learning_rate``."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, total_steps - config.warmup_steps))
    return config.learning_rate * (config.min_lr_ratio + (1 - config.min_lr_ratio) * (1 - progress))


def corpus_hash(relative: str = "corpus/sotu.parquet") -> str | None:
    """``content_sha256`` of a data file (default: the speeches) from ``data/MANIFEST.json`` (None if unavailable)."""
    try:
        from labkit.paths import data_dir

        manifest = json.loads((data_dir() / "MANIFEST.json").read_text())
        return manifest["files"][relative]["content_sha256"]
    except (OSError, KeyError, ValueError):
        return None


def _package_versions() -> dict[str, str]:
    from labkit.reproducibility import environment_report

    report = environment_report()
    return {key: report[key] for key in ("python", "torch", "transformers", "tokenizers", "accelerate", "datasets")
            if key in report}


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


def _load_texts(train_texts: Sequence[str] | None, eval_texts: Sequence[str] | None,
                corpus_name: str = "sotu") -> tuple[list[str], list[str]]:
    if train_texts is None or eval_texts is None:
        from labkit.data import load_corpus, load_sentiment

        corpus = load_corpus() if corpus_name == "sotu" else load_sentiment("movies")
        train_texts = list(corpus["train"]["text"]) if train_texts is None else train_texts
        eval_texts = list(corpus["validation"]["text"]) if eval_texts is None else eval_texts
    return list(train_texts), list(eval_texts)


def load_initial_checkpoint(config: PretrainConfig) -> tuple[Any, nn.Module]:
    """``(tokenizer, BertForPreTraining)`` of ``config.initial_checkpoint``, checked against ``config``'s shape.

    Continued (domain-adaptive) pretraining starts from these weights and keeps their tokenizer: a new
    vocabulary would make the learned embeddings meaningless.
    """
    from transformers import AutoTokenizer, BertForPreTraining

    from labkit.models import resolve

    if config.kind != "bert":
        raise ValueError("initial_checkpoint is supported for BERT (kind='bert') runs")
    location = resolve(str(config.initial_checkpoint))
    tokenizer = AutoTokenizer.from_pretrained(location)
    model = BertForPreTraining.from_pretrained(location, attn_implementation="sdpa", dtype=torch.float32)
    shape = {"hidden_size": model.config.hidden_size, "num_layers": model.config.num_hidden_layers,
             "num_heads": model.config.num_attention_heads, "intermediate_size": model.config.intermediate_size}
    wanted = {key: getattr(config, key) for key in shape}
    if shape != wanted:
        raise ValueError(f"{config.initial_checkpoint} has shape {shape}, but the config asks for {wanted}")
    return tokenizer, model


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD_BYTES = 64 * 1024


def limit_heap_fragmentation() -> bool:
    """Keep a long training run's memory flat on Linux (glibc); return True if the setting was applied.

    Every MLM step allocates tensors of a new size (the number of masked positions varies), tens of MB
    each. glibc raises its mmap threshold after the first such block is freed, and from then on serves
    them from heap arenas that fragment and never shrink: a tiny-bert run grew by about 10 MB per step
    (12 GB after an hour). Pinning the threshold at 64 KB sends large blocks to mmap, which returns them
    to the system when freed (measured: flat at about 1 GB). Elsewhere this does nothing.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return False


def pretrain(
    config: PretrainConfig | str,
    run_dir: str | Path,
    *,
    minutes: float | None = None,
    max_steps: int | None = None,
    resume: bool = False,
    output_dir: str | Path | None = None,
    train_texts: Sequence[str] | None = None,
    eval_texts: Sequence[str] | None = None,
    threads: int | None = None,
    progress: bool = True,
    stop_after_steps: int | None = None,
    final_eval_limit: int | None = None,
    command: str | None = None,
    tokenizer: Any = None,
    print_metrics: bool = True,
) -> PretrainResult:
    """Pretrain a BERT (MLM + NSP) or GPT (causal LM) from scratch; resumable.

    ``run_dir`` holds the tokenizer, ``state.pt`` (model, optimizer, data cursor: written atomically
    every ``checkpoint_every_s`` seconds and at the end) and ``log.csv``. The schedule length is
    ``max_steps``, or, with ``minutes``, estimated from the speed of the first 20 steps and re-estimated
    at every evaluation from the recent speed, so the run ends on time on a shared machine (the
    learning-rate schedule then follows the time budget; with ``max_steps`` it is a pure function of the
    step). ``resume=True`` continues from ``state.pt`` and gives the same weights as an uninterrupted
    run (with ``max_steps``). Without a progress bar (``progress=False``) each evaluation is printed as
    a JSON line unless ``print_metrics=False``. ``stop_after_steps`` simulates an interruption (for
    tests). With ``output_dir`` the final model is exported there as a transformers checkpoint (float16
    safetensors + tokenizer + ``training.json`` + ``training_log.csv``).

    ``train_texts``/``eval_texts`` default to the corpus's train/validation speeches. ``tokenizer``
    reuses an existing tokenizer instead of training one (``tokenizers``' WordPiece trainer breaks ties
    between equally frequent pieces differently from run to run, so two trainings can differ by a few
    vocabulary entries; a run's tokenizer is saved with it, and that saved tokenizer is what counts).
    """
    from accelerate import Accelerator
    from tqdm.auto import tqdm

    config = get_preset(config) if isinstance(config, str) else config
    if minutes is None and max_steps is None:
        raise ValueError("give minutes or max_steps (how long to train)")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"max_steps must be positive, got {max_steps}")
    if minutes is not None and minutes <= 0:
        raise ValueError(f"minutes must be positive, got {minutes}")
    if threads is not None:
        torch.set_num_threads(threads)
    limit_heap_fragmentation()
    run_dir = Path(run_dir)
    state_path = run_dir / "state.pt"
    if resume and not state_path.is_file():
        raise FileNotFoundError(f"--resume: no checkpoint at {state_path}")
    if not resume and state_path.is_file():
        raise FileExistsError(f"{state_path} exists: pass resume=True (--resume) or use another run folder")
    run_dir.mkdir(parents=True, exist_ok=True)

    accelerator = Accelerator()
    train_texts, eval_texts = _load_texts(train_texts, eval_texts, config.corpus)
    from transformers import AutoTokenizer

    tokenizer_dir = run_dir / "tokenizer"
    initial_model = None
    if config.initial_checkpoint is not None:
        initial_tokenizer, initial_model = load_initial_checkpoint(config)
        tokenizer = tokenizer or initial_tokenizer
    if resume:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    elif tokenizer is not None:
        if accelerator.is_main_process:
            tokenizer.save_pretrained(tokenizer_dir)
    else:
        trainer = train_wordpiece_tokenizer if config.kind == "bert" else train_bpe_tokenizer
        tokenizer = trainer(train_texts, vocab_size=config.vocab_size)
        if accelerator.is_main_process:
            tokenizer.save_pretrained(tokenizer_dir)
    data_class = BertData if config.kind == "bert" else GPTData
    data = data_class(tokenizer, train_texts, eval_texts, config)
    evaluate: Callable[..., dict[str, float]] = (
        partial(evaluate_bert, next_sentence_prediction=config.next_sentence_prediction)
        if config.kind == "bert" else evaluate_gpt)

    if initial_model is not None:  # continued pretraining: start from the given weights
        model = initial_model
    else:
        model = build_model(config, tokenizer)
        if config.kind == "bert" and config.init_bias_unigram:
            init_unigram_bias(model, data.train_docs)
    eval_small = data.eval_batches(limit=config.eval_instances)
    state: dict[str, Any] | None = torch.load(state_path, weights_only=False) if resume else None
    if state is None:
        untrained = evaluate(model, data.eval_batches(limit=final_eval_limit))
    else:
        untrained = state["untrained_metrics"]
        model.load_state_dict(state["model"])

    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        (no_decay if parameter.ndim < 2 or "LayerNorm" in name or "ln_" in name else decay).append(parameter)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate, betas=config.adam_betas, eps=1e-8,
    )
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
    objective = (BertPretrainingObjective(model, config.next_sentence_prediction) if config.kind == "bert"
                 else CausalLMObjective(model))
    objective, optimizer = accelerator.prepare(objective, optimizer)
    objective.train()

    step = state["step"] if state else 0
    epoch, batch_index = (state["epoch"], state["batch_index"]) if state else (0, 0)
    total_steps = state["total_steps"] if state else max_steps
    elapsed = state["elapsed"] if state else 0.0
    tokens_seen = state["tokens_seen"] if state else 0
    log: list[dict[str, float]] = state["log"] if state else []
    start_time = time.perf_counter() - elapsed
    last_save = time.perf_counter()
    ranks = accelerator.num_processes
    bar = tqdm(total=total_steps, initial=step, disable=not (progress and accelerator.is_main_process),
               desc=config.name, unit="step", dynamic_ncols=True, mininterval=2.0)
    running: dict[str, float] = {}
    interrupted = False
    speed_mark: tuple[int, float] | None = None
    if minutes is not None and state is not None:
        total_steps = state["total_steps"]  # re-estimated at the next evaluation

    def save_state() -> None:
        if accelerator.is_main_process:
            save_torch_atomically(
                {
                    "model": accelerator.unwrap_model(objective).model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "step": step, "epoch": epoch, "batch_index": batch_index, "total_steps": total_steps,
                    "elapsed": time.perf_counter() - start_time, "tokens_seen": tokens_seen, "log": log,
                    "untrained_metrics": untrained, "config": config.to_dict(),
                },
                state_path,
            )
            _write_log_csv(log, run_dir / "log.csv")

    while total_steps is None or step < total_steps:
        plan = data.epoch_plan(epoch)
        if batch_index + ranks > len(plan):
            epoch, batch_index = epoch + 1, 0
            continue
        step_seed = config.seed * 1_000_003 + step * 7919 + accelerator.process_index
        batch = data.train_batch(epoch, batch_index + accelerator.process_index, step_seed)
        batch_index += ranks
        batch = {key: value.to(accelerator.device) for key, value in batch.items()}
        torch.manual_seed(step_seed)  # dropout (if any) is a function of the step too
        lr = learning_rate_at(step, config, total_steps or 10**9)
        for group in optimizer.param_groups:
            group["lr"] = lr
        out = objective(**batch)
        accelerator.backward(out["loss"])
        if config.grad_clip:
            accelerator.clip_grad_norm_(objective.parameters(), config.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        tokens_seen += int(batch["input_ids"].numel()) * ranks
        for key in ("loss", "mlm_loss", "nsp_loss"):
            if key in out:
                running[key] = 0.98 * running.get(key, out[key].item()) + 0.02 * out[key].item()
        if minutes is not None and (step == 20 or (step > 20 and step % config.eval_every == 0)):
            # time budget: (re)estimate the schedule length from the recent speed (machines are shared)
            now = time.perf_counter()
            if step == 20 or speed_mark is None:
                seconds_per_step = (now - start_time) / step
            else:
                seconds_per_step = (now - speed_mark[1]) / (step - speed_mark[0])
            speed_mark = (step, now)
            remaining = minutes * 60 - (now - start_time)
            total_steps = max(config.warmup_steps + 1, step + 1, step + int(remaining / seconds_per_step))
            bar.total = total_steps
        bar.update(1)
        if step % config.eval_every == 0 or step == total_steps:
            metrics = evaluate(accelerator.unwrap_model(objective).model, eval_small)
            row = {"step": step, "tokens": tokens_seen, "seconds": round(time.perf_counter() - start_time, 1),
                   "lr": lr, **{f"train_{k}": round(v, 4) for k, v in running.items()},
                   **{f"val_{k}": v for k, v in metrics.items()}}
            log.append(row)
            bar.set_postfix({k: round(v, 3) for k, v in metrics.items() if isinstance(v, float)}, refresh=False)
            if print_metrics and not progress and accelerator.is_main_process:
                print(json.dumps(row), flush=True)
        if stop_after_steps is not None and step >= stop_after_steps and (total_steps is None or step < total_steps):
            interrupted = True
            break
        if time.perf_counter() - last_save > config.checkpoint_every_s:
            save_state()
            last_save = time.perf_counter()
    bar.close()
    save_state()
    wall = time.perf_counter() - start_time
    model = accelerator.unwrap_model(objective).model
    result = PretrainResult(model=model, tokenizer=tokenizer, config=config, steps=step,
                            total_steps=total_steps or step, wall_seconds=wall, log=log,
                            untrained_metrics=untrained, interrupted=interrupted)
    if not interrupted:
        result.final_metrics = evaluate(model, data.eval_batches(limit=final_eval_limit))
        if output_dir is not None and accelerator.is_main_process:
            export_checkpoint(result, output_dir, tokens_seen=tokens_seen, command=command)
    return result


def _write_log_csv(log: Sequence[dict[str, float]], path: Path) -> None:
    if not log:
        return
    columns = list(dict.fromkeys(key for row in log for key in row))
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(log)
    os.replace(tmp, path)


def export_checkpoint(result: PretrainResult, output_dir: str | Path, tokens_seen: int = 0,
                      command: str | None = None) -> Path:
    """Write ``result`` as a transformers checkpoint folder (atomically replacing ``output_dir``).

    Weights are stored as float16 safetensors, the config keeps ``dtype: float32`` so the Auto classes
    load the model in float32 on a CPU; ``training.json`` records command, seed, versions, corpus hash,
    steps, wall time and held-out metrics trained vs untrained; ``training_log.csv`` the metrics over steps.
    """
    import copy

    output_dir = Path(output_dir)
    staging = output_dir.with_name(output_dir.name + ".staging")
    if staging.exists():
        shutil.rmtree(staging)
    model = copy.deepcopy(result.model).to("cpu").half()
    model.save_pretrained(staging, safe_serialization=True)
    config_path = staging / "config.json"
    model_config = json.loads(config_path.read_text())
    for key in ("dtype", "torch_dtype"):
        if key in model_config:
            model_config[key] = "float32"
    config_path.write_text(json.dumps(model_config, indent=2, sort_keys=True) + "\n")
    result.tokenizer.save_pretrained(staging)
    record = {
        "name": result.config.name,
        "command": command or " ".join(sys.argv),
        "seed": result.config.seed,
        "preset": result.config.to_dict(),
        "parameters": count_parameters(result.model).total,
        "steps": result.steps,
        "tokens_seen": tokens_seen,
        "wall_seconds": round(result.wall_seconds, 1),
        "threads": torch.get_num_threads(),
        "versions": _package_versions(),
        "corpus": {"file": CORPORA[result.config.corpus][0], "content_sha256": corpus_hash(CORPORA[result.config.corpus][0]),
                   "train_documents": CORPORA[result.config.corpus][1],
                   "held_out_documents": CORPORA[result.config.corpus][2]},
        "held_out_metrics": {"trained": result.final_metrics, "untrained": result.untrained_metrics},
    }
    if result.config.initial_checkpoint is not None:
        from labkit.models import resolve

        weights = Path(resolve(result.config.initial_checkpoint)) / "model.safetensors"
        record["initial_checkpoint"] = {"name": result.config.initial_checkpoint,
                                        "model_safetensors_sha256": file_sha256(weights) if weights.is_file() else None}
    (staging / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    _write_log_csv(result.log, staging / "training_log.csv")
    if output_dir.exists():
        old = output_dir.with_name(output_dir.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(output_dir, old)
        os.replace(staging, output_dir)
        shutil.rmtree(old)
    else:
        output_dir.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, output_dir)
    return output_dir


def shipped_checkpoint(name: str) -> Path:
    """The folder of a shipped checkpoint (``data/checkpoints/<name>``), whether or not it exists yet."""
    from labkit.paths import data_dir

    return data_dir() / "checkpoints" / name


def shipped_record(name_or_path: str | Path) -> dict[str, Any]:
    """The ``training.json`` of a shipped checkpoint (by registry name or folder)."""
    path = Path(name_or_path)
    folder = path if path.is_dir() else shipped_checkpoint(str(name_or_path))
    if not (folder / "training.json").is_file():
        raise FileNotFoundError(f"no training.json in {folder}: train it with `labkit pretrain --preset ...`")
    return json.loads((folder / "training.json").read_text())


def config_from_checkpoint(name_or_path: str | Path) -> PretrainConfig:
    """The :class:`PretrainConfig` a shipped checkpoint was trained with (from its ``training.json``)."""
    preset = dict(shipped_record(name_or_path)["preset"])
    preset["adam_betas"] = tuple(preset["adam_betas"])
    return PretrainConfig(**preset)


def load_training_log(name_or_path: str | Path) -> list[dict[str, float]]:
    """The metrics logged while a shipped checkpoint trained (``training_log.csv``) as a list of rows."""
    path = Path(name_or_path)
    if not path.suffix:
        path = (shipped_checkpoint(str(name_or_path)) if not path.is_dir() else path) / "training_log.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no training log at {path}")
    return list(iter_log(path))


def iter_log(path: str | Path) -> Iterator[dict[str, float]]:
    """Rows of a ``training_log.csv`` as dicts of floats (empty cells skipped)."""
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            yield {key: float(value) for key, value in row.items() if value not in ("", None)}
