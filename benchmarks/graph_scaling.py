"""How TextGCN's cost grows with the corpus: graph build time and memory, training time per epoch.

Samples of 1k, 2k, 4k and 8k documents of the shipped 20 Newsgroups (all splits, a fixed seeded
sample) are built into a graph (``labkit.graph.build_corpus_graph``, the paper's settings) and trained
for a few epochs (``labkit.graph.fit_gcn``). Every figure is printed as a ratio against the 1k sample
of the same run (the machine is shared: absolute times move, ratios much less). A power law
``cost = a * size^b`` fitted over the four samples predicts the full 20 Newsgroups graph
(18,821 documents), before anyone runs it. Peak memory is the peak of traced allocations
(``tracemalloc``: numpy and scipy arrays) during a second, untimed build, which is what dominates.

Run: ``OMP_NUM_THREADS=1 python benchmarks/graph_scaling.py`` (about 6 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np
import torch

from labkit import data
from labkit.graph import TextGCNSettings, build_corpus_graph, fit_gcn, to_torch_sparse


def measure(texts: list[str], labels: np.ndarray, epochs: int) -> dict[str, float]:
    """Build the graph of ``texts`` twice (timed; then under ``tracemalloc`` for its peak) and train it."""
    start = time.perf_counter()
    graph = build_corpus_graph(texts)
    build_seconds = time.perf_counter() - start
    tracemalloc.start()  # tracing slows allocation down: the memory pass is not the timed one
    build_corpus_graph(texts)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n = len(texts)
    node_labels = np.full(graph.n_nodes, -1)
    node_labels[:n] = labels
    order = np.random.default_rng(0).permutation(n)
    train, validation = order[: int(0.8 * n)], order[int(0.8 * n):int(0.9 * n)]
    fit = fit_gcn(to_torch_sparse(graph.adjacency), node_labels, train, validation, int(labels.max()) + 1,
                  TextGCNSettings(max_epochs=epochs))
    seconds = fit.history["seconds"].to_numpy()  # wall time at the end of each epoch
    epoch_seconds = (seconds[-1] - seconds[0]) / (len(seconds) - 1)  # the first epoch includes warm-up
    return {"documents": n, "nodes": graph.n_nodes, "words": graph.n_words, "stored_entries": graph.adjacency.nnz,
            "word_pairs": graph.word_word_edges, "build_seconds": build_seconds, "build_peak_mb": peak / 1e6,
            "epoch_seconds": epoch_seconds}


def power_law(sizes: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """``(a, b)`` of ``value = a * size^b`` by least squares in log-log."""
    b, log_a = np.polyfit(np.log(sizes), np.log(values), 1)
    return float(np.exp(log_a)), float(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,4000,8000")
    parser.add_argument("--epochs", type=int, default=6, help="training epochs per sample (the first is not timed)")
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    corpus = data.load_topic("20newsgroups")
    texts = [text for split in ("train", "validation", "test") for text in corpus[split]["text"]]
    labels = np.array([label for split in ("train", "validation", "test") for label in corpus[split]["label"]])
    order = np.random.default_rng(0).permutation(len(texts))
    build_corpus_graph(texts[:50])  # warm-up: imports and first calls, outside every measurement
    sizes = [int(size) for size in arguments.sizes.split(",")]
    rows = []
    for size in sizes:
        chosen = order[:size]
        rows.append(measure([texts[i] for i in chosen], labels[chosen], arguments.epochs))
        print(f"{size:>6} documents: {rows[-1]['nodes']:>6} nodes, {rows[-1]['word_pairs']:>10,} word pairs, "
              f"build {rows[-1]['build_seconds']:.1f} s at {rows[-1]['build_peak_mb']:.0f} MB, "
              f"{rows[-1]['epoch_seconds']:.2f} s/epoch", flush=True)
    base = rows[0]
    print(f"\nratios against the {base['documents']:,}-document sample of this run:")
    print(f"{'documents':>10} {'nodes':>7} {'entries':>8} {'build time':>11} {'build memory':>13} {'epoch time':>11}")
    for row in rows:
        ratio = {key: row[key] / base[key] for key in row}
        print(f"{ratio['documents']:>10.1f} {ratio['nodes']:>7.2f} {ratio['stored_entries']:>8.2f} "
              f"{ratio['build_seconds']:>11.2f} {ratio['build_peak_mb']:>13.2f} {ratio['epoch_seconds']:>11.2f}")
    full = len(texts)
    x = np.array([row["documents"] for row in rows], dtype=float)
    print(f"\npredicted for the full 20 Newsgroups graph ({full:,} documents), from power laws over the samples:")
    predictions = {}
    for key, unit in (("stored_entries", ""), ("build_seconds", " s"), ("build_peak_mb", " MB"),
                      ("epoch_seconds", " s")):
        a, b = power_law(x, np.array([row[key] for row in rows], dtype=float))
        predictions[key] = a * full ** b
        print(f"  {key:15s} ~ {predictions[key]:,.1f}{unit}   (grows as documents^{b:.2f})")
    print(f"  training: {predictions['epoch_seconds'] * 100 / 60:.0f} min for 100 epochs, "
          f"{predictions['epoch_seconds'] * 200 / 60:.0f} min for the paper's maximum of 200 "
          "(early stopping decides; R8 stopped near 90)")


if __name__ == "__main__":
    main()
