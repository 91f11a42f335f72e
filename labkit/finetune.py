"""Fine-tuning a pretrained model for text classification, and a classical baseline beside it.

The five steps, as ``fine_tune`` runs them:

1. choose a pretrained model (a registered name such as ``"tiny-bert"`` or ``"minilm-l6"``);
2. load its weights (or, with ``initialisation="random"``, the same architecture untrained);
3. add a task head (``AutoModelForSequenceClassification``: a linear layer on the ``[CLS]`` vector);
4. train on labelled data (AdamW, linear warmup and decay, gradient clipping, early stopping on the
   validation split, seeded);
5. evaluate on the held-out test split (predictions with class probabilities).

``tfidf_logistic_regression`` returns the same ``FineTuneResult`` for a TF-IDF + logistic regression
pipeline (scikit-learn), so the two can be compared on the same splits.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from labkit.evaluation import count_parameters
from labkit.reproducibility import seed_everything

BASELINE_NAME = "tfidf-lr"


class DatasetError(ValueError):
    """A dataset that cannot be used for classification as given."""


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


# --------------------------------------------------------------------------------------------------
# Checking the data
# --------------------------------------------------------------------------------------------------


def check_dataset(dataset: Any, text_column: str = "text", label_column: str = "label",
                  splits: Sequence[str] = ("train", "validation", "test")) -> list[str]:
    """Check that ``dataset`` can be used for classification; return the class names.

    ``dataset`` must be a ``datasets.DatasetDict`` with the given ``splits``, each non-empty and with
    ``text_column`` (strings) and ``label_column`` (a ``ClassLabel``, integers ``0..k-1`` or strings).
    Raises ``DatasetError`` naming what is wrong: a missing split or column, an empty split, empty
    texts, or fewer than two classes in the training split.
    """
    from datasets import ClassLabel, DatasetDict

    if not isinstance(dataset, DatasetDict):
        raise DatasetError(f"expected a datasets.DatasetDict, got {type(dataset).__name__}")
    missing = [split for split in splits if split not in dataset]
    if missing:
        raise DatasetError(f"the dataset has no {', '.join(missing)} split (it has: {', '.join(dataset)})")
    for split in splits:
        part = dataset[split]
        if len(part) == 0:
            raise DatasetError(f"the {split} split is empty")
        absent = [column for column in (text_column, label_column) if column not in part.column_names]
        if absent:
            raise DatasetError(
                f"the {split} split has no column {', '.join(map(repr, absent))}; "
                f"its columns are: {', '.join(part.column_names)}"
            )
        texts = part[text_column]
        empty = sum(1 for text in texts if not isinstance(text, str) or not text.strip())
        if empty:
            raise DatasetError(f"{empty} example(s) in the {split} split have an empty or non-text {text_column!r}")
    feature = dataset[splits[0]].features[label_column]
    if isinstance(feature, ClassLabel):
        names = list(feature.names)
    else:
        values = sorted({value for split in splits for value in dataset[split][label_column]}, key=str)
        if all(isinstance(value, (int, np.integer)) for value in values):
            if values != list(range(len(values))):
                raise DatasetError(f"integer labels must be 0..k-1, got {values[:10]}")
        names = [str(value) for value in values]
    train_classes = set(dataset[splits[0]][label_column])
    if len(train_classes) < 2:
        raise DatasetError(
            f"the {splits[0]} split has a single class ({next(iter(train_classes))!r}); "
            "a classifier needs at least two"
        )
    return names


def limit_training_set(dataset: Any, train_limit: int, seed: int = 0) -> Any:
    """A copy of ``dataset`` whose train split is a seeded random sample of ``train_limit`` examples."""
    from datasets import DatasetDict

    if train_limit < 2:
        raise DatasetError(f"train_limit must be at least 2, got {train_limit}")
    train = dataset["train"].shuffle(seed=seed)
    return DatasetDict({**dataset, "train": train.select(range(min(train_limit, len(train))))})


def label_ids(values: Sequence[Any], label_names: list[str]) -> list[int]:
    """Labels as class indices: integers pass through, strings are looked up in ``label_names``."""
    if all(isinstance(value, (int, np.integer)) for value in values):
        return [int(value) for value in values]
    index = {name: i for i, name in enumerate(label_names)}
    return [index[str(value)] for value in values]


# --------------------------------------------------------------------------------------------------
# Tokenisation
# --------------------------------------------------------------------------------------------------


class TruncationWarning(UserWarning):
    """Texts longer than ``max_length`` tokens were cut. Expected for long documents: a notebook that
    has explained it may filter this category (``warnings.filterwarnings("ignore", category=...)``)."""


def count_truncated(tokenizer: Any, texts: Sequence[str], max_length: int) -> tuple[int, int]:
    """How many ``texts`` have more than ``max_length`` tokens (special tokens included), and the longest."""
    from transformers.utils import logging as transformers_logging

    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()  # counting long texts is the point: no "too long" notice
    try:
        lengths = [len(ids) for ids in tokenizer(list(texts), truncation=False)["input_ids"]]
    finally:
        transformers_logging.set_verbosity(verbosity)
    return sum(length > max_length for length in lengths), max(lengths, default=0)


def tokenize_splits(dataset: Any, tokenizer: Any, text_column: str, label_column: str,
                    label_names: list[str], max_length: int, announce: bool = True) -> dict[str, Any]:
    """Tokenise every split with ``datasets.map`` (batched); return ``{split: Dataset}``.

    Each row gets ``input_ids``, ``attention_mask`` (and ``token_type_ids`` for BERT) of at most
    ``max_length`` tokens, plus ``labels``. Texts longer than ``max_length`` are truncated, and that
    is announced in one ``TruncationWarning`` (how many, per split), never silent.
    """
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()
    tokenised, truncated = {}, []
    for split, part in dataset.items():
        too_long, longest = count_truncated(tokenizer, list(part[text_column]), max_length)
        if too_long:
            truncated.append(f"{split} {too_long} of {len(part)} (longest {longest})")

        def encode(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
            encoded = tokenizer(batch[text_column], truncation=True, max_length=max_length)
            encoded["labels"] = label_ids(batch[label_column], label_names)
            return encoded

        tokenised[split] = part.map(encode, batched=True, remove_columns=part.column_names)
    if truncated and announce:
        warnings.warn(f"texts longer than max_length={max_length} tokens were truncated: {'; '.join(truncated)}",
                      TruncationWarning, stacklevel=3)
    return tokenised


# --------------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------------


def load_classifier(model_name: str, num_labels: int, initialisation: str = "pretrained",
                    seed: int = 0) -> tuple[Any, Any]:
    """Steps 1-3: a tokenizer and a model with a fresh classification head of ``num_labels`` outputs.

    ``initialisation="random"`` builds the same architecture (same config, same tokenizer) with
    random weights: the control that shows what pretraining contributed.
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    from labkit.models import load, resolve

    if initialisation not in {"pretrained", "random"}:
        raise ValueError(f"initialisation must be 'pretrained' or 'random', got {initialisation!r}")
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
    for batch in _batches(tokenised, tokenizer, batch_size, shuffle=False, seed=0):
        output = model(**batch)
        losses.append(output.loss.item() * len(batch["labels"]))
        probabilities.append(torch.softmax(output.logits.float(), dim=-1).numpy())
        labels.append(batch["labels"].numpy())
    model.train()
    total = sum(len(part) for part in labels)
    return sum(losses) / total, np.concatenate(probabilities), np.concatenate(labels)


@torch.no_grad()
def predict_proba(model: torch.nn.Module, tokenizer: Any, texts: Sequence[str], max_length: int = 128,
                  batch_size: int = 64) -> np.ndarray:
    """Class probabilities for raw ``texts``, shape ``(len(texts), n_classes)``.

    Texts are sorted by length before batching (less padding), and the rows are returned in input order.
    """
    if len(texts) == 0:
        raise DatasetError("no texts to predict")
    model.eval()
    order = np.argsort([len(text) for text in texts], kind="stable")
    result = np.zeros((len(texts), model.config.num_labels), dtype=np.float32)
    for start in range(0, len(texts), batch_size):
        indices = order[start:start + batch_size]
        batch = tokenizer([texts[i] for i in indices], truncation=True, max_length=max_length,
                          padding=True, return_tensors="pt")
        result[indices] = torch.softmax(model(**batch).logits.float(), dim=-1).numpy()
    return result


def _predictions_frame(texts: Sequence[str], labels: np.ndarray, probabilities: np.ndarray,
                       label_names: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame({"text": list(texts), "label": labels.astype(int),
                          "prediction": probabilities.argmax(axis=1).astype(int)})
    for index, name in enumerate(label_names):
        frame[f"probability_{name}"] = probabilities[:, index]
    return frame


# --------------------------------------------------------------------------------------------------
# Step 4 and 5: train, then evaluate
# --------------------------------------------------------------------------------------------------


@dataclass
class TrainingState:
    """Where a fine-tuning run is: everything needed to resume it exactly after an interruption.

    Saved (atomically) after every validation check when ``fine_tune`` is given a ``checkpoint``
    path. ``epoch_generator_state`` is the data-order generator as it was when the current epoch
    began, so a resumed run replays the same batch order and skips the batches already trained on.
    """

    epoch: int = 1
    batches_done_in_epoch: int = 0
    step: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_accuracy: float = -1.0
    best_state: dict[str, Any] | None = None
    checks_without_gain: int = 0
    stopped_early: bool = False
    finished: bool = False
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    epoch_generator_state: Any = None


def _save_checkpoint(path: Any, state: TrainingState, model: torch.nn.Module, optimizer: Any, scheduler: Any,
                     run_settings: dict[str, Any]) -> None:
    from labkit.files import save_torch_atomically

    save_torch_atomically({"settings": run_settings, "state": state, "model": model.state_dict(),
                           "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                           "torch_rng": torch.get_rng_state()}, path)


def _load_checkpoint(path: Any, model: torch.nn.Module, optimizer: Any, scheduler: Any,
                     run_settings: dict[str, Any]) -> TrainingState | None:
    """The saved ``TrainingState`` (model, optimizer and scheduler restored), or None if there is none."""
    from pathlib import Path

    if path is None or not Path(path).is_file():
        return None
    saved = torch.load(path, weights_only=False)
    if saved["settings"] != run_settings:
        raise ValueError(f"the checkpoint {path} belongs to a run with other settings "
                         f"({saved['settings']} vs {run_settings}); delete it to start afresh")
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    torch.set_rng_state(saved["torch_rng"])
    return saved["state"]


def fine_tune(
    model_name: str,
    dataset: Any,
    *,
    text_column: str = "text",
    label_column: str = "label",
    initialisation: str = "pretrained",
    freeze: bool = False,
    max_length: int = 128,
    epochs: int = 3,
    batch_size: int = 32,
    learning_rate: float = 5e-5,
    weight_decay: float = 0.01,
    warmup_fraction: float = 0.1,
    evaluations_per_epoch: int = 1,
    patience: int = 2,
    train_limit: int | None = None,
    seed: int = 0,
    progress: bool = True,
    checkpoint: Any = None,
) -> FineTuneResult:
    """Fine-tune ``model_name`` on ``dataset`` (train / validation / test) and predict the test split.

    Training stops early when validation accuracy has not improved for ``patience`` evaluations after
    the warmup (evaluations during warmup never count); the best weights (by validation accuracy) are
    restored before predicting the validation and test splits.
    ``train_limit`` keeps only the first N training examples (for quick runs and learning curves).
    ``freeze=True`` trains the classification head only. With ``checkpoint`` (a file path) the run
    saves its ``TrainingState`` after every validation check and, if the file exists, resumes from it:
    an interrupted run continues where it stopped and ends with the same result.

    The settings are the recipe's (16 of them, a deliberate one-call interface mirrored by the
    ``labkit finetune`` command); the loop's state lives in one ``TrainingState``.
    """
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    label_names = check_dataset(dataset, text_column, label_column)
    if train_limit is not None:
        dataset = limit_training_set(dataset, train_limit, seed)
        check_dataset(dataset, text_column, label_column)
    if epochs < 1 or batch_size < 1 or evaluations_per_epoch < 1:
        raise ValueError("epochs, batch_size and evaluations_per_epoch must be at least 1")

    tokenizer, model = load_classifier(model_name, len(label_names), initialisation, seed)
    if freeze:
        freeze_encoder(model)
    counts = count_parameters(model)
    tokenised = tokenize_splits(dataset, tokenizer, text_column, label_column, label_names, max_length)

    seed_everything(seed)
    model.train()
    generator = torch.Generator().manual_seed(seed)
    loader = _batches(tokenised["train"], tokenizer, batch_size, shuffle=True, seed=seed, generator=generator)
    steps_per_epoch = len(loader)
    total_steps = steps_per_epoch * epochs
    evaluate_at = {round(steps_per_epoch * (i + 1) / evaluations_per_epoch) for i in range(evaluations_per_epoch)}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=learning_rate, weight_decay=weight_decay)
    warmup_steps = math.ceil(warmup_fraction * total_steps)
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup_steps, total_steps)
    config = {"model": model_name, "initialisation": initialisation, "freeze": freeze, "max_length": max_length,
              "epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
              "weight_decay": weight_decay, "warmup_fraction": warmup_fraction, "patience": patience,
              "train_examples": len(dataset["train"]), "seed": seed}

    state = _load_checkpoint(checkpoint, model, optimizer, scheduler, config) or TrainingState()
    resumed_at = (state.epoch, state.batches_done_in_epoch) if state.step else None
    running_loss, running_count = 0.0, 0
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    bar = tqdm(total=total_steps, initial=state.step, desc=f"fine-tuning {model_name}", disable=not progress,
               leave=False)
    while not state.finished:
        if resumed_at and state.epoch == resumed_at[0]:
            generator.set_state(state.epoch_generator_state)  # replay this epoch's order, skip what was done
        state.epoch_generator_state = generator.get_state()
        for index, batch in enumerate(loader, start=1):
            if resumed_at and (state.epoch, index) <= resumed_at:
                continue
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            running_loss, running_count, state.step = running_loss + loss.item(), running_count + 1, state.step + 1
            bar.update(1)
            if index in evaluate_at:
                validation_loss, probabilities, labels = _evaluate(model, tokenised["validation"], tokenizer,
                                                                   batch_size * 2)
                accuracy = float((probabilities.argmax(1) == labels).mean())
                elapsed = state.seconds + time.perf_counter() - start_wall
                state.history.append({"epoch": state.epoch, "step": state.step,
                                      "train_loss": running_loss / running_count, "validation_loss": validation_loss,
                                      "validation_accuracy": accuracy, "seconds": elapsed})
                bar.set_postfix(validation_accuracy=f"{accuracy:.3f}")
                running_loss, running_count = 0.0, 0
                if accuracy > state.best_accuracy:
                    state.best_accuracy, state.checks_without_gain = accuracy, 0
                    state.best_state = copy.deepcopy(model.state_dict())
                elif state.step > warmup_steps:  # while the learning rate still ramps up, a plateau is no signal
                    state.checks_without_gain += 1
                    state.stopped_early = state.checks_without_gain >= patience
                state.batches_done_in_epoch = index
                state.finished = state.stopped_early or (state.epoch == epochs and index == steps_per_epoch)
                if checkpoint is not None:
                    _save_checkpoint(checkpoint, _with_times(state, start_wall, start_cpu), model, optimizer,
                                     scheduler, config)
                if state.stopped_early:
                    break
        if not state.finished:
            state.epoch, state.batches_done_in_epoch = state.epoch + 1, 0
            state.finished = state.epoch > epochs
    if state.stopped_early:  # a finished run, not a failed one: end the bar at 100% instead of red
        bar.total = bar.n
        bar.set_postfix(validation_accuracy=f"{state.best_accuracy:.3f}", stopped="early")
    bar.close()
    state = _with_times(state, start_wall, start_cpu)
    if state.best_state is not None:
        model.load_state_dict(state.best_state)
    model.eval()
    config["steps"] = state.step
    outputs = {}
    for split in ("validation", "test"):
        _, probabilities, labels = _evaluate(model, tokenised[split], tokenizer, batch_size * 2)
        outputs[split] = _predictions_frame(list(dataset[split][text_column]), labels, probabilities, label_names)
    name = model_name + ("-random-init" if initialisation == "random" else "") + ("-frozen" if freeze else "")
    return FineTuneResult(name, model, tokenizer, label_names, pd.DataFrame(state.history), outputs["test"],
                          counts.total, counts.trainable, state.seconds, state.cpu_seconds, config,
                          validation_predictions=outputs["validation"])


def _with_times(state: TrainingState, start_wall: float, start_cpu: float) -> TrainingState:
    """A copy of ``state`` whose clocks include the time spent since this process (re)started the run."""
    return dataclasses.replace(state, seconds=state.seconds + time.perf_counter() - start_wall,
                               cpu_seconds=state.cpu_seconds + time.process_time() - start_cpu)


# --------------------------------------------------------------------------------------------------
# The classical baseline
# --------------------------------------------------------------------------------------------------


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
                              train_limit: int | None = None, seed: int = 0) -> FineTuneResult:
    """The classical baseline, on the same splits: ``C`` is chosen on validation, then test is predicted.

    Returns a ``FineTuneResult`` whose ``history`` has one row per ``C`` tried.
    """
    label_names = check_dataset(dataset, text_column, label_column)
    if train_limit is not None:
        dataset = limit_training_set(dataset, train_limit, seed)
        check_dataset(dataset, text_column, label_column)
    train_texts = list(dataset["train"][text_column])
    train_labels = label_ids(dataset["train"][label_column], label_names)
    validation_labels = np.array(label_ids(dataset["validation"][label_column], label_names))
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    history, best = [], None
    for C in C_values:
        pipeline = tfidf_pipeline(C, seed).fit(train_texts, train_labels)
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
    config = {"model": BASELINE_NAME, "C": best_C, "C_values": list(C_values), "vocabulary": len(pipeline[0].vocabulary_),
              "train_examples": len(train_texts), "seed": seed}
    return FineTuneResult(BASELINE_NAME, pipeline, None, label_names, pd.DataFrame(history), outputs["test"],
                          counts.total, counts.trainable, train_seconds, train_cpu_seconds, config,
                          validation_predictions=outputs["validation"])


# --------------------------------------------------------------------------------------------------
# Linear probes: what a frozen encoder's features already know
# --------------------------------------------------------------------------------------------------


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
    features = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(list(texts[start:start + batch_size]), truncation=True, max_length=max_length,
                          padding=True, return_tensors="pt")
        hidden = encoder(**batch).last_hidden_state  # (batch, seq, hidden)
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (batch, seq, 1)
        features.append(((hidden * mask).sum(1) / mask.sum(1)).numpy())
    return np.concatenate(features)


def linear_probe(model_name: str, dataset: Any, *, initialisation: str = "pretrained", text_column: str = "text",
                 label_column: str = "label", max_length: int = 128, C_values: Sequence[float] = (0.1, 1.0, 10.0),
                 seed: int = 0) -> dict[str, Any]:
    """How much of a task a *frozen* encoder's features already hold: logistic regression on them.

    The encoder (pretrained or, as the control, the same architecture with random weights) is never
    trained; its mean-pooled features feed a logistic regression whose ``C`` is chosen on validation
    (scaled features, solved to convergence, so no early-stopping plateau can hide what the features
    hold). Returns the validation and test accuracy, the chosen ``C`` and the feature size.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    label_names = check_dataset(dataset, text_column, label_column)
    tokenizer, model = load_classifier(model_name, len(label_names), initialisation, seed)
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
    return {"model": model_name, "initialisation": initialisation, "C": C, "features": features["train"].shape[1],
            "validation_accuracy": validation_accuracy,
            "test_accuracy": float((probe.predict(features["test"]) == labels["test"]).mean())}
