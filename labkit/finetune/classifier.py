"""Steps 1-3 and prediction: a pretrained encoder with a classification head, and its probabilities.

Models and batches go where ``labkit.devices`` says (the CPU here, a GPU when there is one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from labkit.devices import model_device, move_to_device
from labkit.errors import ConfigError, DatasetError
from labkit.reproducibility import seed_everything


@dataclass
class FineTuneResult:
    """What a fine-tuning run (or the baseline) produced.

    ``history`` has one row per evaluation: ``epoch``, ``step``, ``train_loss`` (mean since the last
    row), ``validation_loss``, ``validation_accuracy``, ``seconds`` (wall time since the start).
    ``predictions`` has one row per test example: ``text``, ``label``, ``prediction`` and one
    probability column per class, ``probability_<class name>``. ``validation_predictions`` has the
    same columns for the validation split, from the same (final) model: the split on which a model is
    *chosen* (and a calibration temperature fitted), so that the test split is touched once.
    """

    name: str
    model: Any
    tokenizer: Any
    label_names: list[str]
    history: pd.DataFrame
    predictions: pd.DataFrame
    parameters: int
    trainable_parameters: int
    train_seconds: float
    train_cpu_seconds: float
    config: dict[str, Any] = field(default_factory=dict)
    validation_predictions: pd.DataFrame | None = None

    @property
    def probabilities(self) -> np.ndarray:
        """Test-set class probabilities, shape ``(n_test, n_classes)``."""
        return self.predictions[[f"probability_{name}" for name in self.label_names]].to_numpy()

    @property
    def validation_probabilities(self) -> np.ndarray:
        """Validation-set class probabilities, shape ``(n_validation, n_classes)``."""
        if self.validation_predictions is None:
            raise ValueError(f"{self.name} has no validation predictions")
        return self.validation_predictions[[f"probability_{name}" for name in self.label_names]].to_numpy()

    @property
    def test_accuracy(self) -> float:
        """Share of test examples predicted correctly."""
        return float((self.predictions["label"] == self.predictions["prediction"]).mean())


def load_classifier(model_name: str, num_labels: int, initialisation: str = "pretrained",
                    seed: int = 0) -> tuple[Any, Any]:
    """Steps 1-3: a tokenizer and a model with a fresh classification head of ``num_labels`` outputs.

    ``initialisation="random"`` builds the same architecture (same config, same tokenizer) with
    random weights: the control that shows what pretraining contributed.
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    from labkit.models import load, resolve

    if initialisation not in {"pretrained", "random"}:
        raise ConfigError(f"initialisation must be 'pretrained' or 'random', got {initialisation!r}")
    seed_everything(seed)
    if initialisation == "pretrained":  # the registry keeps the expected "new head" notice quiet, not real problems
        tokenizer, model = load(model_name, task="sequence-classification", num_labels=num_labels)
    else:
        location = resolve(model_name)
        tokenizer = AutoTokenizer.from_pretrained(location)
        config = AutoConfig.from_pretrained(location, num_labels=num_labels)
        model = AutoModelForSequenceClassification.from_config(config)
    if tokenizer.pad_token is None:  # GPT-style tokenizers have no padding token
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id
    return tokenizer, model


def freeze_encoder(model: torch.nn.Module) -> None:
    """Freeze every parameter except the task head (only the classifier then trains)."""
    for parameter in model.base_model.parameters():
        parameter.requires_grad = False


def _batches(tokenised: Any, tokenizer: Any, batch_size: int, shuffle: bool, seed: int,
             generator: torch.Generator | None = None) -> Any:
    from torch.utils.data import DataLoader
    from transformers import DataCollatorWithPadding

    generator = generator if generator is not None else torch.Generator().manual_seed(seed)
    return DataLoader(tokenised, batch_size=batch_size, shuffle=shuffle, generator=generator,
                      collate_fn=DataCollatorWithPadding(tokenizer, return_tensors="pt"))


@torch.no_grad()
def _evaluate(model: torch.nn.Module, tokenised: Any, tokenizer: Any,
              batch_size: int) -> tuple[float, np.ndarray, np.ndarray]:
    """Mean loss, probabilities ``(n, k)`` and labels ``(n,)`` over a tokenised split, in order."""
    model.eval()
    losses, probabilities, labels = [], [], []
    device = model_device(model)
    for batch in _batches(tokenised, tokenizer, batch_size, shuffle=False, seed=0):
        output = model(**move_to_device(batch, device))
        losses.append(output.loss.item() * len(batch["labels"]))
        probabilities.append(torch.softmax(output.logits.float(), dim=-1).cpu().numpy())
        labels.append(batch["labels"].numpy())
    model.train()
    total = sum(len(part) for part in labels)
    return sum(losses) / total, np.concatenate(probabilities), np.concatenate(labels)


@torch.no_grad()
def predict_proba(model: torch.nn.Module, tokenizer: Any, texts: Sequence[str], max_length: int = 128,
                  batch_size: int = 64) -> np.ndarray:
    """Class probabilities for raw ``texts``, shape ``(len(texts), n_classes)``.

    Texts are sorted by length before batching (less padding), and the rows are returned in input order.
    The batches go to the model's device (``labkit.devices``).
    """
    if len(texts) == 0:
        raise DatasetError("no texts to predict")
    model.eval()
    device = model_device(model)
    order = np.argsort([len(text) for text in texts], kind="stable")
    result = np.zeros((len(texts), model.config.num_labels), dtype=np.float32)
    for start in range(0, len(texts), batch_size):
        indices = order[start:start + batch_size]
        batch = tokenizer([texts[i] for i in indices], truncation=True, max_length=max_length,
                          padding=True, return_tensors="pt")
        result[indices] = torch.softmax(model(**move_to_device(batch, device)).logits.float(), dim=-1).cpu().numpy()
    return result


def _predictions_frame(texts: Sequence[str], labels: np.ndarray, probabilities: np.ndarray,
                       label_names: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame({"text": list(texts), "label": labels.astype(int),
                          "prediction": probabilities.argmax(axis=1).astype(int)})
    for index, name in enumerate(label_names):
        frame[f"probability_{name}"] = probabilities[:, index]
    return frame
