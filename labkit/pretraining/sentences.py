"""Documents into sentences, and sentences into token ids: the raw material of NSP pairs.

A document (a speech, a review) becomes a list of sentences, each a list of token ids:
``documents[d][s]`` is sentence ``s`` of document ``d``. Next-sentence prediction needs these
boundaries: a positive pair is two runs of consecutive sentences of one document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9])")


def split_sentences(text: str) -> list[str]:
    """Split a text into sentences at ``.``, ``!`` or ``?`` followed by space and a capital or digit.

    Deliberately simple (no abbreviation list): for NSP it only matters that segments end at
    plausible boundaries. Empty pieces are dropped.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return [piece.strip() for piece in _SENTENCE_END.split(text) if piece.strip()]


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
