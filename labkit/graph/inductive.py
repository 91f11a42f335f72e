"""Classifying a *new* document with a trained TextGCN, without rebuilding the graph (an inductive variant).

TextGCN is transductive: the test documents are nodes of the graph it trains on (their labels hidden),
and a document that was not in the graph has no node, no learnt first-layer vector and no edges. The
exact way to classify new text is to rebuild the graph with it and retrain (the cost of a whole run).

The cheap way, implemented here, places a new document ``d`` by its words alone, as if it were one
more document node: its edges are the TF-IDF weights ``a_dj`` of its words (the trained graph's
``idf``; unknown words are ignored), its degree is ``deg_d = 1 + Σ_j a_dj`` (the self-loop counts), and
its normalised edges are ``Ã_dj = a_dj / sqrt(deg_d · deg_j)`` with the word degrees ``deg_j`` of the
trained graph (one more document would change them by very little; they are kept). Then the two
layers, through the trained weights:

    h_d = ReLU(Σ_j Ã_dj W0[j])                   its own one-hot row has no trained weight: left out
    z_d = (1 / deg_d) · h_d W1 + Σ_j Ã_dj (H[j] W1)   H[j]: the trained graph's hidden vector of word j

So a document is classified by the trained vectors of its words, at the cost of two sparse-times-dense
products, without touching the graph. A document none of whose words is in the vocabulary gets all-zero
logits (uniform probabilities). What this gives up against the transductive model is measured, not
assumed: ``labkit.selection`` records it for the test documents, and ``unseen_test_accuracy`` trains on
a graph that never saw the test documents at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from labkit.errors import DatasetError
from labkit.graph.corpus_graph import GraphSettings, tfidf_edges, tokenize, word_ids


@dataclass
class InductiveTextGCN:
    """A trained TextGCN's word side, enough to classify new documents (``predict_proba``).

    ``word_first`` ``(n_words, hidden)``: the first layer's weight rows of the word nodes (``W0[j]``);
    ``word_output`` ``(n_words, n_classes)``: ``H[j] W1`` for every word; ``second_weight``
    ``(hidden, n_classes)``: ``W1``; ``word_degrees`` ``(n_words,)``; ``idf`` ``(n_words,)``.
    """

    vocabulary: list[str]
    idf: np.ndarray
    word_degrees: np.ndarray
    word_first: np.ndarray
    word_output: np.ndarray
    second_weight: np.ndarray
    label_names: list[str]
    settings: GraphSettings

    def __post_init__(self) -> None:
        self._index = {word: i for i, word in enumerate(self.vocabulary)}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_index", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.__post_init__()

    def document_edges(self, texts: Sequence[str]) -> tuple[sp.csr_matrix, np.ndarray]:
        """New documents' normalised edges to the words ``Ã_dj`` ``(n, n_words)`` and degrees ``(n,)``."""
        if isinstance(texts, str):
            raise DatasetError("predict_proba takes a list of texts, not one string")
        documents = [tokenize(text) for text in texts]  # stop words are not in the vocabulary when removed
        ids = word_ids(documents, self._index)
        weights = tfidf_edges(ids, len(self.vocabulary), self.idf)
        degrees = 1.0 + np.asarray(weights.sum(axis=1)).ravel()
        scaled = sp.diags(1.0 / np.sqrt(degrees)) @ weights @ sp.diags(1.0 / np.sqrt(self.word_degrees))
        return sp.csr_matrix(scaled), degrees

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Class scores ``(n, n_classes)`` for new documents (the formulas in the module docstring)."""
        edges, degrees = self.document_edges(texts)
        hidden = np.maximum(edges @ self.word_first, 0.0)
        return (hidden @ self.second_weight) / degrees[:, None] + edges @ self.word_output

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` (softmax of ``logits``)."""
        scores = self.logits(list(texts))
        scores = scores - scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)


def unseen_test_accuracy(dataset: Any, *, text_column: str = "text", label_column: str = "label",
                         graph_settings: GraphSettings | None = None, seed: int = 0,
                         progress: bool = False, **training: Any) -> dict[str, Any]:
    """The honest inductive test: a graph of the train and validation documents only, test placed by words.

    Trains TextGCN on a graph that never contained the test documents (so their words' vectors were
    learnt without them, and words only they use are unknown), then classifies every test document
    with ``InductiveTextGCN``. Returns its test accuracy, the vocabulary, and the share of test
    documents with no known word. Compare with the transductive model's test accuracy of the same seed.
    """
    from labkit.graph.training import train_textgcn

    result = train_textgcn(dataset, text_column=text_column, label_column=label_column,
                           graph_settings=graph_settings, seed=seed, progress=progress, test_in_graph=False,
                           **training)
    model: InductiveTextGCN = result.model
    texts = list(dataset["test"][text_column])
    edges, _ = model.document_edges(texts)
    no_known_word = float((edges.getnnz(axis=1) == 0).mean())
    return {"accuracy": result.test_accuracy, "seed": seed, "vocabulary": len(model.vocabulary),
            "test_documents_without_known_word": no_known_word, "epochs": int(result.config["epochs_run"]),
            "train_seconds": result.train_seconds, "result": result}


def unseen_test_runs(dataset: Any, output_file: Any, seeds: Sequence[int], *, task_name: str | None = None,
                     log: Any = print) -> list[dict[str, Any]]:
    """``unseen_test_accuracy`` for each seed, kept in the JSON list ``output_file`` (resumable: a seed
    already in the file is skipped; the file is rewritten atomically after each seed). Returns its rows."""
    import json
    from pathlib import Path

    from labkit.files import write_json_atomically
    from labkit.graph.training import graph_settings_for

    path = Path(output_file)
    rows = json.loads(path.read_text()) if path.is_file() else []
    for seed in seeds:
        if any(row["seed"] == seed for row in rows):
            log(f"seed {seed}: already done, skipped")
            continue
        row = unseen_test_accuracy(dataset, graph_settings=graph_settings_for(task_name), seed=seed)
        row.pop("result")
        rows = sorted([*rows, {"task": task_name, **row}], key=lambda item: item["seed"])
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomically(path, rows)
        log(f"seed {seed}: test accuracy {row['accuracy']:.4f} with the test documents outside the graph")
    return rows
