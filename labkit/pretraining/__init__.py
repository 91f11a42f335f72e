"""Pretraining our own tiny BERT (masked LM + next-sentence prediction) and tiny GPT (causal LM).

Everything a learner needs to see the data pipeline, and everything the ``labkit pretrain`` command
needs to train and ship a checkpoint, one concept per file:

* ``sentences``: documents split into sentences (:func:`split_sentences`) and tokenised
  (:func:`tokenize_documents`);
* ``tokenizer_training``: tokenizers trained on the corpus with the ``tokenizers`` library, an uncased
  WordPiece for BERT (:func:`train_wordpiece_tokenizer`) and a byte-level BPE for GPT
  (:func:`train_bpe_tokenizer`);
* ``nsp``: next-sentence-prediction pairs built the way BERT builds them (:func:`make_nsp_instances`):
  half the time segment B is the true continuation of A, half the time it comes from a *different*
  document; single-segment instances for MLM only (:func:`make_single_segment_instances`);
* ``masking``: MLM masking (:func:`mask_tokens`): 15% of the non-special tokens are selected; 80% of
  those become ``[MASK]``, 10% a random non-special token, 10% stay as they are; the loss counts
  selected tokens only;
* ``batching``: padded NSP batches (:func:`collate_nsp`), length buckets (:func:`bucket_batches`),
  GPT blocks without padding (:func:`pack_blocks`);
* ``objectives``: the losses; the fast one (:class:`BertPretrainingObjective`) computes the vocabulary
  projection only at the selected positions (``(masked, vocab)`` instead of ``(batch, seq, vocab)``);
* ``metrics``: held-out MLM/NSP accuracy and perplexity (:func:`evaluate_bert`, :func:`evaluate_gpt`);
* ``corpora`` and ``presets``: where the text comes from (:data:`CORPORA`), what defines a run
  (:class:`PretrainConfig`) and the named recipes (:data:`PRESETS`): ``tiny-bert`` and ``tiny-gpt``
  (what the kit ships, sized for a 2-core CPU), ``tiny-bert-movies`` (continued, domain-adaptive
  pretraining of tiny-bert with MLM only on movie-review sentences) and larger ones for GPUs;
* ``initialisation``: a fresh model (:func:`build_model`), its unigram output bias, or the weights of
  an existing checkpoint (:func:`load_initial_checkpoint`);
* ``run_data``: a run's tokenised documents and per-epoch batch plans (:class:`BertData`, :class:`GPTData`);
* ``schedule``, ``memory``, ``options``, ``state`` and ``loop``: the resumable training loop
  (:func:`pretrain`, run through Hugging Face Accelerate) with its learning-rate schedule and time
  budget, its options (:class:`PretrainOptions`), its state (:class:`PretrainState`) and its result;
* ``checkpoints``: ``state.pt`` for exact resume, the exported checkpoint with ``training.json``, and
  reading the shipped ones back (:func:`shipped_record`, :func:`config_from_checkpoint`).

The models are plain ``transformers`` classes (``BertForPreTraining``, ``GPT2LMHeadModel``): the fast
objective calls their own sub-modules, so a trained model is saved with ``save_pretrained`` and loads
with the Auto classes, with no conversion step.

Shapes in docstrings are named: ``(batch, seq)`` token ids, ``(batch, seq, vocab)`` logits,
``(masked, vocab)`` the logits at the ``masked`` selected positions of a batch.
"""

from __future__ import annotations

from labkit.files import file_sha256  # the hash training.json records for an initial checkpoint
from labkit.pretraining.batching import bucket_batches, collate_nsp, pack_blocks
from labkit.pretraining.checkpoints import (
    config_from_checkpoint,
    export_checkpoint,
    iter_log,
    load_training_log,
    load_training_state,
    save_training_state,
    shipped_checkpoint,
    shipped_record,
    training_record,
    write_log_csv,
)
from labkit.pretraining.corpora import CORPORA, corpus_hash, corpus_texts
from labkit.pretraining.initialisation import build_model, init_unigram_bias, load_initial_checkpoint
from labkit.pretraining.loop import pretrain
from labkit.pretraining.masking import (
    IGNORE_INDEX,
    format_masked,
    mask_tokens,
    replacement_ids_for,
    special_tokens_mask_for,
)
from labkit.pretraining.memory import M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES, limit_heap_fragmentation
from labkit.pretraining.metrics import evaluate_bert, evaluate_gpt
from labkit.pretraining.nsp import IS_NEXT, NOT_NEXT, NSPInstance, make_nsp_instances, make_single_segment_instances
from labkit.pretraining.objectives import BertPretrainingObjective, CausalLMObjective
from labkit.pretraining.options import PretrainOptions
from labkit.pretraining.presets import PRESETS, PretrainConfig, get_preset
from labkit.pretraining.run_data import BertData, GPTData
from labkit.pretraining.schedule import learning_rate_at
from labkit.pretraining.sentences import split_sentences, tokenize_documents
from labkit.pretraining.state import PretrainResult, PretrainState
from labkit.pretraining.tokenizer_training import (
    BERT_SPECIAL_TOKENS,
    GPT_END_OF_TEXT,
    train_bpe_tokenizer,
    train_wordpiece_tokenizer,
)

__all__ = [
    "BERT_SPECIAL_TOKENS",
    "CORPORA",
    "GPT_END_OF_TEXT",
    "IGNORE_INDEX",
    "IS_NEXT",
    "MMAP_THRESHOLD_BYTES",
    "M_MMAP_THRESHOLD",
    "NOT_NEXT",
    "PRESETS",
    "BertData",
    "BertPretrainingObjective",
    "CausalLMObjective",
    "GPTData",
    "NSPInstance",
    "PretrainConfig",
    "PretrainOptions",
    "PretrainResult",
    "PretrainState",
    "bucket_batches",
    "build_model",
    "collate_nsp",
    "config_from_checkpoint",
    "corpus_hash",
    "corpus_texts",
    "evaluate_bert",
    "evaluate_gpt",
    "export_checkpoint",
    "file_sha256",
    "format_masked",
    "get_preset",
    "init_unigram_bias",
    "iter_log",
    "learning_rate_at",
    "limit_heap_fragmentation",
    "load_initial_checkpoint",
    "load_training_log",
    "load_training_state",
    "make_nsp_instances",
    "make_single_segment_instances",
    "mask_tokens",
    "pack_blocks",
    "pretrain",
    "replacement_ids_for",
    "save_training_state",
    "shipped_checkpoint",
    "shipped_record",
    "special_tokens_mask_for",
    "split_sentences",
    "tokenize_documents",
    "train_bpe_tokenizer",
    "train_wordpiece_tokenizer",
    "training_record",
    "write_log_csv",
]
