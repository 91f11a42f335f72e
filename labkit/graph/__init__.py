"""Graph-based text classification: the TextGCN corpus graph, the GCN, training and new documents.

TextGCN (Yao, Mao & Luo, AAAI 2019) builds one graph for a whole corpus, with a node per document
and per word, and classifies documents by propagating over it with a two-layer graph convolutional
network. The package, one concept per file:

- ``corpus_graph``  the graph: TF-IDF document-word edges, PPMI word-word edges, self-loops,
                    ``D^-1/2 (A + I) D^-1/2``, all sparse (``build_corpus_graph``)
- ``gcn``           one graph convolution layer and the two-layer ``TextGCN`` (plain PyTorch)
- ``training``      ``train_textgcn``: the paper's settings on a task's splits -> ``FineTuneResult``
- ``inductive``     ``InductiveTextGCN``: classifying a new document by its words, without a rebuild
"""

from labkit.graph.corpus_graph import (
    PAPER_SETTINGS,
    SHORT_TEXT_SETTINGS,
    CorpusGraph,
    GraphSettings,
    build_corpus_graph,
    clean_documents,
    inverse_document_frequency,
    normalize_adjacency,
    ppmi_edges,
    tfidf_edges,
    tokenize,
    window_counts,
    word_ids,
)
from labkit.graph.gcn import GraphConvolution, TextGCN, propagate, to_torch_sparse
from labkit.graph.inductive import InductiveTextGCN, unseen_test_accuracy, unseen_test_runs
from labkit.graph.training import (
    GRAPH_CANDIDATE,
    GCNFit,
    TextGCNSettings,
    fit_gcn,
    graph_settings_for,
    inductive_predictor,
    train_textgcn,
)

__all__ = [
    "CorpusGraph", "GCNFit", "GRAPH_CANDIDATE", "GraphConvolution", "GraphSettings", "InductiveTextGCN",
    "PAPER_SETTINGS", "SHORT_TEXT_SETTINGS", "TextGCN", "TextGCNSettings", "build_corpus_graph",
    "clean_documents", "fit_gcn", "graph_settings_for", "inductive_predictor", "inverse_document_frequency",
    "normalize_adjacency", "ppmi_edges", "propagate", "tfidf_edges", "to_torch_sparse", "tokenize",
    "train_textgcn", "unseen_test_accuracy", "unseen_test_runs", "window_counts", "word_ids",
]
