"""The classical baselines on TF-IDF features, on the same splits as every other candidate.

``tfidf_logistic_regression`` (scikit-learn) and ``tfidf_mlp`` (a wide one-hidden-layer network in
PyTorch, Galke & Scherp 2022) return the same ``FineTuneResult`` as ``fine_tune``, so they can be
compared row by row. ``tfidf_logistic_regression(..., vectorizer_texts="all")`` fits the vectoriser on
the text of every split (no labels): the vocabulary and document frequencies a transductive model
such as TextGCN sees, so that comparison is fair.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from labkit.evaluation.costs import count_parameters
from labkit.finetune.classifier import FineTuneResult, _predictions_frame
from labkit.finetune.preparation import check_dataset, label_ids, limit_training_set

BASELINE_NAME = "tfidf-lr"
ALL_TEXT_BASELINE_NAME = "tfidf-lr-all-text"
MLP_BASELINE_NAME = "tfidf-mlp"

def tfidf_pipeline(C: float = 1.0, seed: int = 0) -> Any:
    """TF-IDF (word unigrams + bigrams, sublinear tf) followed by logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegression(C=C, max_iter=2000, random_state=seed),
    )


def tfidf_logistic_regression(dataset: Any, *, text_column: str = "text", label_column: str = "label",
                              C_values: Sequence[float] = (0.3, 1.0, 3.0, 10.0),
                              train_limit: int | None = None, seed: int = 0,
                              vectorizer_texts: str = "train") -> FineTuneResult:
    """The classical baseline, on the same splits: ``C`` is chosen on validation, then test is predicted.

    Returns a ``FineTuneResult`` whose ``history`` has one row per ``C`` tried. ``vectorizer_texts``:
    ``"train"`` (the default) fits the TF-IDF vectoriser on the training texts; ``"all"`` fits it on
    the texts of train, validation and test together (never their labels), as a transductive graph
    model sees every document's words; the result is then named ``tfidf-lr-all-text``.
    """
    if vectorizer_texts not in {"train", "all"}:
        raise ValueError(f"vectorizer_texts must be 'train' or 'all', got {vectorizer_texts!r}")
    label_names = check_dataset(dataset, text_column, label_column)
    if train_limit is not None:
        dataset = limit_training_set(dataset, train_limit, seed)
        check_dataset(dataset, text_column, label_column)
    train_texts = list(dataset["train"][text_column])
    train_labels = label_ids(dataset["train"][label_column], label_names)
    validation_labels = np.array(label_ids(dataset["validation"][label_column], label_names))
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    history, best = [], None
    all_texts = [text for split in ("train", "validation", "test") for text in dataset[split][text_column]]
    for C in C_values:
        if vectorizer_texts == "train":
            pipeline = tfidf_pipeline(C, seed).fit(train_texts, train_labels)
        else:  # the vectoriser sees every split's text, the classifier only the training labels
            pipeline = tfidf_pipeline(C, seed)
            pipeline[0].fit(all_texts)
            pipeline[1].fit(pipeline[0].transform(train_texts), train_labels)
        accuracy = float((pipeline.predict(list(dataset["validation"][text_column])) == validation_labels).mean())
        history.append({"C": C, "validation_accuracy": accuracy, "seconds": time.perf_counter() - start_wall})
        if best is None or accuracy > best[0]:
            best = (accuracy, C, pipeline)
    train_seconds, train_cpu_seconds = time.perf_counter() - start_wall, time.process_time() - start_cpu
    _, best_C, pipeline = best
    outputs = {}
    for split in ("validation", "test"):
        texts = list(dataset[split][text_column])
        probabilities = np.zeros((len(texts), len(label_names)))
        probabilities[:, pipeline.classes_] = pipeline.predict_proba(texts)
        labels = np.array(label_ids(dataset[split][label_column], label_names))
        outputs[split] = _predictions_frame(texts, labels, probabilities, label_names)
    counts = count_parameters(pipeline)
    name = BASELINE_NAME if vectorizer_texts == "train" else ALL_TEXT_BASELINE_NAME
    config = {"model": name, "C": best_C, "C_values": list(C_values),
              "vocabulary": len(pipeline[0].vocabulary_), "train_examples": len(train_texts), "seed": seed}
    if vectorizer_texts == "all":
        config["vectorizer_texts"] = "train+validation+test (text only)"
    return FineTuneResult(name, pipeline, None, label_names, pd.DataFrame(history), outputs["test"],
                          counts.total, counts.trainable, train_seconds, train_cpu_seconds, config,
                          validation_predictions=outputs["validation"])


class TfidfMLP:
    """A fitted TF-IDF vectoriser and a one-hidden-layer network on its features (``predict_proba``).

    The network: ``Linear(n_features, hidden)`` (as an ``EmbeddingBag`` over the non-zero features,
    weighted by their TF-IDF values: the same product, without a dense input), ReLU, dropout, and
    ``Linear(hidden, n_classes)``.
    """

    def __init__(self, vectorizer: Any, network: Any) -> None:
        self.vectorizer = vectorizer
        self.network = network

    def parameters(self) -> Any:
        return self.network.parameters()

    def logits(self, texts: Sequence[str]) -> Any:
        """Class scores ``(n, n_classes)`` as a torch tensor."""
        features = self.vectorizer.transform(list(texts)).tocsr().astype(np.float32)
        features.sort_indices()
        return self.network(torch.from_numpy(features.indices.astype(np.int64)),
                            torch.from_numpy(features.indptr[:-1].astype(np.int64)), torch.from_numpy(features.data))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities ``(n, n_classes)``."""
        self.network.eval()
        with torch.no_grad():
            return torch.softmax(self.logits(texts), dim=1).double().numpy()


class WideMLP(nn.Module):
    """``Linear(n_features, hidden)`` as a weighted ``EmbeddingBag`` (sparse input), ReLU, dropout, ``Linear``."""

    def __init__(self, n_features: int, n_classes: int, hidden: int = 1024, dropout: float = 0.5) -> None:
        super().__init__()
        self.first = nn.EmbeddingBag(n_features, hidden, mode="sum", sparse=True)
        self.first_bias = nn.Parameter(torch.zeros(hidden))
        self.dropout = nn.Dropout(dropout)
        self.second = nn.Linear(hidden, n_classes)

    def forward(self, indices: torch.Tensor, offsets: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """A batch of sparse rows (CSR ``indices``, row starts ``offsets``, TF-IDF ``values``) -> ``(n, n_classes)``."""
        hidden_layer = self.first(indices, offsets, per_sample_weights=values) + self.first_bias
        return self.second(self.dropout(torch.relu(hidden_layer)))


def _mlp_epoch(network: WideMLP, features: Any, labels: torch.Tensor, order: np.ndarray, batch_size: int,
               optimizers: list[Any]) -> float:
    """One epoch of ``network`` over the sparse ``features`` rows in ``order``, in batches; the summed loss."""
    from torch.nn import functional

    network.train()
    total = 0.0
    for start in range(0, len(order), batch_size):
        rows = features[order[start:start + batch_size]]
        logits = network(torch.from_numpy(rows.indices.astype(np.int64)),
                         torch.from_numpy(rows.indptr[:-1].astype(np.int64)), torch.from_numpy(rows.data))
        loss = functional.cross_entropy(logits, labels[order[start:start + batch_size]])
        for optimizer in optimizers:
            optimizer.zero_grad()
        loss.backward()
        for optimizer in optimizers:
            optimizer.step()
        total += loss.item() * len(rows.indptr[:-1])
    return total


def tfidf_mlp(dataset: Any, *, text_column: str = "text", label_column: str = "label", hidden: int = 1024,
              dropout: float = 0.5, learning_rate: float = 1e-3, batch_size: int = 16, max_epochs: int = 20,
              patience: int = 3, train_limit: int | None = None, seed: int = 0,
              progress: bool = False) -> FineTuneResult:
    """An MLP on TF-IDF features (Galke & Scherp, ACL 2022, "WideMLP": one hidden layer of 1024, dropout 0.5).

    The vectoriser (word unigrams, sublinear tf, words in at least 2 training texts) is fitted on the
    training texts. Adam, learning rate 1e-3, batches of 16 as in the paper (the first layer's rows use
    ``torch.optim.SparseAdam``, a lazy Adam that updates only the rows of words in the batch: the
    full Adam would touch all ``n_words x 1024`` weights 300 times an epoch); the epoch is chosen on
    validation: one validation check per epoch, training stops after ``patience`` epochs without a
    better validation accuracy, and the weights of the best check are kept. ``history`` has one row
    per epoch. The options are keyword-only, named as ``fine_tune``'s are, because the selection runner
    calls every candidate the same way; the defaults are the paper's.
    """
    import copy

    from sklearn.feature_extraction.text import TfidfVectorizer

    from labkit.reproducibility import seed_everything

    label_names = check_dataset(dataset, text_column, label_column)
    if train_limit is not None:
        dataset = limit_training_set(dataset, train_limit, seed)
        check_dataset(dataset, text_column, label_column)
    seed_everything(seed)
    train_texts = list(dataset["train"][text_column])
    train_labels = torch.as_tensor(label_ids(dataset["train"][label_column], label_names))
    validation_texts = list(dataset["validation"][text_column])
    validation_labels = np.array(label_ids(dataset["validation"][label_column], label_names))
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    vectorizer = TfidfVectorizer(min_df=2, sublinear_tf=True).fit(train_texts)
    model = TfidfMLP(vectorizer, WideMLP(len(vectorizer.vocabulary_), len(label_names), hidden, dropout))
    features = vectorizer.transform(train_texts).tocsr().astype(np.float32)
    features.sort_indices()
    # the first layer's gradient touches only the rows of the batch's words: a lazy Adam updates just those
    optimizers = [torch.optim.SparseAdam(list(model.network.first.parameters()), lr=learning_rate),
                  torch.optim.Adam([parameter for name, parameter in model.network.named_parameters()
                                    if not name.startswith("first.")], lr=learning_rate)]
    generator = np.random.default_rng(seed)
    history, best = [], (-1.0, None, 0)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=max_epochs, desc=MLP_BASELINE_NAME, unit="epoch")
    for epoch in range(1, max_epochs + 1):
        order = generator.permutation(len(train_texts))
        total = _mlp_epoch(model.network, features, train_labels, order, batch_size, optimizers)
        probabilities = model.predict_proba(validation_texts)
        accuracy = float((probabilities.argmax(axis=1) == validation_labels).mean())
        validation_loss = float(-np.log(np.clip(probabilities[np.arange(len(validation_labels)), validation_labels],
                                                1e-12, None)).mean())
        history.append({"epoch": epoch, "step": epoch * -(-len(order) // batch_size),
                        "train_loss": total / len(order), "validation_loss": validation_loss,
                        "validation_accuracy": accuracy, "seconds": time.perf_counter() - start_wall})
        if bar is not None:
            bar.update(1)
            bar.set_postfix(validation_accuracy=f"{accuracy:.3f}")
        if accuracy > best[0]:
            best = (accuracy, copy.deepcopy(model.network.state_dict()), epoch)
        elif epoch - best[2] >= patience:
            break
    if bar is not None:
        bar.close()
    model.network.load_state_dict(best[1])
    train_seconds, train_cpu_seconds = time.perf_counter() - start_wall, time.process_time() - start_cpu
    outputs = {}
    for split in ("validation", "test"):
        texts = list(dataset[split][text_column])
        labels = np.array(label_ids(dataset[split][label_column], label_names))
        outputs[split] = _predictions_frame(texts, labels, model.predict_proba(texts), label_names)
    counts = count_parameters(model.network)
    config = {"model": MLP_BASELINE_NAME, "hidden": hidden, "dropout": dropout, "learning_rate": learning_rate,
              "batch_size": batch_size, "max_epochs": max_epochs, "patience": patience, "best_epoch": best[2],
              "vocabulary": len(vectorizer.vocabulary_), "train_examples": len(train_texts), "seed": seed}
    return FineTuneResult(MLP_BASELINE_NAME, model, None, label_names, pd.DataFrame(history), outputs["test"],
                          counts.total, counts.trainable, train_seconds, train_cpu_seconds, config,
                          validation_predictions=outputs["validation"])
