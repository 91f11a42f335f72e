"""Learning curves: the same candidates at several training-set sizes, each point trained alike."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from labkit.errors import MissingFileError
from labkit.selection.candidates import Candidate, parse_candidate
from labkit.selection.results import load_results, seed_folder, seeds_in
from labkit.selection.running import compare
from labkit.selection.tasks import Task, builtin_task

# Learning curves over training-set size


def load_learning_curve(output: str | Path) -> pd.DataFrame:
    """The table of a (finished or partial) ``learning_curve`` run: one row per size and candidate."""
    folders = sorted(Path(output).glob("train-*"))
    if not folders:
        raise MissingFileError(f"no learning curve under {output} (run `labkit finetune --sizes ...` first)")
    tables = [load_results(folder) for folder in folders if any(folder.glob("*/record.json"))]
    return pd.concat(tables, ignore_index=True).sort_values(["train_examples", "candidate"], ignore_index=True)


def learning_curve_over_seeds(output: str | Path, metric: str = "accuracy") -> pd.DataFrame:
    """The spread of a learning curve *between training seeds*: one row per size and candidate.

    Reads seed 0 from ``output`` and seed n from ``output/seed-<n>`` (``labkit finetune --sizes ...
    --seeds 0,1,2``). Columns: ``metric`` (the mean over the seeds), ``<metric>_low`` and
    ``<metric>_high`` (the lowest and highest seed: the band ``viz.learning_curves`` draws),
    ``<metric>_std`` (the standard deviation between seeds) and ``seeds`` (how many were run at that
    point). Unlike a bootstrap band of one run, this band is training variance: a different initial
    head, order of batches and training sample at the same size.
    """
    tables = []
    for seed in seeds_in(output):
        table = load_learning_curve(seed_folder(output, seed))
        tables.append(table.assign(seed=seed)[["candidate", "train_examples", "seed", metric]])
    if not tables:
        raise MissingFileError(f"no learning curve under {output}")
    grouped = pd.concat(tables, ignore_index=True).groupby(["candidate", "train_examples"])[metric]
    summary = grouped.agg(["mean", "min", "max", "std", "count"]).reset_index()
    return summary.rename(columns={"mean": metric, "min": f"{metric}_low", "max": f"{metric}_high",
                                   "std": f"{metric}_std", "count": "seeds"})


def small_data_recipe(candidate: Candidate, train_size: int, *, min_steps: int = 100,
                      max_epochs: int = 30) -> dict[str, Any]:
    """Recipe overrides for one point of a learning curve: enough steps, and no early stopping.

    A recipe's epoch count is chosen for the full training set; 100 examples at batch 32 and 2 epochs
    would be 8 steps, and the curve would then measure under-training instead of data size. So the
    number of epochs grows until there are at least ``min_steps`` steps (at most ``max_epochs``), with
    one validation check per epoch. And every run trains to the end of its schedule (the patience is
    the number of checks), keeping the weights of its best validation check: on a small training set
    validation accuracy can sit flat for a while (a network from random weights first predicts the
    majority class), and a short patience would stop it before it has learned anything, which measures
    the stopping rule, not the model. The classical candidates (TF-IDF baselines, TextGCN) have no
    recipe and need no overrides.
    """
    if candidate.is_classical:
        return {}
    recipe = candidate.recipe()
    steps_per_epoch = -(-train_size // recipe.batch_size)
    epochs = min(max_epochs, -(-min_steps // steps_per_epoch))
    if epochs <= recipe.epochs:
        return {"patience": recipe.epochs * recipe.evaluations_per_epoch}
    return {"epochs": epochs, "evaluations_per_epoch": 1, "patience": epochs}


def learning_curve(task: Task | str, candidates: Sequence[Candidate | str], sizes: Sequence[int],
                   output: str | Path, *, seed: int = 0, min_steps: int = 100, max_epochs: int = 30,
                   progress: bool = True, log: Callable[[str], None] = print) -> pd.DataFrame:
    """Run every candidate once per training-set size (a seeded sample of the train split); one table.

    Each size has its own folder ``<output>/train-<size>/``, so the curve is resumable like ``compare``.
    A size larger than the train split is clipped to it. Small sizes train for more epochs, and no run
    stops early (see ``small_data_recipe``); validation and test sets stay whole, so every point is
    measured alike. (After the four arguments that say what to run, the options are keyword-only with
    defaults, like ``compare``'s.)
    """
    task = builtin_task(task) if isinstance(task, str) else task
    if not sizes or min(sizes) < 2:
        raise ValueError(f"sizes must be training-set sizes of at least 2, got {list(sizes)}")
    parsed = [parse_candidate(c) if isinstance(c, str) else c for c in candidates]
    available = len(task.dataset["train"])
    tables = []
    for size in sorted({min(int(size), available) for size in sizes}):
        log(f"training-set size {size}")
        for candidate in parsed:
            overrides = small_data_recipe(candidate, size, min_steps=min_steps, max_epochs=max_epochs)
            tables.append(compare(task, [candidate], Path(output) / f"train-{size}", seed=seed,
                                  train_limit=None if size == available else size, overrides=overrides or None,
                                  progress=progress, log=log))
    return pd.concat(tables, ignore_index=True).sort_values(["train_examples", "candidate"], ignore_index=True)
