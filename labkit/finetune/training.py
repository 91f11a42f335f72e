"""Steps 4 and 5: train with AdamW, warmup and decay, early stopping and resumable checkpoints; then predict.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch

from labkit.devices import default_device, move_to_device
from labkit.errors import ConfigError
from labkit.evaluation.costs import count_parameters
from labkit.finetune.classifier import (
    FineTuneResult,
    _batches,
    _evaluate,
    _predictions_frame,
    freeze_encoder,
    load_classifier,
)
from labkit.finetune.lora import LoraSettings, add_lora
from labkit.finetune.preparation import check_dataset, limit_training_set, tokenize_splits
from labkit.finetune.recipe import FineTuneRecipe
from labkit.reproducibility import seed_everything


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


@dataclass
class _Run:
    """What the training loop works on (built once by ``_prepare_run``)."""

    model: torch.nn.Module
    tokenizer: Any
    tokenised: dict[str, Any]
    recipe: FineTuneRecipe
    settings: dict[str, Any]  # recorded with the results, and checked when a checkpoint is resumed
    generator: torch.Generator
    loader: Any
    optimizer: Any
    scheduler: Any
    device: torch.device
    warmup_steps: int
    evaluate_at: set[int]  # batch indices within an epoch after which validation is checked

    @property
    def steps_per_epoch(self) -> int:
        return len(self.loader)

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.recipe.epochs


def fine_tune(model_name: str, dataset: Any, recipe: FineTuneRecipe | None = None, *, text_column: str = "text",
              label_column: str = "label", initialisation: str = "pretrained", freeze: bool = False,
              max_length: int = 128, train_limit: int | None = None, seed: int = 0, progress: bool = True,
              checkpoint: Any = None, lora: LoraSettings | None = None,
              **recipe_settings: Any) -> FineTuneResult:
    """Fine-tune ``model_name`` on ``dataset`` (train / validation / test) and predict the test split.

    *How* it trains is the ``recipe`` (a ``FineTuneRecipe``; its defaults if None), with any of its
    fields also accepted as keyword arguments (``epochs=3, learning_rate=3e-4``) that override it. The
    other arguments say *what* trains: which weights (``initialisation="random"`` for the same
    architecture untrained, ``freeze=True`` to train the head only, ``lora=LoraSettings()`` to train
    low-rank updates and the head only, see ``labkit.finetune.lora``), on which data (the columns,
    ``max_length`` tokens per text, ``train_limit`` to keep a seeded sample of N training examples),
    with which ``seed``. (They are many because each is a separate, named choice a learner makes; the
    command ``labkit finetune`` mirrors them.)

    Training stops early when validation accuracy has not improved for ``recipe.patience`` checks after
    the warmup; the best weights (by validation accuracy) are restored before predicting the validation
    and test splits. With ``checkpoint`` (a file path) the run saves its ``TrainingState`` after every
    validation check and, if the file exists, resumes from it: an interrupted run continues where it
    stopped and ends with the same result.
    """
    recipe = (recipe or FineTuneRecipe()).updated(**recipe_settings)
    label_names = check_dataset(dataset, text_column, label_column)
    if train_limit is not None:
        dataset = limit_training_set(dataset, train_limit, seed)
        check_dataset(dataset, text_column, label_column)
    tokenizer, model = load_classifier(model_name, len(label_names), initialisation, seed)
    if freeze and lora is not None:
        raise ConfigError("freeze and lora exclude each other: LoRA already freezes the pretrained weights")
    if freeze:
        freeze_encoder(model)
    if lora is not None:
        model = add_lora(model, lora)
    counts = count_parameters(model)
    tokenised = tokenize_splits(dataset, tokenizer, text_column, label_column, label_names, max_length)
    settings = {"model": model_name, "initialisation": initialisation, "freeze": freeze, "max_length": max_length,
                "epochs": recipe.epochs, "batch_size": recipe.batch_size, "learning_rate": recipe.learning_rate,
                "weight_decay": recipe.weight_decay, "warmup_fraction": recipe.warmup_fraction,
                "patience": recipe.patience, "train_examples": len(dataset["train"]), "seed": seed}
    if lora is not None:
        settings["lora"] = lora.as_dict()
    run = _prepare_run(model, tokenizer, tokenised, recipe, settings, seed)
    state = _load_checkpoint(checkpoint, run.model, run.optimizer, run.scheduler, settings) or TrainingState()
    state = _train(run, state, checkpoint, progress, description=f"fine-tuning {model_name}")
    settings["steps"] = state.step
    outputs = _keep_best_and_predict(model, model, state, tokenised, tokenizer, recipe, dataset, text_column,
                                     label_names)
    name = (model_name + ("-random-init" if initialisation == "random" else "") + ("-frozen" if freeze else "")
            + ("-lora" if lora is not None else ""))
    return FineTuneResult(name, model, tokenizer, label_names, pd.DataFrame(state.history), outputs["test"],
                          counts.total, counts.trainable, state.seconds, state.cpu_seconds, settings,
                          validation_predictions=outputs["validation"])


def _keep_best_and_predict(trained: torch.nn.Module, classifier: torch.nn.Module, state: TrainingState,
                           tokenised: dict[str, Any], tokenizer: Any, recipe: FineTuneRecipe, dataset: Any,
                           text_column: str, label_names: list[str]) -> dict[str, pd.DataFrame]:
    """After training: load the best validation check's weights into ``trained`` (what the optimiser updated),
    switch ``classifier`` (what predicts; the same module, or the one ``trained`` wraps) to evaluation mode,
    and return its validation and test predictions (``{"validation": frame, "test": frame}``). It takes the
    run's parts one by one because it is the shared tail of ``fine_tune`` and ``compression.distil``."""
    if state.best_state is not None:
        trained.load_state_dict(state.best_state)
    classifier.eval()
    outputs = {}
    for split in ("validation", "test"):
        _, probabilities, labels = _evaluate(classifier, tokenised[split], tokenizer, recipe.batch_size * 2)
        outputs[split] = _predictions_frame(list(dataset[split][text_column]), labels, probabilities, label_names)
    return outputs


def _prepare_run(model: torch.nn.Module, tokenizer: Any, tokenised: dict[str, Any], recipe: FineTuneRecipe,
                 settings: dict[str, Any], seed: int) -> _Run:
    """Seed, then build the data order, optimizer (AdamW) and schedule (linear warmup, then linear decay)."""
    from transformers import get_linear_schedule_with_warmup

    seed_everything(seed)
    device = default_device()
    model.to(device)
    model.train()
    generator = torch.Generator().manual_seed(seed)
    loader = _batches(tokenised["train"], tokenizer, recipe.batch_size, shuffle=True, seed=seed, generator=generator)
    steps_per_epoch, checks = len(loader), recipe.evaluations_per_epoch
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
    warmup_steps = math.ceil(recipe.warmup_fraction * steps_per_epoch * recipe.epochs)
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup_steps, steps_per_epoch * recipe.epochs)
    evaluate_at = {round(steps_per_epoch * (i + 1) / checks) for i in range(checks)}
    return _Run(model, tokenizer, tokenised, recipe, settings, generator, loader, optimizer, scheduler, device,
                warmup_steps, evaluate_at)


def _train(run: _Run, state: TrainingState, checkpoint: Any, progress: bool, description: str) -> TrainingState:
    """Step 4: the epochs, resumed from ``state``; returns the final state (clocks included)."""
    from tqdm.auto import tqdm

    resumed_at = (state.epoch, state.batches_done_in_epoch) if state.step else None
    losses: list[float] = []  # training losses since the last validation check
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    bar = tqdm(total=run.total_steps, initial=state.step, desc=description, disable=not progress, leave=False)
    while not state.finished:
        if resumed_at and state.epoch == resumed_at[0]:
            run.generator.set_state(state.epoch_generator_state)  # replay this epoch's order, skip what was done
        state.epoch_generator_state = run.generator.get_state()
        for index, batch in enumerate(run.loader, start=1):
            if resumed_at and (state.epoch, index) <= resumed_at:
                continue
            losses.append(_training_step(run, batch))
            state.step += 1
            bar.update(1)
            if index in run.evaluate_at:
                _validation_check(run, state, index, sum(losses) / len(losses), start_wall)
                losses = []
                bar.set_postfix(validation_accuracy=f"{state.history[-1]['validation_accuracy']:.3f}")
                if checkpoint is not None:
                    _save_checkpoint(checkpoint, _with_times(state, start_wall, start_cpu), run.model, run.optimizer,
                                     run.scheduler, run.settings)
                if state.stopped_early:
                    break
        if not state.finished:
            state.epoch, state.batches_done_in_epoch = state.epoch + 1, 0
            state.finished = state.epoch > run.recipe.epochs
    if state.stopped_early:  # a finished run, not a failed one: end the bar at 100% instead of red
        bar.total = bar.n
        bar.set_postfix(validation_accuracy=f"{state.best_accuracy:.3f}", stopped="early")
    bar.close()
    return _with_times(state, start_wall, start_cpu)


def _training_step(run: _Run, batch: dict[str, torch.Tensor]) -> float:
    """One optimizer step on one batch (gradients clipped to norm 1); returns the batch's loss."""
    loss = run.model(**move_to_device(batch, run.device)).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(run.model.parameters(), 1.0)
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    return loss.item()


def _validation_check(run: _Run, state: TrainingState, index: int, train_loss: float, start_wall: float) -> None:
    """Measure validation, keep the best weights, and decide whether to stop (updates ``state``)."""
    validation_loss, probabilities, labels = _evaluate(run.model, run.tokenised["validation"], run.tokenizer,
                                                       run.recipe.batch_size * 2)
    accuracy = float((probabilities.argmax(1) == labels).mean())
    state.history.append({"epoch": state.epoch, "step": state.step, "train_loss": train_loss,
                          "validation_loss": validation_loss, "validation_accuracy": accuracy,
                          "seconds": state.seconds + time.perf_counter() - start_wall})
    if accuracy > state.best_accuracy:
        state.best_accuracy, state.checks_without_gain = accuracy, 0
        state.best_state = copy.deepcopy(run.model.state_dict())
    elif state.step > run.warmup_steps:  # while the learning rate still ramps up, a plateau is no signal
        state.checks_without_gain += 1
        state.stopped_early = state.checks_without_gain >= run.recipe.patience
    state.batches_done_in_epoch = index
    state.finished = state.stopped_early or (state.epoch == run.recipe.epochs and index == run.steps_per_epoch)


def _with_times(state: TrainingState, start_wall: float, start_cpu: float) -> TrainingState:
    """A copy of ``state`` whose clocks include the time spent since this process (re)started the run."""
    return dataclasses.replace(state, seconds=state.seconds + time.perf_counter() - start_wall,
                               cpu_seconds=state.cpu_seconds + time.process_time() - start_cpu)
