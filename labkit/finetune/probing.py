"""Linear probes: how much of a task a frozen encoder's features already hold, before any fine-tuning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from labkit.devices import default_device, model_device, move_to_device
from labkit.errors import DatasetError
from labkit.finetune.classifier import load_classifier
from labkit.finetune.preparation import check_dataset, label_ids


@torch.no_grad()
def mean_pooled_features(model: torch.nn.Module, tokenizer: Any, texts: Sequence[str], max_length: int = 128,
                         batch_size: int = 64) -> np.ndarray:
    """The mean of the last hidden layer over each text's real tokens: ``(len(texts), hidden)``.

    ``model`` is an encoder (``AutoModel``) or a classifier whose ``base_model`` is one; padding
    positions are excluded from the mean.
    """
    if len(texts) == 0:
        raise DatasetError("no texts to encode")
    encoder = getattr(model, "base_model", model)
    encoder.eval()
    device = model_device(encoder)
    features = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(list(texts[start:start + batch_size]), truncation=True, max_length=max_length,
                          padding=True, return_tensors="pt")
        batch = move_to_device(batch, device)
        hidden = encoder(**batch).last_hidden_state  # (batch, seq, hidden)
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (batch, seq, 1)
        features.append(((hidden * mask).sum(1) / mask.sum(1)).cpu().numpy())
    return np.concatenate(features)


def linear_probe(model_name: str, dataset: Any, *, initialisation: str = "pretrained", text_column: str = "text",
                 label_column: str = "label", max_length: int = 128, C_values: Sequence[float] = (0.1, 1.0, 10.0),
                 seed: int = 0) -> dict[str, Any]:
    """How much of a task a *frozen* encoder's features already hold: logistic regression on them.

    The encoder (pretrained or, as the control, the same architecture with random weights) is never
    trained; its mean-pooled features feed a logistic regression whose ``C`` is chosen on validation
    (scaled features, solved to convergence, so no early-stopping plateau can hide what the features
    hold). Returns the validation and test accuracy, the chosen ``C``, the feature size, and the test
    labels and predictions ``(n_test,)`` (for paired comparisons between probes).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    label_names = check_dataset(dataset, text_column, label_column)
    tokenizer, model = load_classifier(model_name, len(label_names), initialisation, seed)
    model.to(default_device())
    features = {split: mean_pooled_features(model, tokenizer, list(dataset[split][text_column]), max_length)
                for split in ("train", "validation", "test")}
    labels = {split: np.array(label_ids(dataset[split][label_column], label_names)) for split in features}
    best = None
    for C in C_values:
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=3000, random_state=seed))
        probe.fit(features["train"], labels["train"])
        accuracy = float((probe.predict(features["validation"]) == labels["validation"]).mean())
        if best is None or accuracy > best[0]:
            best = (accuracy, C, probe)
    validation_accuracy, C, probe = best
    test_predictions = probe.predict(features["test"])
    return {"model": model_name, "initialisation": initialisation, "C": C, "features": features["train"].shape[1],
            "validation_accuracy": validation_accuracy,
            "test_accuracy": float((test_predictions == labels["test"]).mean()),
            "test_labels": labels["test"], "test_predictions": test_predictions}


def word_coverage(tokenizer: Any, texts: Sequence[str]) -> float:
    """The share of word occurrences in ``texts`` that ``tokenizer`` keeps whole (one token, not pieces).

    A WordPiece vocabulary learnt on a corpus holds that corpus's frequent words; a task whose words
    it must cut into pieces (``"unfunny"`` -> ``"un", "##fun", "##ny"``) is language the pretraining saw
    little of. Words are the tokenizer's own pre-tokenisation (lower-cased alphabetic words only).
    """
    if len(texts) == 0:
        raise DatasetError("no texts to measure")
    whole = total = 0
    for text in texts:
        words = [word for word, _ in tokenizer.backend_tokenizer.pre_tokenizer.pre_tokenize_str(text.lower())
                 if word.isalpha()]
        pieces = tokenizer(words, add_special_tokens=False)["input_ids"] if words else []
        whole += sum(len(word_pieces) == 1 for word_pieces in pieces)
        total += len(words)
    if total == 0:
        raise DatasetError("the texts hold no alphabetic words")
    return whole / total
