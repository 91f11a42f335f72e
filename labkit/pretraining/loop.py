"""The pretraining loop: :func:`pretrain` trains a BERT (MLM + NSP) or a GPT (causal LM), resumably.

It runs through Hugging Face Accelerate (CPU, one GPU, or many with ``accelerate launch``), with
warmup + linear decay, gradient clipping, a tqdm bar, held-out metrics every ``eval_every`` steps,
atomic checkpoints every ``checkpoint_every_s`` seconds and exact resume. What is trained is a
:class:`PretrainConfig`; how this call runs is a :class:`PretrainOptions`; where the loop is, a
:class:`PretrainState`. :func:`_prepare_run` builds everything once; the loop in :func:`pretrain`
then repeats :func:`_train_step` and, every ``eval_every`` steps, :func:`_log_metrics`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import nn

from labkit.devices import move_to_device
from labkit.errors import ConfigError, MissingFileError, RunExistsError
from labkit.pretraining.checkpoints import export_checkpoint, load_training_state, save_training_state, write_log_csv
from labkit.pretraining.corpora import corpus_texts
from labkit.pretraining.initialisation import build_model, init_unigram_bias, load_initial_checkpoint
from labkit.pretraining.memory import limit_heap_fragmentation
from labkit.pretraining.metrics import evaluate_bert, evaluate_gpt
from labkit.pretraining.objectives import BertPretrainingObjective, CausalLMObjective
from labkit.pretraining.options import PretrainOptions
from labkit.pretraining.presets import PretrainConfig, get_preset
from labkit.pretraining.run_data import BertData, GPTData
from labkit.pretraining.schedule import FIRST_ESTIMATE_AT_STEP, is_estimate_step, learning_rate_at, steps_within_budget
from labkit.pretraining.state import PretrainResult, PretrainState
from labkit.pretraining.tokenizer_training import train_bpe_tokenizer, train_wordpiece_tokenizer


@dataclass
class _Run:
    """The parts of a run that the loop works with, built once by :func:`_prepare_run`."""

    config: PretrainConfig
    options: PretrainOptions
    accelerator: Any
    tokenizer: Any
    data: BertData | GPTData
    objective: nn.Module  # BertPretrainingObjective or CausalLMObjective, as wrapped by Accelerate
    optimizer: torch.optim.Optimizer
    evaluate: Callable[..., dict[str, float]]  # evaluate_bert or evaluate_gpt: (model, batches) -> metrics
    eval_batches: list[dict[str, torch.Tensor]]  # the small held-out set logged during training
    state: PretrainState

    @property
    def model(self) -> nn.Module:
        """The transformers model being trained (unwrapped from Accelerate and the objective)."""
        return self.accelerator.unwrap_model(self.objective).model


def _is_done(state: PretrainState) -> bool:
    """Whether the run has reached the end of its schedule (never, before a time budget's first estimate)."""
    return state.total_steps is not None and state.step >= state.total_steps


def _check_run_folder(options: PretrainOptions) -> None:
    """Refuse to resume nothing or to overwrite a run; then create the folder."""
    if options.resume and not options.state_path.is_file():
        raise MissingFileError(f"--resume: no checkpoint at {options.state_path}")
    if not options.resume and options.state_path.is_file():
        raise RunExistsError(f"{options.state_path} exists: pass resume=True (--resume) or use another run folder")
    Path(options.run_dir).mkdir(parents=True, exist_ok=True)


def _prepare_tokenizer(config: PretrainConfig, options: PretrainOptions, accelerator: Any,
                       train_texts: list[str]) -> tuple[Any, nn.Module | None]:
    """The run's tokenizer (saved in the run folder) and, for continued pretraining, the starting model.

    Precedence: a resumed run's saved tokenizer; the one given in ``options``; the initial checkpoint's;
    else one trained on ``train_texts``.
    """
    from transformers import AutoTokenizer

    tokenizer, initial_model = options.tokenizer, None
    if config.initial_checkpoint is not None:
        initial_tokenizer, initial_model = load_initial_checkpoint(config)
        tokenizer = tokenizer or initial_tokenizer
    if options.resume:
        return AutoTokenizer.from_pretrained(options.tokenizer_dir), initial_model
    if tokenizer is None:
        trainer = train_wordpiece_tokenizer if config.kind == "bert" else train_bpe_tokenizer
        tokenizer = trainer(train_texts, vocab_size=config.vocab_size)
    if accelerator.is_main_process:
        tokenizer.save_pretrained(options.tokenizer_dir)
    return tokenizer, initial_model


def _make_optimizer(model: nn.Module, config: PretrainConfig) -> torch.optim.Optimizer:
    """AdamW with weight decay on the matrices only (not on biases, LayerNorm or other vectors)."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        (no_decay if parameter.ndim < 2 or "LayerNorm" in name or "ln_" in name else decay).append(parameter)
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate, betas=config.adam_betas, eps=1e-8,
    )


def _prepare_run(config: PretrainConfig, options: PretrainOptions) -> _Run:
    """Folder, texts, tokenizer, data, model (fresh, from a checkpoint, or resumed), optimizer, state."""
    from accelerate import Accelerator

    if options.threads is not None:
        torch.set_num_threads(options.threads)
    limit_heap_fragmentation()
    _check_run_folder(options)
    accelerator = Accelerator()
    train_texts, eval_texts = corpus_texts(config.corpus, options.train_texts, options.eval_texts)
    tokenizer, model = _prepare_tokenizer(config, options, accelerator, train_texts)
    data = (BertData if config.kind == "bert" else GPTData)(tokenizer, train_texts, eval_texts, config)
    evaluate: Callable[..., dict[str, float]] = (
        partial(evaluate_bert, next_sentence_prediction=config.next_sentence_prediction)
        if config.kind == "bert" else evaluate_gpt)
    if model is None:  # not continued pretraining: a fresh model
        model = build_model(config, tokenizer)
        if config.kind == "bert" and config.init_bias_unigram:
            init_unigram_bias(model, data.train_docs)
    eval_batches = data.eval_batches(limit=config.eval_instances)
    saved = load_training_state(options.state_path) if options.resume else None
    if saved is None:
        state = PretrainState(total_steps=options.max_steps,
                              untrained_metrics=evaluate(model, data.eval_batches(limit=options.final_eval_limit)))
    else:
        state = PretrainState.from_saved(saved)
        model.load_state_dict(saved["model"])
    optimizer = _make_optimizer(model, config)
    if saved is not None:
        optimizer.load_state_dict(saved["optimizer"])
    objective = (BertPretrainingObjective(model, config.next_sentence_prediction) if config.kind == "bert"
                 else CausalLMObjective(model))
    objective, optimizer = accelerator.prepare(objective, optimizer)
    objective.train()
    return _Run(config, options, accelerator, tokenizer, data, objective, optimizer, evaluate, eval_batches, state)


def _next_batch(run: _Run) -> tuple[dict[str, torch.Tensor], int]:
    """This process's next training batch (on its device) and the step's seed; moves to the next epoch as needed.

    With several processes (``accelerate launch``) each takes its own batch of the same plan.
    """
    state, accelerator = run.state, run.accelerator
    ranks = accelerator.num_processes
    while state.batch_index + ranks > len(run.data.epoch_plan(state.epoch)):
        state.epoch, state.batch_index = state.epoch + 1, 0
    step_seed = run.config.seed * 1_000_003 + state.step * 7919 + accelerator.process_index
    batch = run.data.train_batch(state.epoch, state.batch_index + accelerator.process_index, step_seed)
    state.batch_index += ranks
    return move_to_device(batch, accelerator.device), step_seed


def _train_step(run: _Run) -> float:
    """One optimizer step on the next batch; returns the learning rate it used."""
    state, config = run.state, run.config
    batch, step_seed = _next_batch(run)
    torch.manual_seed(step_seed)  # dropout (if any) is a function of the step too
    learning_rate = learning_rate_at(state.step, config, state.total_steps or 10**9)
    for group in run.optimizer.param_groups:
        group["lr"] = learning_rate
    out = run.objective(**batch)
    run.accelerator.backward(out["loss"])
    if config.grad_clip:
        run.accelerator.clip_grad_norm_(run.objective.parameters(), config.grad_clip)
    run.optimizer.step()
    run.optimizer.zero_grad(set_to_none=True)
    state.step += 1
    state.tokens_seen += int(batch["input_ids"].numel()) * run.accelerator.num_processes
    for key in ("loss", "mlm_loss", "nsp_loss"):
        if key in out:
            value = out[key].item()
            state.running[key] = 0.98 * state.running.get(key, value) + 0.02 * value  # a moving average
    return learning_rate


def _reestimate_length(state: PretrainState, minutes: float, warmup_steps: int) -> None:
    """Time budget: set ``total_steps`` from the speed since the last estimate (machines are shared)."""
    now = time.perf_counter()
    elapsed = now - state.started_at
    if state.speed_mark is None or state.step == FIRST_ESTIMATE_AT_STEP:
        seconds_per_step = elapsed / state.step
    else:
        seconds_per_step = (now - state.speed_mark[1]) / (state.step - state.speed_mark[0])
    state.speed_mark = (state.step, now)
    state.total_steps = steps_within_budget(state.step, seconds_per_step, minutes * 60 - elapsed, warmup_steps)


def _log_metrics(run: _Run, learning_rate: float, bar: Any) -> None:
    """Measure the held-out metrics, append a row to the log, show them on the bar (or print a JSON line)."""
    state = run.state
    metrics = run.evaluate(run.model, run.eval_batches)
    row = {"step": state.step, "tokens": state.tokens_seen, "seconds": round(state.seconds(), 1),
           "lr": learning_rate, **{f"train_{k}": round(v, 4) for k, v in state.running.items()},
           **{f"val_{k}": v for k, v in metrics.items()}}
    state.log.append(row)
    bar.set_postfix({k: round(v, 3) for k, v in metrics.items() if isinstance(v, float)}, refresh=False)
    if run.options.print_metrics and not run.options.progress and run.accelerator.is_main_process:
        print(json.dumps(row), flush=True)


def _save(run: _Run) -> None:
    """Write ``state.pt`` and ``log.csv`` (main process only)."""
    if run.accelerator.is_main_process:
        save_training_state(run.options.state_path, run.model, run.optimizer, run.state, run.config)
        write_log_csv(run.state.log, Path(run.options.run_dir) / "log.csv")


def _finish(run: _Run, interrupted: bool) -> PretrainResult:
    """The result; unless interrupted, with the final held-out metrics and (``output_dir``) the export."""
    state, options = run.state, run.options
    result = PretrainResult(model=run.model, tokenizer=run.tokenizer, config=run.config, steps=state.step,
                            total_steps=state.total_steps or state.step, wall_seconds=state.seconds(), log=state.log,
                            untrained_metrics=state.untrained_metrics, interrupted=interrupted)
    if not interrupted:
        result.final_metrics = run.evaluate(result.model, run.data.eval_batches(limit=options.final_eval_limit))
        if options.output_dir is not None and run.accelerator.is_main_process:
            export_checkpoint(result, options.output_dir, tokens_seen=state.tokens_seen, command=options.command)
    return result


def pretrain(config: PretrainConfig | str, run_dir: str | Path | None = None, *,
             options: PretrainOptions | None = None, **option_fields: Any) -> PretrainResult:
    """Pretrain a BERT (MLM + NSP) or GPT (causal LM) from scratch or from a checkpoint; resumable.

    ``config``: a :class:`PretrainConfig` or a preset name. How the call runs is a
    :class:`PretrainOptions`: pass one as ``options``, or its fields as keywords
    (``pretrain("tiny-bert", "runs/x", max_steps=100, threads=1)``); see that class for each field.

    ``run_dir`` holds the tokenizer, ``state.pt`` (model, optimizer, data cursor: written atomically
    every ``checkpoint_every_s`` seconds and at the end) and ``log.csv``. The schedule length is
    ``max_steps``, or, with ``minutes``, estimated from the speed of the first 20 steps and re-estimated
    at every evaluation from the recent speed, so the run ends on time on a shared machine (the
    learning-rate schedule then follows the time budget; with ``max_steps`` it is a pure function of the
    step). ``resume=True`` continues from ``state.pt`` and gives the same weights as an uninterrupted
    run (with ``max_steps``). With ``output_dir`` the final model is exported there as a transformers
    checkpoint (float16 safetensors + tokenizer + ``training.json`` + ``training_log.csv``).

    ``tokenizer`` reuses an existing tokenizer instead of training one (``tokenizers``' WordPiece
    trainer breaks ties between equally frequent pieces differently from run to run, so two trainings
    can differ by a few vocabulary entries; a run's tokenizer is saved with it, and that saved
    tokenizer is what counts).
    """
    from tqdm.auto import tqdm

    config = get_preset(config) if isinstance(config, str) else config
    if options is None:
        options = PretrainOptions(run_dir=run_dir, **option_fields)
    elif run_dir is not None or option_fields:
        raise ConfigError("give either options=PretrainOptions(...) or run_dir and keywords, not both")
    run = _prepare_run(config, options)
    state = run.state
    bar = tqdm(total=state.total_steps, initial=state.step, desc=config.name, unit="step", dynamic_ncols=True,
               disable=not (options.progress and run.accelerator.is_main_process), mininterval=2.0)
    interrupted = False
    state.start_clock()
    while not _is_done(state):
        learning_rate = _train_step(run)
        if options.minutes is not None and is_estimate_step(state.step, config.eval_every):
            _reestimate_length(state, options.minutes, config.warmup_steps)
            bar.total = state.total_steps
        bar.update(1)
        if state.step % config.eval_every == 0 or state.step == state.total_steps:
            _log_metrics(run, learning_rate, bar)
        if options.stop_after_steps is not None and state.step >= options.stop_after_steps and not _is_done(state):
            interrupted = True
            break
        if state.seconds_since_save() > config.checkpoint_every_s:
            _save(run)
            state.mark_saved()
    bar.close()
    _save(run)
    return _finish(run, interrupted)
