"""Where pretraining text comes from: the corpora a preset can name, their texts and their fingerprints.

``sotu`` is the State of the Union speeches (documents of many sentences: what NSP needs); ``movies``
is the text of the sentiment task's training sentences (no labels), for domain-adaptive pretraining.
"""

from __future__ import annotations

from collections.abc import Sequence

from labkit.errors import LabkitError
from labkit.files import read_data_manifest

# name -> (data file, what the train texts are, what the held-out texts are)
CORPORA: dict[str, tuple[str, str, str]] = {
    "sotu": ("corpus/sotu.parquet", "labkit.data.load_corpus()['train']", "labkit.data.load_corpus()['validation']"),
    "movies": ("sentiment/movies.parquet", "labkit.data.load_sentiment('movies')['train'] (text only, no labels)",
               "labkit.data.load_sentiment('movies')['validation'] (text only)"),
}


def corpus_texts(corpus_name: str = "sotu", train_texts: Sequence[str] | None = None,
                 eval_texts: Sequence[str] | None = None) -> tuple[list[str], list[str]]:
    """``(train texts, held-out texts)``: those given, and the corpus's train/validation texts for the others."""
    if train_texts is None or eval_texts is None:
        from labkit.data import load_corpus, load_sentiment

        corpus = load_corpus() if corpus_name == "sotu" else load_sentiment("movies")
        train_texts = list(corpus["train"]["text"]) if train_texts is None else train_texts
        eval_texts = list(corpus["validation"]["text"]) if eval_texts is None else eval_texts
    return list(train_texts), list(eval_texts)


def corpus_hash(relative: str = "corpus/sotu.parquet") -> str | None:
    """``content_sha256`` of a data file (default: the speeches) from ``data/MANIFEST.json`` (None if unavailable)."""
    try:
        return read_data_manifest()["files"][relative]["content_sha256"]
    except (LabkitError, OSError, KeyError, ValueError):
        return None
