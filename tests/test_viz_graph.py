"""labkit.viz.corpus_graph_figure: a small corpus graph with documents and words told apart."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402

from labkit import graph, viz  # noqa: E402

TEXTS = ["good film", "bad film", "good plot", "bad plot"]
SETTINGS = graph.GraphSettings(window=2, min_count=1, remove_stop_words=False)


def _small_graph() -> graph.CorpusGraph:
    return graph.build_corpus_graph(TEXTS, SETTINGS)


def test_documents_and_words_are_drawn_as_two_node_sets_with_the_graphs_edges() -> None:
    built = _small_graph()
    names = [f"d{i}" for i in range(built.n_documents)] + list(built.vocabulary)
    figure = viz.corpus_graph_figure(built.adjacency, names, built.n_documents, document_colours=[0, 1, 0, 1])
    ax = figure.axes[0]
    nodes = [collection for collection in ax.collections if isinstance(collection, PathCollection)]
    assert [len(collection.get_offsets()) for collection in nodes] == [4, 4]  # 4 documents, 4 words
    edges = [collection for collection in ax.collections if isinstance(collection, LineCollection)]
    off_diagonal = sp.triu(sp.coo_matrix(built.adjacency), k=1)
    assert sum(len(collection.get_segments()) for collection in edges) == int((off_diagonal.data > 0).sum())
    assert {text.get_text() for text in ax.texts} == set(names)
    # documents of one class share a colour, the two classes differ
    colours = nodes[0].get_facecolors()
    assert np.allclose(colours[0], colours[2]) and not np.allclose(colours[0], colours[1])
    plt.close(figure)


def test_it_draws_into_a_given_axis() -> None:
    built = _small_graph()
    figure, ax = plt.subplots()
    names = [f"d{i}" for i in range(built.n_documents)] + list(built.vocabulary)
    assert viz.corpus_graph_figure(built.adjacency, names, built.n_documents, ax=ax) is figure
    plt.close(figure)


@pytest.mark.parametrize(("adjacency", "names", "documents", "message"), [
    (np.ones((3, 4)), ["a", "b", "c"], 1, "square"),
    (np.ones((3, 3)), ["a", "b"], 1, "one name per node"),
    (np.ones((3, 3)), ["a", "b", "c"], 0, "n_documents"),
    (sp.identity(301), [str(i) for i in range(301)], 1, "too many"),
])
def test_bad_input_gets_a_clear_error(adjacency: object, names: list[str], documents: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        viz.corpus_graph_figure(adjacency, names, documents)
