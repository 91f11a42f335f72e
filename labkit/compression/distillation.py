"""Knowledge distillation (Hinton, Vinyals & Dean, 2015): a small student learns from a large teacher's logits.

The teacher's logits on the training set are computed once (``teacher_logits``); the student then
trains on a mix of two targets:

    loss = alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * CE(student, label)

Dividing the logits by a temperature ``T > 1`` softens both distributions, so the student also learns
*how sure* the teacher is and which wrong class it finds more plausible ("dark knowledge"); the factor
``T^2`` keeps the soft term's gradients on the same scale as the hard term's when ``T`` changes
(the gradient of the softened KL shrinks like ``1 / T^2``). ``alpha`` weighs the teacher against the
hard labels: ``alpha = 0`` is ordinary fine-tuning, ``alpha = 1`` ignores the labels.

``distil`` fine-tunes the student with the kit's ordinary loop (``labkit.finetune``: same recipe,
warmup, early stopping on validation accuracy, resumable checkpoints); only the training loss changes.
``alpha`` and ``T`` are chosen on validation from a small grid (``DISTILLATION_GRID``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from labkit.errors import ConfigError, DatasetError

# The grid alpha and T are chosen from, on validation accuracy (seed 0). Hinton et al. used T from 1 to 20
# and DistilBERT T = 2 (its soft-target weight, in these terms, is about 0.7); two weights and two
# temperatures bracket those choices at four training runs.
DISTILLATION_GRID: tuple[tuple[float, float], ...] = ((0.5, 2.0), (0.5, 4.0), (0.9, 2.0), (0.9, 4.0))


def _check_settings(alpha: float, temperature: float) -> None:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"alpha weighs the teacher against the labels and must be in [0, 1], got {alpha!r}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ConfigError(f"temperature must be a positive number, got {temperature!r}")


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor, *,
                      alpha: float, temperature: float) -> torch.Tensor:
    """``alpha * T^2 * KL(teacher at T || student at T) + (1 - alpha) * cross-entropy(student, labels)``.

    ``student_logits`` and ``teacher_logits``: ``(batch, n_classes)``; ``labels``: ``(batch,)`` class
    indices. Both terms are means over the batch (the KL is summed over classes, then averaged over
    examples: ``F.kl_div(..., reduction="batchmean")``). Returns a scalar tensor. The teacher's
    logits get no gradient.
    """
    _check_settings(alpha, temperature)
    if student_logits.dim() != 2 or student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student and teacher logits must both be (batch, n_classes), got "
                         f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}")
    if labels.dim() != 1 or len(labels) != len(student_logits):
        raise ValueError(f"labels must be (batch,) = ({len(student_logits)},), got {tuple(labels.shape)}")
    teacher_logits = teacher_logits.detach().to(student_logits.dtype)
    soft = F.kl_div(F.log_softmax(student_logits / temperature, dim=-1),
                    F.log_softmax(teacher_logits / temperature, dim=-1), reduction="batchmean", log_target=True)
    hard = F.cross_entropy(student_logits, labels)
    return alpha * temperature**2 * soft + (1 - alpha) * hard


@torch.no_grad()
def teacher_logits(model: torch.nn.Module, tokenizer: Any, texts: Sequence[str], max_length: int = 64,
                   batch_size: int = 64) -> np.ndarray:
    """The teacher's logits (not probabilities) for ``texts``, ``(len(texts), n_classes)``, in input order.

    Texts are batched by length (less padding); computed once and saved, since the teacher does not
    change while the student trains.
    """
    from labkit.devices import model_device, move_to_device

    if len(texts) == 0:
        raise DatasetError("no texts to compute the teacher's logits for")
    model.eval()
    order = np.argsort([len(text) for text in texts], kind="stable")
    result = np.zeros((len(texts), model.config.num_labels), dtype=np.float32)
    for start in range(0, len(texts), batch_size):
        indices = order[start:start + batch_size]
        batch = tokenizer([texts[i] for i in indices], truncation=True, max_length=max_length, padding=True,
                          return_tensors="pt")
        result[indices] = model(**move_to_device(batch, model_device(model))).logits.float().cpu().numpy()
    return result


def logits_frame(ids: Sequence[str], labels: Sequence[int], logits: np.ndarray, label_names: list[str]) -> pd.DataFrame:
    """A table of logits to save: ``id``, ``label``, then ``logit_<class>`` per class (one row per text)."""
    logits = np.asarray(logits, dtype=np.float32)
    if logits.ndim != 2 or logits.shape != (len(ids), len(label_names)) or len(labels) != len(ids):
        raise ValueError(f"logits must be (n_texts, n_classes) = ({len(ids)}, {len(label_names)}) with one "
                         f"label per text, got {logits.shape} and {len(labels)} labels")
    frame = pd.DataFrame({"id": list(ids), "label": np.asarray(labels, dtype=np.int64)})
    for index, name in enumerate(label_names):
        frame[f"logit_{name}"] = logits[:, index]
    return frame


def logits_for(frame: pd.DataFrame, ids: Sequence[str], label_names: list[str]) -> np.ndarray:
    """The saved logits of the texts ``ids``, in that order, ``(len(ids), n_classes)``.

    Raises ``DatasetError`` when a text has no saved logits (a different training set).
    """
    columns = [f"logit_{name}" for name in label_names]
    missing_columns = [column for column in ["id", *columns] if column not in frame.columns]
    if missing_columns:
        raise DatasetError(f"the teacher's logits table has no column(s) {missing_columns}")
    indexed = frame.set_index("id")
    if not indexed.index.is_unique:
        raise DatasetError("the teacher's logits table has repeated ids")
    absent = [text_id for text_id in ids if text_id not in indexed.index]
    if absent:
        raise DatasetError(f"{len(absent)} training text(s) have no teacher logits (e.g. id {absent[0]!r}): "
                           "were they computed on another training set?")
    return indexed.loc[list(ids), columns].to_numpy(dtype=np.float32)


class DistillationObjective(torch.nn.Module):
    """A classifier whose training loss is ``distillation_loss`` when a batch carries ``teacher_logits``.

    It wraps the student so that the kit's ordinary fine-tuning loop (``model(**batch).loss``) trains
    it unchanged; on batches without teacher logits (validation, test) the loss is plain cross-entropy.
    """

    def __init__(self, student: torch.nn.Module, alpha: float, temperature: float) -> None:
        super().__init__()
        _check_settings(alpha, temperature)
        self.student, self.alpha, self.temperature = student, alpha, temperature

    @property
    def config(self) -> Any:
        return self.student.config

    def forward(self, teacher_logits: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                **inputs: torch.Tensor) -> Any:
        output = self.student(**inputs, labels=labels)
        if teacher_logits is not None and labels is not None:
            output.loss = distillation_loss(output.logits, teacher_logits, labels, alpha=self.alpha,
                                            temperature=self.temperature)
        return output


@dataclass(frozen=True)
class DistillationSettings:
    """What a distillation run adds to a fine-tuning run: the soft-target weight and the temperature."""

    alpha: float
    temperature: float

    def __post_init__(self) -> None:
        _check_settings(self.alpha, self.temperature)

    @property
    def name(self) -> str:
        """A file-safe suffix: ``a0.9-t4``."""
        return f"a{self.alpha:g}-t{self.temperature:g}"


def distil(student_name: str, dataset: Any, logits: np.ndarray, settings: DistillationSettings, *,
           recipe: Any = None, text_column: str = "text", label_column: str = "label", max_length: int = 64,
           seed: int = 0, progress: bool = True, checkpoint: Any = None) -> Any:
    """Fine-tune ``student_name`` on ``dataset`` with the distillation loss; return a ``FineTuneResult``.

    ``logits``: the teacher's logits on ``dataset["train"]``, ``(n_train, n_classes)``, row ``i`` for
    training example ``i`` (see ``teacher_logits`` and ``logits_for``). ``recipe``: the student's
    ``FineTuneRecipe`` (the kit's recipe for ``student_name`` if None), so that the only difference from
    ordinary fine-tuning is the loss. The result's ``model`` is the student itself; ``config`` records
    ``alpha`` and ``temperature`` beside the recipe. Validation accuracy picks the kept weights and
    stops training early, exactly as in ``labkit.finetune.fine_tune``. Everything after ``settings`` is a
    keyword-only option with a default, as in ``fine_tune``, because each is a separate, named choice.
    """
    from labkit import finetune
    from labkit.evaluation.costs import count_parameters
    from labkit.finetune.training import TrainingState, _keep_best_and_predict, _load_checkpoint, _prepare_run, _train

    recipe = recipe if recipe is not None else finetune.recipe_for(student_name)
    label_names = finetune.check_dataset(dataset, text_column, label_column)
    logits = np.asarray(logits, dtype=np.float32)
    if logits.shape != (len(dataset["train"]), len(label_names)):
        raise DatasetError(f"the teacher's logits must be (n_train, n_classes) = ({len(dataset['train'])}, "
                           f"{len(label_names)}), got {logits.shape}")
    if not np.isfinite(logits).all():
        raise DatasetError("the teacher's logits contain NaN or infinite values")
    tokenizer, student = finetune.load_classifier(student_name, len(label_names), "pretrained", seed)
    counts = count_parameters(student)
    tokenised = finetune.tokenize_splits(dataset, tokenizer, text_column, label_column, label_names, max_length)
    tokenised["train"] = tokenised["train"].add_column("teacher_logits", logits.tolist())
    model = DistillationObjective(student, settings.alpha, settings.temperature)
    run_settings = {"model": student_name, "initialisation": "pretrained", "freeze": False, "max_length": max_length,
                    **recipe.as_dict(), "train_examples": len(dataset["train"]), "seed": seed,
                    "alpha": settings.alpha, "temperature": settings.temperature}
    run_settings.pop("evaluations_per_epoch")
    run = _prepare_run(model, tokenizer, tokenised, recipe, run_settings, seed)
    state = _load_checkpoint(checkpoint, run.model, run.optimizer, run.scheduler, run_settings) or TrainingState()
    state = _train(run, state, checkpoint, progress,
                   description=f"distilling into {student_name} ({settings.name})")
    run_settings["steps"] = state.step
    outputs = _keep_best_and_predict(model, student, state, tokenised, tokenizer, recipe, dataset, text_column,
                                     label_names)
    return finetune.FineTuneResult(f"{student_name}-distilled", student, tokenizer, label_names,
                                   pd.DataFrame(state.history), outputs["test"], counts.total, counts.trainable,
                                   state.seconds, state.cpu_seconds, run_settings,
                                   validation_predictions=outputs["validation"])
