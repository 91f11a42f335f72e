"""Figures for graphs of text: a small corpus graph drawn with its documents and words told apart."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from labkit.viz.style import PALETTE, kit_style, new_axes


def corpus_graph_figure(adjacency: object, node_names: Sequence[str], n_documents: int, *,
                        document_colours: Sequence[int] | None = None, seed: int = 0, title: str = "",
                        ax: Axes | None = None) -> Figure:
    """Draw a small corpus graph: document nodes (squares) first, then word nodes (circles).

    ``adjacency``: a square scipy.sparse or dense ``(n_nodes, n_nodes)`` matrix (the diagonal is ignored),
    ``node_names`` one label per node, ``n_documents`` how many of the first nodes are documents;
    ``document_colours``: a class index per document, so documents of one class share a colour. Edge
    width follows the weight. The layout is networkx's spring layout with ``seed`` (so it is the same on
    every run). Meant for a few dozen nodes: a real corpus graph has thousands.
    """
    import networkx as nx
    import scipy.sparse as sp

    matrix = sp.coo_matrix(adjacency)
    n_nodes = matrix.shape[0]
    if matrix.shape != (n_nodes, n_nodes) or len(node_names) != n_nodes or not 0 < n_documents <= n_nodes:
        raise ValueError(f"need a square adjacency with one name per node and 0 < n_documents <= nodes; got "
                         f"shape {matrix.shape}, {len(node_names)} names, {n_documents} documents")
    if n_nodes > 300:
        raise ValueError(f"{n_nodes} nodes are too many to draw readably: draw a sample of the corpus")
    if document_colours is not None and len(document_colours) != n_documents:
        raise ValueError(f"one colour index per document: {len(document_colours)} for {n_documents} documents")
    graph = nx.Graph()
    graph.add_nodes_from(range(n_nodes))
    graph.add_weighted_edges_from((int(i), int(j), float(w)) for i, j, w in zip(matrix.row, matrix.col, matrix.data,
                                                                              strict=True) if i < j and w > 0)
    positions = nx.spring_layout(graph, seed=seed, weight="weight")
    with kit_style():
        figure, ax = new_axes(ax, figsize=(8, 6))
        weights = np.array([graph.edges[edge]["weight"] for edge in graph.edges]) if graph.edges else np.ones(0)
        widths = 0.3 + 2.0 * weights / weights.max() if len(weights) else []
        nx.draw_networkx_edges(graph, positions, ax=ax, width=widths, edge_color="0.75")
        documents, words = list(range(n_documents)), list(range(n_documents, n_nodes))
        colours = ([PALETTE[c % len(PALETTE)] for c in document_colours] if document_colours is not None
                   else PALETTE[0])
        nx.draw_networkx_nodes(graph, positions, nodelist=documents, node_shape="s", node_color=colours,
                               node_size=160, ax=ax, label="document")
        nx.draw_networkx_nodes(graph, positions, nodelist=words, node_color="white", edgecolors="0.3",
                               node_size=60, ax=ax, label="word")
        nx.draw_networkx_labels(graph, positions, {i: node_names[i] for i in range(n_nodes)}, font_size=7, ax=ax)
        ax.set_axis_off()
        ax.legend(loc="lower left", fontsize=8, scatterpoints=1)
        ax.set_title(title)
    return figure
