"""labkit.graph: the TextGCN corpus graph, the GCN layer, training, the inductive path and the candidate."""

from __future__ import annotations

import json
import math
import pickle
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from labkit import graph, selection
from labkit.errors import ConfigError, DatasetError
from labkit.finetune import baseline
from tests.conftest import toy_sentiment

# The hand-computed corpus: three documents, window 3, every word kept (no stop words, min count 1).
HAND_TEXTS = ["x y x", "x z", "y z w y"]
HAND_SETTINGS = graph.GraphSettings(window=3, min_count=1, remove_stop_words=False)
L15, L3, L43 = math.log(3 / 2), math.log(3), math.log(4 / 3)
# Worked by hand (vocabulary sorted: w, x, y, z; nodes: d0, d1, d2, then w, x, y, z):
# df: w 1, x 2, y 2, z 2 of N = 3 documents -> idf: w ln 3, the others ln(3/2).
# tf (raw counts): d0 x 2, y 1 | d1 x 1, z 1 | d2 y 2, z 1, w 1.
HAND_TFIDF = {(0, "x"): 2 * L15, (0, "y"): L15, (1, "x"): L15, (1, "z"): L15,
              (2, "y"): 2 * L15, (2, "z"): L15, (2, "w"): L3}
# Windows of 3: d0 (3 words) and d1 (2 words) are one window each; d2 has [y z w] and [z w y]: #W = 4.
# #W(x) = 2, #W(y) = 3, #W(z) = 3, #W(w) = 2; pairs: x-y 1, x-z 1, y-z 2, y-w 2, z-w 2 (x twice in d0's
# window still makes one window with both x and y).
# PMI = ln(#W(i,j) #W / (#W(i) #W(j))): x-y ln(4/6), x-z ln(4/6), y-z ln(8/9): negative, no edge;
# y-w = z-w = ln(8/6) = ln(4/3): the only word-word edges.
HAND_PPMI = {("w", "y"): L43, ("w", "z"): L43}


def test_tfidf_edges_match_the_hand_computed_corpus() -> None:
    documents, vocabulary = graph.clean_documents(HAND_TEXTS, HAND_SETTINGS)
    assert vocabulary == ["w", "x", "y", "z"]
    ids = graph.word_ids(documents, vocabulary)
    np.testing.assert_allclose(graph.inverse_document_frequency(ids, 4), [L3, L15, L15, L15])
    weights = graph.tfidf_edges(ids, 4).toarray()  # 3 x 4: small enough to look at whole
    expected = np.zeros((3, 4))
    for (document, word), value in HAND_TFIDF.items():
        expected[document, vocabulary.index(word)] = value
    np.testing.assert_allclose(weights, expected, rtol=1e-12)


def test_ppmi_edges_match_the_hand_computed_corpus() -> None:
    documents, vocabulary = graph.clean_documents(HAND_TEXTS, HAND_SETTINGS)
    ids = graph.word_ids(documents, vocabulary)
    n_windows, single, pairs = graph.window_counts(ids, 4, window=3)
    assert n_windows == 4
    assert dict(zip(vocabulary, single.tolist(), strict=True)) == {"w": 2, "x": 2, "y": 3, "z": 3}
    assert pairs[vocabulary.index("x"), vocabulary.index("y")] == 1  # windows, not pairs of positions
    ppmi = graph.ppmi_edges(ids, 4, window=3).toarray()
    expected = np.zeros((4, 4))
    for (a, b), value in HAND_PPMI.items():
        expected[vocabulary.index(a), vocabulary.index(b)] = expected[vocabulary.index(b), vocabulary.index(a)] = value
    np.testing.assert_allclose(ppmi, expected, rtol=1e-6)


def test_normalised_adjacency_is_symmetric_with_the_expected_row_sums() -> None:
    built = graph.build_corpus_graph(HAND_TEXTS, HAND_SETTINGS)
    assert built.n_nodes == 7 and built.n_documents == 3 and built.word_word_edges == 2
    adjacency = built.adjacency
    assert abs(adjacency - adjacency.T).max() < 1e-7
    # degrees of A + I by hand: a self-loop plus each node's edge weights
    degree = {"d0": 1 + 3 * L15, "d1": 1 + 2 * L15, "d2": 1 + 3 * L15 + L3, "w": 1 + L3 + 2 * L43,
              "x": 1 + 3 * L15, "y": 1 + 3 * L15 + L43, "z": 1 + 2 * L15 + L43}
    np.testing.assert_allclose(built.degrees, list(degree.values()), rtol=1e-6)
    # row d1: its self-loop 1/deg, and edges to x and z of weight ln(3/2), each divided by sqrt(deg_i deg_j)
    row_d1 = (1 / degree["d1"] + L15 / math.sqrt(degree["d1"] * degree["x"])
              + L15 / math.sqrt(degree["d1"] * degree["z"]))
    assert adjacency[1].sum() == pytest.approx(row_d1, rel=1e-6)
    row_w = (1 / degree["w"] + L3 / math.sqrt(degree["w"] * degree["d2"])
             + L43 / math.sqrt(degree["w"] * degree["y"]) + L43 / math.sqrt(degree["w"] * degree["z"]))
    assert adjacency[3].sum() == pytest.approx(row_w, rel=1e-6)
    # every row: D^-1/2 (A + I) D^-1/2 times sqrt(d) is sqrt(d), since (A + I) 1 = d
    root = np.sqrt(built.degrees)
    np.testing.assert_allclose(adjacency @ root, root, rtol=1e-5)


def synthetic_corpus(n_documents: int, n_words: int, length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(f"w{i}" for i in rng.integers(0, n_words, length)) for _ in range(n_documents)]


def test_a_large_graph_is_built_and_trained_without_a_dense_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    """21,000 nodes: a dense N x N float32 adjacency would take 1.76 GB (beyond a notebook's 1.5 GB)."""
    texts = synthetic_corpus(15_000, 6_000, 10)

    def no_dense(*args: object, **kwargs: object) -> None:
        raise AssertionError("a sparse matrix was made dense")

    for name in ("toarray", "todense"):
        monkeypatch.setattr(sp.csr_matrix, name, no_dense)
        monkeypatch.setattr(sp.coo_matrix, name, no_dense)
    monkeypatch.setattr(torch.Tensor, "to_dense", no_dense)
    tracemalloc.start()
    built = graph.build_corpus_graph(texts)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert built.n_nodes == 21_000
    dense_bytes = built.n_nodes ** 2 * 4
    assert peak < dense_bytes / 10, f"building peaked at {peak / 1e6:.0f} MB; dense would be {dense_bytes / 1e6:.0f} MB"
    labels = np.full(built.n_nodes, -1)
    labels[:15_000] = np.arange(15_000) % 2
    fit = graph.fit_gcn(graph.to_torch_sparse(built.adjacency), labels, np.arange(0, 10_000),
                        np.arange(10_000, 12_000), 2, graph.TextGCNSettings(max_epochs=2))
    assert fit.logits.shape == (21_000, 2) and fit.epochs_run == 2


def random_graph(n: int = 30, seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    upper = sp.random(n, n, density=0.15, random_state=seed, data_rvs=lambda k: rng.uniform(0.1, 2.0, k))
    upper = sp.triu(upper, k=1)
    return sp.csr_matrix(upper + upper.T)


def test_one_gcn_layer_equals_the_dense_formula_and_torch_geometric() -> None:
    with warnings.catch_warnings():  # torch_geometric 2.8.1 calls torch.jit.script, deprecated in torch 2.13
        warnings.simplefilter("ignore", DeprecationWarning)
        from torch_geometric.nn import GCNConv

    adjacency = random_graph()
    n = adjacency.shape[0]
    # the dense formula, written out here: D^-1/2 (A + I) D^-1/2 X W
    a_hat = adjacency.toarray() + np.eye(n)
    d_inv_sqrt = np.diag(1 / np.sqrt(a_hat.sum(axis=1)))
    normalised_dense = torch.tensor(d_inv_sqrt @ a_hat @ d_inv_sqrt, dtype=torch.float32)
    normalised, _ = graph.normalize_adjacency(adjacency)
    sparse = graph.to_torch_sparse(normalised)
    torch.manual_seed(0)
    layer = graph.GraphConvolution(8, 4)
    features = torch.randn(n, 8, requires_grad=True)
    ours = layer(sparse, features)
    dense = normalised_dense @ features @ layer.weight
    torch.testing.assert_close(ours, dense, atol=1e-5, rtol=1e-5)
    # the gradient through the sparse product (its own backward) is the dense one's
    grad_ours = torch.autograd.grad(ours.square().sum(), [features, layer.weight])
    grad_dense = torch.autograd.grad(dense.square().sum(), [features, layer.weight])
    for a, b in zip(grad_ours, grad_dense, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-5)
    # torch_geometric's GCNConv with the same weights: it adds the self-loops and normalises itself
    conv = GCNConv(8, 4, bias=False)
    with torch.no_grad():
        conv.lin.weight.copy_(layer.weight.T)
    coo = adjacency.tocoo()
    edge_index = torch.tensor(np.vstack([coo.row, coo.col]), dtype=torch.long)
    reference = conv(features, edge_index, torch.tensor(coo.data, dtype=torch.float32))
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)
    # one-hot features (X = I, TextGCN's first layer) are the weight rows themselves
    first = graph.GraphConvolution(n, 4)
    torch.testing.assert_close(first(sparse), normalised_dense @ first.weight, atol=1e-5, rtol=1e-5)


def small_task(seed: int = 0, sizes: tuple[int, int, int] = (120, 40, 40)):
    return toy_sentiment(seed=seed, sizes=sizes)


def test_training_follows_the_papers_stopping_rule_and_learns_a_separable_task() -> None:
    result = graph.train_textgcn(small_task(), seed=0)
    assert result.test_accuracy >= 0.9  # the sentiment word decides; a majority guess would get 0.5
    history = result.history
    assert result.config["epochs_run"] == len(history) <= 200
    losses = history["validation_loss"].to_numpy()
    if result.config["stopped_early"]:  # the last loss is above the mean of the ten before it
        assert len(losses) > 11 and losses[-1] > losses[-11:-1].mean()
        for k in range(11, len(losses) - 1):  # and no earlier epoch met the rule
            assert not losses[k] > losses[k - 10:k].mean()
    assert result.parameters == (result.config["graph"]["nodes"] + 2) * 200
    assert len(result.predictions) == 40 and len(result.validation_predictions) == 40


def test_the_inductive_path_reproduces_a_documents_node_when_its_own_row_is_zero() -> None:
    """A document placed by its words gets the logits of its own node if its own first-layer row is zero."""
    texts = ["good film great story", "bad plot awful actors", "great music good scenes", "awful film bad music",
             "good story great actors", "bad scenes awful plot"] * 3
    built = graph.build_corpus_graph(texts, graph.GraphSettings(min_count=1))
    adjacency = graph.to_torch_sparse(built.adjacency)
    torch.manual_seed(0)
    model = graph.TextGCN(built.n_nodes, 2, hidden=16).eval()
    with torch.no_grad():
        model.first.weight[: built.n_documents] = 0.0  # no trained row for the documents
        hidden = model.hidden(adjacency)
        logits = model(adjacency)
    fit = graph.GCNFit(model, None, logits, hidden, 0, False)
    inductive = graph.inductive_predictor(fit, built, ["negative", "positive"])
    np.testing.assert_allclose(inductive.logits(texts), logits[: built.n_documents].numpy(), atol=1e-5)
    # a text with no known word has no edge: zero logits, even probabilities
    np.testing.assert_allclose(inductive.predict_proba(["zebra quantum"]), [[0.5, 0.5]])
    # it pickles (its size on disk is a record column) and predicts the same after
    again = pickle.loads(pickle.dumps(inductive))
    np.testing.assert_allclose(again.predict_proba(texts[:2]), inductive.predict_proba(texts[:2]))


def test_unseen_test_documents_are_classified_by_their_words() -> None:
    outcome = graph.unseen_test_accuracy(small_task(), seed=0)
    assert outcome["accuracy"] >= 0.9 and outcome["test_documents_without_known_word"] == 0.0
    assert outcome["result"].config["graph"]["documents"] == 160  # train + validation only


def test_bad_input_gets_clear_errors() -> None:
    with pytest.raises(DatasetError, match="empty"):
        graph.build_corpus_graph([])
    with pytest.raises(DatasetError, match="not one string"):
        graph.build_corpus_graph("one long string")
    with pytest.raises(DatasetError, match="not text"):
        graph.build_corpus_graph(["fine words here", None])
    with pytest.raises(DatasetError, match="no word occurs at least 5 times"):
        graph.build_corpus_graph(["the and of", "it was a"])
    with pytest.raises(ConfigError, match="window"):
        graph.GraphSettings(window=1)
    with pytest.raises(ConfigError, match="square"):
        graph.normalize_adjacency(sp.csr_matrix((3, 4)))
    with pytest.raises(ConfigError, match="scipy.sparse"):
        graph.normalize_adjacency(np.eye(3))
    sparse = graph.to_torch_sparse(graph.normalize_adjacency(random_graph(10))[0])
    with pytest.raises(ConfigError, match="expects 8"):
        graph.GraphConvolution(8, 2)(sparse, torch.randn(10, 5))
    with pytest.raises(ConfigError, match="one row per node"):
        graph.GraphConvolution(8, 2)(sparse, torch.randn(12, 8))
    with pytest.raises(ConfigError, match="one weight row per node"):
        graph.GraphConvolution(9, 2)(sparse)
    with pytest.raises(ConfigError, match="at least two classes"):
        graph.TextGCN(10, 1)
    with pytest.raises(ConfigError, match="dropout"):
        graph.TextGCNSettings(dropout=1.0)
    with pytest.raises(ValueError, match="takes no options"):
        selection.parse_candidate("textgcn:frozen")


def test_baselines_beside_the_graph() -> None:
    task = small_task(sizes=(60, 20, 20))
    # a word only two test texts have (min_df=2): in the all-text vocabulary, not in the training one
    task["test"] = task["test"].map(lambda row, i: {"text": ("zyzzyva " if i < 2 else "") + row["text"]},
                                    with_indices=True)
    train_only = baseline.tfidf_logistic_regression(task)
    all_text = baseline.tfidf_logistic_regression(task, vectorizer_texts="all")
    assert train_only.name == "tfidf-lr" and all_text.name == "tfidf-lr-all-text"
    assert "zyzzyva" not in train_only.model[0].vocabulary_ and "zyzzyva" in all_text.model[0].vocabulary_
    with pytest.raises(ValueError, match="vectorizer_texts"):
        baseline.tfidf_logistic_regression(task, vectorizer_texts="test")
    mlp = baseline.tfidf_mlp(task, max_epochs=3)
    assert mlp.name == "tfidf-mlp" and len(mlp.history) <= 3
    assert mlp.model.predict_proba(["good film", "awful plot"]).shape == (2, 2)
    assert mlp.parameters == len(mlp.model.vectorizer.vocabulary_) * 1024 + 1024 + 1024 * 2 + 2
    assert pickle.loads(pickle.dumps(mlp.model)).predict_proba(["good"]).shape == (1, 2)


def test_select_cli_compares_tfidf_lr_and_textgcn_end_to_end(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from labkit.cli import main

    data = small_task(sizes=(80, 20, 20))
    rows = [(text, "pos" if label else "neg") for split in data.values()
            for text, label in zip(split["text"], split["label"], strict=True)]
    csv_path = tmp_path / "reviews.csv"
    import csv

    with open(csv_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    output = tmp_path / "out"
    assert main(["select", "--data", str(csv_path), "--candidates", "tfidf-lr,textgcn", "--output", str(output)]) == 0
    report = (output / "report.md").read_text()
    assert "textgcn" in report and "tfidf-lr" in report
    record = json.loads((output / "results" / "textgcn" / "record.json").read_text())
    assert record["accuracy"] >= 0.8 and record["majority_class_rate"] == pytest.approx(0.5)
    assert record["initialisation"] == "-"
    for column in ("validation_accuracy_low", "accuracy_high", "inductive_accuracy", "latency_ms_p50",
                   "transductive_new_text_seconds", "graph_build_seconds", "counterfactual_pairs"):
        assert column in record, column
    assert record["transductive_new_text_seconds"] >= record["graph_build_seconds"] > 0
    assert "inductive path" in record["latency_measure"]
    assert record["parameters"] == (record["graph_nodes"] + 2) * 200
    # the selection table knows it (licence, the Pareto front, recommend)
    table = selection.load_results(output / "results")
    assert set(table["candidate"]) == {"tfidf-lr", "textgcn"}
    assert "no pretrained weights" in table.set_index("candidate").loc["textgcn", "licence"]
    capsys.readouterr()
    assert main(["select", "--data", str(csv_path), "--candidates", "tfidf-lr,textgcn", "--output", str(output)]) == 0
    assert capsys.readouterr().out.count("already done, skipped") == 2


def test_latency_is_remeasured_for_the_graph_and_the_new_baselines(tmp_path: Path) -> None:
    """``remeasure_latency`` rebuilds each new candidate's inference path (random weights, same shapes)."""
    task = selection.Task("toy-graph", small_task(sizes=(80, 20, 20)), max_length=32)
    names = ["tfidf-mlp", "tfidf-lr-all-text", "textgcn"]
    before = selection.compare(task, names, tmp_path, progress=False, log=lambda message: None)
    messages: list[str] = []
    after = selection.remeasure_latency(task, tmp_path, rounds=2, log=messages.append)
    assert sorted(after["candidate"]) == sorted(names) and len(messages) == 3
    assert after["latency_measured"].str.contains("median of 2 interleaved rounds").all()
    assert (after["latency_ms_p50"] > 0).all()
    merged = before.merge(after, on="candidate", suffixes=("", "_new"))
    assert (merged["accuracy"] == merged["accuracy_new"]).all()  # only the cost columns change


def test_unseen_test_runs_are_kept_per_seed_and_resumed(tmp_path: Path) -> None:
    data = small_task(sizes=(80, 20, 20))
    path = tmp_path / "unseen" / "toy.json"
    rows = graph.unseen_test_runs(data, path, [1, 0], task_name="sentiment", log=lambda message: None)
    assert [row["seed"] for row in rows] == [0, 1] and json.loads(path.read_text()) == rows
    assert all(row["accuracy"] >= 0.8 and row["test_documents_without_known_word"] == 0.0 for row in rows)
    messages: list[str] = []
    assert graph.unseen_test_runs(data, path, [0], task_name="sentiment", log=messages.append) == rows
    assert messages == ["seed 0: already done, skipped"]
