"""Training TextGCN on a task's splits, with the paper's settings, into the kit's ``FineTuneResult``.

The graph holds every document of the train, validation and test splits (transductive: the test
documents' words and edges shape the graph, their labels are never used). The loss is the
cross-entropy over the training documents' nodes. The paper's settings (Yao et al. 2019, section
"Settings"): hidden 200, dropout 0.5, Adam with learning rate 0.02 and no weight decay, at most 200
epochs (one full-graph step each), and early stopping as its code does it: stop when the validation
loss is above the mean of the previous 10 epochs' validation losses; the weights at that moment are
the final model (not the best epoch's). The paper takes 10% of the training set as validation; here the
task's own validation split plays that role (R8: the same sizes, 4,936 + 549 documents).

One epoch computes the first layer once: dropout sits after it, so ``ReLU(Ã W0)`` is the same in
training and evaluation, and the validation loss of the current weights comes from the same pass as
the training step (the paper's code evaluates after each step with a second pass; the sequence of
validation losses and the stopping epoch are the same, one pass cheaper).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.nn import functional

from labkit.errors import ConfigError
from labkit.finetune.classifier import FineTuneResult, _predictions_frame
from labkit.finetune.preparation import check_dataset, label_ids, limit_training_set
from labkit.graph.corpus_graph import (
    PAPER_SETTINGS,
    SHORT_TEXT_SETTINGS,
    CorpusGraph,
    GraphSettings,
    build_corpus_graph,
)
from labkit.graph.gcn import TextGCN, to_torch_sparse
from labkit.graph.inductive import InductiveTextGCN

GRAPH_CANDIDATE = "textgcn"


@dataclass(frozen=True)
class TextGCNSettings:
    """The paper's training settings (Yao et al. 2019)."""

    hidden: int = 200
    dropout: float = 0.5
    learning_rate: float = 0.02
    weight_decay: float = 0.0
    max_epochs: int = 200
    early_stopping: int = 10
    """Stop when the validation loss exceeds the mean of this many previous ones (the paper's rule)."""

    def __post_init__(self) -> None:
        if self.hidden < 1 or self.max_epochs < 1 or self.early_stopping < 1:
            raise ConfigError("hidden, max_epochs and early_stopping must be at least 1")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.learning_rate <= 0:
            raise ConfigError(f"learning_rate must be positive, got {self.learning_rate}")


def graph_settings_for(task_name: str | None) -> GraphSettings:
    """The paper's preprocessing for a task: MR's (keep every word) for the movie snippets, else the default."""
    return SHORT_TEXT_SETTINGS if task_name == "sentiment" else PAPER_SETTINGS


@dataclass
class GCNFit:
    """What ``fit_gcn`` returns: the trained model, its history and the final evaluation-mode outputs."""

    model: TextGCN
    history: pd.DataFrame
    logits: torch.Tensor  # (n_nodes, n_classes), evaluation mode, final weights
    hidden: torch.Tensor  # (n_nodes, hidden), final weights
    epochs_run: int
    stopped_early: bool


def fit_gcn(adjacency: torch.Tensor, labels: np.ndarray, train_nodes: np.ndarray, validation_nodes: np.ndarray,
            n_classes: int, settings: TextGCNSettings = TextGCNSettings(), *, seed: int = 0,
            progress: bool = False) -> GCNFit:
    """Train a ``TextGCN`` on a normalised adjacency ``(N, N)``; ``labels`` ``(N,)`` (-1 where unknown).

    ``train_nodes`` and ``validation_nodes`` are node indices with labels. See the module docstring
    for the stopping rule.
    """
    from labkit.reproducibility import seed_everything

    train_nodes, validation_nodes = np.asarray(train_nodes), np.asarray(validation_nodes)
    if len(train_nodes) == 0 or len(validation_nodes) == 0:
        raise ConfigError("training needs at least one training and one validation node")
    seed_everything(seed)
    n_nodes = adjacency.shape[0]
    model = TextGCN(n_nodes, n_classes, settings.hidden, settings.dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    y = torch.as_tensor(labels, dtype=torch.long)
    train_index, validation_index = torch.as_tensor(train_nodes), torch.as_tensor(validation_nodes)
    history, validation_losses = [], []
    start = time.perf_counter()
    stopped_early = False
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=settings.max_epochs, desc="textgcn", unit="epoch")
    for epoch in range(settings.max_epochs + 1):
        model.train()
        hidden = model.hidden(adjacency)
        with torch.no_grad():
            logits = model.second(adjacency, hidden.detach())  # evaluation mode: no dropout
            validation_loss = float(functional.cross_entropy(logits[validation_index], y[validation_index]))
            validation_accuracy = float((logits[validation_index].argmax(1) == y[validation_index]).float().mean())
        if epoch > 0:  # the validation loss after ``epoch`` steps, as the paper's code records it
            validation_losses.append(validation_loss)
            history[-1].update(validation_loss=validation_loss, validation_accuracy=validation_accuracy,
                               seconds=time.perf_counter() - start)
            k = settings.early_stopping
            if len(validation_losses) > k + 1 and validation_loss > np.mean(validation_losses[-(k + 1):-1]):
                stopped_early = True
                break
        if epoch == settings.max_epochs:
            break
        optimizer.zero_grad()
        output = model.classify(adjacency, hidden)
        loss = functional.cross_entropy(output[train_index], y[train_index])
        loss.backward()
        optimizer.step()
        history.append({"epoch": epoch + 1, "step": epoch + 1, "train_loss": loss.item()})
        if bar is not None:
            bar.update(1)
            bar.set_postfix(validation_loss=f"{validation_loss:.3f}")
    if bar is not None:
        bar.close()
    model.eval()
    return GCNFit(model, pd.DataFrame(history), logits, hidden.detach(), len(history), stopped_early)


def inductive_predictor(fit: GCNFit, graph: CorpusGraph, label_names: list[str]) -> InductiveTextGCN:
    """The word side of a trained model: what ``InductiveTextGCN`` needs to place new documents."""
    words = slice(graph.n_documents, graph.n_nodes)
    first = fit.model.first.weight.detach()
    second = fit.model.second.weight.detach()
    return InductiveTextGCN(list(graph.vocabulary), np.asarray(graph.idf), np.asarray(graph.degrees[words]),
                            first[words].numpy().copy(), (fit.hidden[words] @ second).numpy(),
                            second.numpy().copy(), list(label_names), graph.settings)


def train_textgcn(dataset: Any, *, text_column: str = "text", label_column: str = "label",
                  graph_settings: GraphSettings | None = None, settings: TextGCNSettings = TextGCNSettings(),
                  train_limit: int | None = None, seed: int = 0, progress: bool = False,
                  test_in_graph: bool = True, task_name: str | None = None) -> FineTuneResult:
    """TextGCN on a ``datasets.DatasetDict`` with train / validation / test, as a ``FineTuneResult``.

    The test predictions are the transductive model's (the paper's number). ``model`` is the
    ``InductiveTextGCN`` that classifies new texts by their words (``predict_proba``), which is what
    the latency and fairness columns of a selection measure. ``train_seconds`` covers building the
    graph and training (``config`` has both parts): it is also what classifying one new document the
    exact, transductive way costs (rebuild the graph with it, retrain). With ``test_in_graph=False``
    the graph has the train and validation documents only, and the test documents are classified by
    the inductive path (``labkit.graph.inductive.unseen_test_accuracy``).
    ``graph_settings`` defaults to ``graph_settings_for(task_name)``. The options are keyword-only and
    named as ``fine_tune``'s are, because the selection runner calls every candidate the same way.
    """
    label_names = check_dataset(dataset, text_column, label_column)
    if train_limit is not None:
        dataset = limit_training_set(dataset, train_limit, seed)
        check_dataset(dataset, text_column, label_column)
    graph_settings = graph_settings or graph_settings_for(task_name)
    splits = ("train", "validation", "test") if test_in_graph else ("train", "validation")
    texts = {split: list(dataset[split][text_column]) for split in ("train", "validation", "test")}
    labels = {split: np.asarray(label_ids(dataset[split][label_column], label_names))
              for split in ("train", "validation", "test")}
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    graph = build_corpus_graph([text for split in splits for text in texts[split]], graph_settings)
    offsets, position = {}, 0
    for split in splits:
        offsets[split] = np.arange(position, position + len(texts[split]))
        position += len(texts[split])
    node_labels = np.full(graph.n_nodes, -1)
    for split in ("train", "validation"):
        node_labels[offsets[split]] = labels[split]
    adjacency = to_torch_sparse(graph.adjacency)
    fit = fit_gcn(adjacency, node_labels, offsets["train"], offsets["validation"], len(label_names), settings,
                  seed=seed, progress=progress)
    train_seconds, train_cpu_seconds = time.perf_counter() - start_wall, time.process_time() - start_cpu
    predictor = inductive_predictor(fit, graph, label_names)
    probabilities = torch.softmax(fit.logits, dim=1).numpy().astype(np.float64)
    outputs = {}
    for split in ("validation", "test"):
        split_probabilities = probabilities[offsets[split]] if split in offsets else predictor.predict_proba(
            texts[split])
        outputs[split] = _predictions_frame(texts[split], labels[split], split_probabilities, label_names)
    parameters = sum(parameter.numel() for parameter in fit.model.parameters())
    config = {"model": GRAPH_CANDIDATE, **asdict(settings), "graph": graph.summary(),
              "graph_build_seconds": graph.seconds, "gcn_train_seconds": train_seconds - graph.seconds,
              "epochs_run": fit.epochs_run, "stopped_early": fit.stopped_early, "test_in_graph": test_in_graph,
              "train_examples": len(texts["train"]), "seed": seed}
    return FineTuneResult(GRAPH_CANDIDATE, predictor, None, label_names, fit.history, outputs["test"], parameters,
                          parameters, train_seconds, train_cpu_seconds, config,
                          validation_predictions=outputs["validation"])
