"""The TextGCN corpus graph (Yao, Mao & Luo, AAAI 2019), built sparse and readable.

One node per document and one per word of the vocabulary; nodes ``0 .. n_documents-1`` are the
documents (in the order given), nodes ``n_documents ..`` the words (in vocabulary order). Edges:

* document - word: TF-IDF of the word in the document, as the paper's code computes it:
  ``tf`` = how many times the word occurs in the document (a raw count), ``idf = log(n_documents / df)``
  with ``df`` the number of documents that contain it (no smoothing; a word in every document gets 0,
  so no edge);
* word - word: positive pointwise mutual information over sliding windows of ``window`` words (20 in
  the paper): ``PMI(i, j) = log(p(i, j) / (p(i) p(j)))`` with ``p(i) = #W(i) / #W`` and
  ``p(i, j) = #W(i, j) / #W``, where ``#W`` is the number of windows, ``#W(i)`` the windows that contain
  word i and ``#W(i, j)`` the windows that contain both (the paper's definition; its released code
  counts every pair of *positions* instead, so a word repeated in a window counts several times).
  A document shorter than the window is one window. Only positive PMI makes an edge;
* self-loops, and the symmetric normalisation ``Ã = D^-1/2 (A + I) D^-1/2`` with ``D`` the row sums
  of ``A + I`` (Kipf & Welling 2017; the paper's ``A`` already has ones on its diagonal).

Cleaning follows the paper's preprocessing, with one substitution: the paper removes NLTK's English
stop words, which are not available offline here, so this module removes **scikit-learn's** English
stop-word list (``sklearn.feature_extraction.text.ENGLISH_STOP_WORDS``, 318 words against NLTK's 179;
it also drops words NLTK keeps, such as "system", "fire", "bill" and "interest", the name of one of
Reuters R8's eight classes). Words seen fewer than
``min_count`` times in the whole corpus (5 in the paper) are removed too. For the movie-review data
(MR, short sentences) the paper removes neither: ``SHORT_TEXT_SETTINGS``.

Everything stays in ``scipy.sparse``: a dense ``N x N`` matrix of 20 Newsgroups' ~60,000 nodes would
take 14 GB in float32.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from labkit.errors import ConfigError, DatasetError

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@dataclass(frozen=True)
class GraphSettings:
    """How the corpus graph is built (the defaults are the paper's for 20NG, R8, R52 and Ohsumed)."""

    window: int = 20
    """Sliding-window length in words for the PMI counts (paper: 20)."""
    min_count: int = 5
    """Words seen fewer times than this in the whole corpus are dropped (paper: 5; 1 keeps every word)."""
    remove_stop_words: bool = True
    """Drop scikit-learn's English stop words (the paper drops NLTK's, which are not available offline)."""

    def __post_init__(self) -> None:
        if not isinstance(self.window, int) or self.window < 2:
            raise ConfigError(f"window must be a whole number of at least 2 words, got {self.window!r}")
        if not isinstance(self.min_count, int) or self.min_count < 1:
            raise ConfigError(f"min_count must be a whole number of at least 1, got {self.min_count!r}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


PAPER_SETTINGS = GraphSettings()
"""The paper's preprocessing for long documents (20NG, R8, R52, Ohsumed)."""
SHORT_TEXT_SETTINGS = GraphSettings(min_count=1, remove_stop_words=False)
"""The paper's preprocessing for MR (one-sentence movie reviews): no stop-word or rare-word removal."""


def tokenize(text: str) -> list[str]:
    """Lowercase words: runs of letters and digits, keeping an apostrophe inside a word (``don't``)."""
    return _WORD.findall(text.lower())


def stop_words() -> frozenset[str]:
    """scikit-learn's English stop-word list (the offline stand-in for the paper's NLTK list)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def clean_documents(texts: Sequence[str], settings: GraphSettings = PAPER_SETTINGS) -> tuple[list[list[str]],
                                                                                              list[str]]:
    """Tokenise ``texts``, drop stop words and rare words; return the word lists and the sorted vocabulary.

    Counts for ``min_count`` are over the whole corpus (every document given, whatever its split), as
    in the paper. Raises ``DatasetError`` for an empty corpus or one with no word left.
    """
    if isinstance(texts, str):
        raise DatasetError("texts must be a list of documents, not one string")
    if len(texts) == 0:
        raise DatasetError("the corpus is empty: a graph needs at least one document")
    bad = [index for index, text in enumerate(texts) if not isinstance(text, str)]
    if bad:
        raise DatasetError(f"{len(bad)} document(s) are not text (the first at position {bad[0]})")
    removed = stop_words() if settings.remove_stop_words else frozenset()
    documents = [[word for word in tokenize(text) if word not in removed] for text in texts]
    counts = Counter(word for document in documents for word in document)
    vocabulary = sorted(word for word, count in counts.items() if count >= settings.min_count)
    if not vocabulary:
        raise DatasetError(f"no word occurs at least {settings.min_count} times in the corpus of {len(texts)} "
                           "document(s) (after removing stop words): there is nothing to build a graph on")
    kept = set(vocabulary)
    return [[word for word in document if word in kept] for document in documents], vocabulary


def word_ids(documents: Sequence[Sequence[str]], vocabulary: Sequence[str] | dict[str, int]) -> list[np.ndarray]:
    """Each document as an int array of vocabulary indices (words outside ``vocabulary`` are skipped).

    ``vocabulary``: the words in index order, or an already built ``{word: index}`` mapping.
    """
    index = vocabulary if isinstance(vocabulary, dict) else {word: i for i, word in enumerate(vocabulary)}
    return [np.fromiter((index[w] for w in document if w in index), dtype=np.int64) for document in documents]


def document_frequencies(ids: Sequence[np.ndarray], n_words: int) -> np.ndarray:
    """``df``: for each word, the number of documents that contain it; shape ``(n_words,)``."""
    df = np.zeros(n_words, dtype=np.int64)
    for document in ids:
        df[np.unique(document)] += 1
    return df


def inverse_document_frequency(ids: Sequence[np.ndarray], n_words: int) -> np.ndarray:
    """``idf = log(n_documents / df)`` per word, shape ``(n_words,)`` (the paper's code; no smoothing).

    A word that no document contains (possible only with a vocabulary from elsewhere) gets 0.
    """
    df = document_frequencies(ids, n_words)
    idf = np.zeros(n_words)
    seen = df > 0
    idf[seen] = np.log(len(ids) / df[seen])
    return idf


def term_counts(ids: Sequence[np.ndarray], n_words: int) -> sp.csr_matrix:
    """Raw counts: entry ``(d, w)`` is how often word ``w`` occurs in document ``d``; ``(n_docs, n_words)``."""
    rows = np.repeat(np.arange(len(ids)), [len(document) for document in ids])
    columns = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
    counts = sp.csr_matrix((np.ones(len(columns)), (rows, columns)), shape=(len(ids), n_words))
    counts.sum_duplicates()
    return counts


def tfidf_edges(ids: Sequence[np.ndarray], n_words: int, idf: np.ndarray | None = None) -> sp.csr_matrix:
    """Document-word edge weights ``tf * idf``, sparse ``(n_docs, n_words)`` (see the module docstring).

    ``idf`` defaults to the one of these documents; pass a trained graph's ``idf`` to place new ones.
    """
    idf = inverse_document_frequency(ids, n_words) if idf is None else np.asarray(idf)
    if idf.shape != (n_words,):
        raise ConfigError(f"idf has shape {idf.shape}; expected ({n_words},), one value per word")
    weights = sp.csr_matrix(term_counts(ids, n_words).multiply(idf[None, :]))
    weights.eliminate_zeros()  # a word in every document has idf 0: no edge
    return weights


def _window_matrix(ids: Sequence[np.ndarray], window: int, n_words: int) -> sp.csr_matrix:
    """Binary ``(n_windows, n_words)``: entry 1 if the window contains the word."""
    blocks = []
    for document in ids:
        if len(document) == 0:
            continue
        if len(document) <= window:
            blocks.append(np.pad(document, (0, window - len(document)), constant_values=-1)[None, :])
        else:
            blocks.append(np.lib.stride_tricks.sliding_window_view(document, window))
    if not blocks:
        return sp.csr_matrix((0, n_words), dtype=np.int32)
    windows = np.concatenate(blocks)  # (n_windows, window), -1 pads short documents
    rows = np.repeat(np.arange(len(windows)), window)
    columns = windows.ravel()
    keep = columns >= 0
    matrix = sp.csr_matrix((np.ones(int(keep.sum()), dtype=np.int32), (rows[keep], columns[keep])),
                           shape=(len(windows), n_words))
    matrix.sum_duplicates()
    matrix.data[:] = 1  # a word repeated inside a window counts once
    return matrix


def window_counts(ids: Sequence[np.ndarray], n_words: int, window: int = 20,
                  chunk_documents: int = 1000) -> tuple[int, np.ndarray, sp.csr_matrix]:
    """``#W``, ``#W(i)`` ``(n_words,)`` and ``#W(i, j)`` (sparse ``(n_words, n_words)``, diagonal included).

    Computed as ``B.T @ B`` for the binary window-word matrix ``B``, a chunk of documents at a time, so
    that ``B`` never holds every window of a large corpus at once.
    """
    n_windows, single = 0, np.zeros(n_words, dtype=np.int64)
    pairs = sp.csr_matrix((n_words, n_words), dtype=np.int32)
    for start in range(0, len(ids), chunk_documents):
        windows = _window_matrix(ids[start:start + chunk_documents], window, n_words)
        n_windows += windows.shape[0]
        single += np.asarray(windows.sum(axis=0)).ravel()
        pairs = pairs + (windows.T.tocsr() @ windows)
    return n_windows, single, pairs.tocsr()


def ppmi_edges(ids: Sequence[np.ndarray], n_words: int, window: int = 20) -> sp.csr_matrix:
    """Word-word edge weights: positive PMI over sliding windows, sparse symmetric ``(n_words, n_words)``.

    No diagonal (a word's edge to itself is the self-loop added by ``normalize_adjacency``).
    """
    n_windows, single, pairs = window_counts(ids, n_words, window)
    pairs = sp.coo_matrix(pairs)
    off_diagonal = pairs.row != pairs.col
    rows, columns = pairs.row[off_diagonal], pairs.col[off_diagonal]
    joint = pairs.data[off_diagonal].astype(np.float64)
    pmi = np.log(joint * n_windows / (single[rows].astype(np.float64) * single[columns]))
    positive = pmi > 0
    return sp.csr_matrix((pmi[positive].astype(np.float32), (rows[positive], columns[positive])),
                         shape=(n_words, n_words))


def normalize_adjacency(adjacency: sp.spmatrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """``D^-1/2 (A + I) D^-1/2`` for a symmetric sparse ``A`` ``(N, N)``; returns it and the degrees ``(N,)``.

    The degrees are the row sums of ``A + I`` (so every node has degree at least 1). Float32, CSR.
    """
    if adjacency.ndim != 2 or adjacency.shape[0] != adjacency.shape[1]:
        raise ConfigError(f"an adjacency matrix must be square, got shape {adjacency.shape}")
    if not sp.issparse(adjacency):
        raise ConfigError("normalize_adjacency takes a scipy.sparse matrix (a dense N x N one is what it avoids)")
    with_loops = (sp.csr_matrix(adjacency, dtype=np.float64) + sp.identity(adjacency.shape[0], format="csr"))
    degrees = np.asarray(with_loops.sum(axis=1)).ravel()
    if (degrees <= 0).any():
        raise ConfigError("negative edge weights leave a node without positive degree")
    scale = sp.diags(1.0 / np.sqrt(degrees))
    return sp.csr_matrix(scale @ with_loops @ scale, dtype=np.float32), degrees


@dataclass
class CorpusGraph:
    """A built TextGCN graph: the normalised adjacency and what is needed to place new documents.

    ``adjacency``: ``Ã``, sparse CSR float32 ``(n_nodes, n_nodes)``, documents first, then words.
    ``degrees``: row sums of ``A + I`` ``(n_nodes,)``. ``idf``: ``(n_words,)``.
    """

    adjacency: sp.csr_matrix
    degrees: np.ndarray
    n_documents: int
    vocabulary: list[str]
    idf: np.ndarray
    settings: GraphSettings
    document_word_edges: int
    word_word_edges: int
    seconds: float
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return self.adjacency.shape[0]

    @property
    def n_words(self) -> int:
        return len(self.vocabulary)

    def summary(self) -> dict[str, Any]:
        """Sizes and settings, for a record or a printout (no arrays)."""
        return {"documents": self.n_documents, "words": self.n_words, "nodes": self.n_nodes,
                "document_word_edges": self.document_word_edges, "word_word_edges": self.word_word_edges,
                "stored_entries": int(self.adjacency.nnz), "build_seconds": self.seconds,
                **self.settings.as_dict(), **self.stats}


def build_corpus_graph(texts: Sequence[str], settings: GraphSettings = PAPER_SETTINGS) -> CorpusGraph:
    """The TextGCN graph of ``texts`` (every split: the graph is transductive); see the module docstring.

    ``word_word_edges`` counts unordered word pairs with positive PMI, ``document_word_edges`` the
    document-word pairs with a non-zero TF-IDF weight.
    """
    start = time.perf_counter()
    documents, vocabulary = clean_documents(texts, settings)
    ids = word_ids(documents, vocabulary)
    n_docs, n_words = len(ids), len(vocabulary)
    idf = inverse_document_frequency(ids, n_words)
    doc_word = tfidf_edges(ids, n_words, idf).astype(np.float32)
    word_word = ppmi_edges(ids, n_words, settings.window)
    adjacency = sp.bmat([[None, doc_word], [doc_word.T, word_word]], format="csr",
                        dtype=np.float32)
    if adjacency.shape != (n_docs + n_words, n_docs + n_words):  # bmat drops an all-empty block row
        adjacency.resize((n_docs + n_words, n_docs + n_words))
    normalised, degrees = normalize_adjacency(adjacency)
    empty = sum(1 for document in ids if len(document) == 0)
    return CorpusGraph(normalised, degrees, n_docs, vocabulary, idf, settings, int(doc_word.nnz),
                       int(word_word.nnz // 2), time.perf_counter() - start,
                       {"documents_without_words": empty,
                        "mean_words_per_document": float(np.mean([len(d) for d in ids])) if ids else math.nan})
