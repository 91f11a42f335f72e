"""Training a tokenizer on the corpus: an uncased WordPiece for BERT, a byte-level BPE for GPT.

Both use the ``tokenizers`` library and return the matching ``transformers`` fast tokenizer, so a
trained tokenizer is saved with ``save_pretrained`` and loads with ``AutoTokenizer``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from labkit.errors import ConfigError, DatasetError

BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
GPT_END_OF_TEXT = "<|endoftext|>"


def _check_texts(texts: Sequence[str]) -> list[str]:
    texts = list(texts)
    if not texts:
        raise DatasetError("need at least one text to train a tokenizer on")
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
        raise ConfigError(f"vocab_size must be at least 100, got {vocab_size}")
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
        raise ConfigError(f"vocab_size must be at least 300 (256 bytes + merges), got {vocab_size}")
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
