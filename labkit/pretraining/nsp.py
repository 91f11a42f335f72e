"""Next-sentence-prediction pairs, built the way BERT's ``create_pretraining_data`` builds them.

An instance is two segments A and B of token ids. Half the time B is the true continuation of A in
the same document (label ``IS_NEXT``), half the time it comes from a *different* document
(``NOT_NEXT``). For MLM-only pretraining on short texts there is also the single-segment instance
(``[CLS] A [SEP]``, B empty).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from labkit.errors import ConfigError, DatasetError

IS_NEXT, NOT_NEXT = 0, 1  # NSP labels, as in transformers: 0 = B continues A, 1 = B is random

Documents = Sequence[Sequence[Sequence[int]]]  # documents[d][s] = token ids of sentence s of document d


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


@dataclass
class _PairBuilder:
    """What cutting chunks of sentences into (A, B) pairs needs: the documents, the random draws, the sizes."""

    documents: Documents
    usable: list[int]  # indices of the documents that have sentences (where a negative B may come from)
    rng: random.Random
    max_tokens: int  # max_length minus [CLS], [SEP], [SEP]
    short_seq_prob: float
    random_next_prob: float

    def target_length(self) -> int:
        """How many tokens the next chunk collects: ``max_tokens``, or (``short_seq_prob``) fewer."""
        if self.rng.random() >= self.short_seq_prob:
            return self.max_tokens
        return self.rng.randint(2, self.max_tokens)

    def random_segment(self, doc_index: int, wanted_tokens: int) -> tuple[list[int], int, tuple[int, int]]:
        """Consecutive sentences of a random *other* document, until ``wanted_tokens`` are collected.

        Returns ``(tokens, document index, (first sentence, last sentence exclusive))``.
        """
        other = doc_index
        while other == doc_index:
            other = self.usable[self.rng.randrange(len(self.usable))]
        sentences = self.documents[other]
        start = stop = self.rng.randrange(len(sentences))
        tokens: list[int] = []
        while stop < len(sentences) and len(tokens) < wanted_tokens:
            tokens.extend(sentences[stop])
            stop += 1
        return tokens, other, (start, stop)

    def pair(self, doc_index: int, chunk: list[int], target: int) -> tuple[NSPInstance | None, int]:
        """Cut ``chunk`` (sentence indices of document ``doc_index``) into A and B.

        Returns the instance (None if a segment ended up empty) and how many sentences at the end of
        the chunk went unused (a negative keeps only A; the caller puts those sentences back).
        """
        document = self.documents[doc_index]
        a_end = self.rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
        tokens_a = [token for sentence in chunk[:a_end] for token in document[sentence]]
        is_random = len(chunk) == 1 or self.rng.random() < self.random_next_prob
        if is_random:
            tokens_b, doc_b, sentences_b = self.random_segment(doc_index, max(1, target - len(tokens_a)))
            unused = len(chunk) - a_end
        else:
            b_sentences = chunk[a_end:]
            tokens_b = [token for sentence in b_sentences for token in document[sentence]]
            doc_b, sentences_b, unused = doc_index, (b_sentences[0], b_sentences[-1] + 1), 0
        _truncate_pair(tokens_a, tokens_b, self.max_tokens)
        if not (tokens_a and tokens_b):
            return None, unused
        instance = NSPInstance(tokens_a=tokens_a, tokens_b=tokens_b, is_random_next=is_random, doc_a=doc_index,
                               doc_b=doc_b, sentences_a=(chunk[0], chunk[a_end - 1] + 1), sentences_b=sentences_b)
        return instance, unused


def make_nsp_instances(
    documents: Documents,
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
        raise ConfigError(f"max_length must be at least 8, got {max_length}")
    usable = [index for index, document in enumerate(documents) if len(document) > 0]
    if len(usable) < 2:
        raise DatasetError("NSP needs at least two non-empty documents (negatives come from another document)")
    builder = _PairBuilder(documents, usable, rng or random.Random(0), max_length - 3, short_seq_prob,
                           random_next_prob)
    instances: list[NSPInstance] = []
    for doc_index, document in enumerate(documents):
        target = builder.target_length()
        chunk: list[int] = []  # sentence indices
        length = 0
        i = 0
        while i < len(document):
            chunk.append(i)
            length += len(document[i])
            if i == len(document) - 1 or length >= target:
                instance, unused = builder.pair(doc_index, chunk, target)
                if instance is not None:
                    instances.append(instance)
                i -= unused  # a negative's unused sentences start the next chunk
                chunk, length = [], 0
                target = builder.target_length()
            i += 1
    return instances


def make_single_segment_instances(documents: Documents, max_length: int = 128) -> list[NSPInstance]:
    """One MLM-only instance per document: its sentences joined, cut to ``max_length - 2`` tokens.

    For pretraining without next-sentence prediction on short texts (a review sentence, a tweet), where
    there are no sentence pairs to predict. Segment B is empty; the instance is ``[CLS] A [SEP]``.
    Documents without tokens are skipped.
    """
    if max_length < 8:
        raise ConfigError(f"max_length must be at least 8, got {max_length}")
    instances = []
    for index, document in enumerate(documents):
        tokens = [token for sentence in document for token in sentence][: max_length - 2]
        if tokens:
            instances.append(NSPInstance(tokens_a=tokens, tokens_b=[], is_random_next=False, doc_a=index,
                                         doc_b=index, sentences_a=(0, len(document)),
                                         sentences_b=(len(document), len(document))))
    return instances
