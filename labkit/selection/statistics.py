"""Is a difference real? Paired comparisons across test examples and across training seeds, and the
optimism of choosing the best candidate by its test score."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from labkit import evaluation
from labkit.errors import MissingFileError
from labkit.selection.results import load_predictions, seed_folder, seeds_in


def paired_comparison(output: str | Path, candidate_a: str, candidate_b: str, *, seed: int = 0,
                      n_resamples: int = 2000) -> dict[str, Any]:
    """Is B really better than A on the same test set? Paired bootstrap of accuracy + McNemar."""
    a, b = load_predictions(output, candidate_a), load_predictions(output, candidate_b)
    if not np.array_equal(a["label"].to_numpy(), b["label"].to_numpy()):
        raise ValueError("the two candidates were not evaluated on the same test examples")
    labels = a["label"].to_numpy()
    bootstrap = evaluation.paired_bootstrap("accuracy", labels, a["prediction"].to_numpy(),
                                            b["prediction"].to_numpy(), n_resamples=n_resamples, seed=seed,
                                            name_a=candidate_a, name_b=candidate_b)
    mcnemar = evaluation.mcnemar_test(labels, a["prediction"].to_numpy(), b["prediction"].to_numpy())
    return {"a": candidate_a, "b": candidate_b, "accuracy_a": bootstrap.value_a, "accuracy_b": bootstrap.value_b,
            "difference": bootstrap.difference, "difference_low": bootstrap.low, "difference_high": bootstrap.high,
            "bootstrap_p": bootstrap.p_value, "mcnemar_p": mcnemar.p_value, "mcnemar_method": mcnemar.method,
            "significant": bool(bootstrap.significant), "mcnemar_significant": bool(mcnemar.significant),
            "verdict": bootstrap.verdict}


def seed_paired_difference(output: str | Path, candidate_a: str, candidate_b: str, *, n_resamples: int = 2000,
                           seed: int = 0) -> dict[str, Any]:
    """B minus A test accuracy over every training seed that ran both, with an interval that covers
    training variance as well as test sampling.

    One seed's paired bootstrap only resamples the test set: it says nothing about how much the gap
    would move if the two networks were trained again with other seeds (other initial heads, other
    data orders, other dropout). Here each bootstrap round draws the seeds with replacement *and* the
    test examples with replacement (a two-level bootstrap), and averages B - A over the drawn seeds.
    With three seeds the interval is rough, and it is honest about it: it widens when seeds disagree.
    Returns ``per_seed`` differences, their ``mean``, the interval ``low``/``high`` and ``seeds``.
    """
    correct: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for run_seed in seeds_in(output):
        folder = seed_folder(output, run_seed)
        if all((folder / name / "predictions.parquet").is_file() for name in (candidate_a, candidate_b)):
            pair = correctness(folder, [candidate_a, candidate_b])
            correct[run_seed] = (pair[candidate_a].astype(float), pair[candidate_b].astype(float))
    if not correct:
        raise MissingFileError(f"no seed under {output} has both {candidate_a!r} and {candidate_b!r}")
    seeds = sorted(correct)
    n_test = len(next(iter(correct.values()))[0])
    differences = np.stack([correct[s][1] - correct[s][0] for s in seeds])  # (seeds, n_test)
    rng = np.random.default_rng(seed)
    rounds = np.empty(n_resamples)
    for index in range(n_resamples):
        drawn = differences[rng.integers(0, len(seeds), len(seeds))]
        rounds[index] = drawn[:, rng.integers(0, n_test, n_test)].mean()
    per_seed = {s: float(differences[i].mean()) for i, s in enumerate(seeds)}
    return {"a": candidate_a, "b": candidate_b, "seeds": seeds, "per_seed": per_seed,
            "mean": float(np.mean(list(per_seed.values()))), "low": float(np.percentile(rounds, 2.5)),
            "high": float(np.percentile(rounds, 97.5))}


# Why choose on validation: the optimism of the maximum


@dataclass
class ChoiceOptimism:
    """What choosing the best of several candidates by their test score does, measured by the bootstrap.

    The saved test set stands in for the population: each bootstrap resample of it is a new test set
    of the same size, and a candidate's accuracy on the whole test set is its "true" accuracy. In each
    resample the winner is chosen twice: by the resampled *test* accuracy, and by the accuracy on an
    independent resample of the *validation* set. ``optimism_test_choice`` is the mean of (the test-chosen
    winner's resampled test accuracy - its true accuracy): how much the reported score of a model chosen
    on test flatters it. ``optimism_validation_choice`` is the same for the validation-chosen model,
    whose reported test score is unbiased (about 0). ``choices_differ`` is the share of resamples in
    which the two rules pick different candidates; ``test_winner_shares`` how often each candidate wins
    on test.
    """

    candidates: list[str]
    choices_differ: float
    optimism_test_choice: float
    optimism_test_choice_low: float
    optimism_test_choice_high: float
    optimism_validation_choice: float
    test_winner_shares: dict[str, float]
    n_resamples: int


def choice_optimism(validation_correct: dict[str, np.ndarray], test_correct: dict[str, np.ndarray], *,
                    n_resamples: int = 2000, seed: int = 0) -> ChoiceOptimism:
    """Bootstrap the choice among candidates on validation vs on test (see ``ChoiceOptimism``).

    ``validation_correct`` and ``test_correct`` map each candidate to a boolean array ``(n_examples,)``
    saying which examples of that split it got right; all candidates share the examples of a split.
    """
    names = list(test_correct)
    if len(names) < 2 or set(names) != set(validation_correct):
        raise ValueError("give at least two candidates, the same ones for validation and test")
    validation = np.stack([np.asarray(validation_correct[name], dtype=float) for name in names])  # (k, n_val)
    test = np.stack([np.asarray(test_correct[name], dtype=float) for name in names])  # (k, n_test)
    rng = np.random.default_rng(seed)
    true_accuracy = test.mean(axis=1)
    differ, optimism_test, optimism_validation = 0, [], []
    wins = np.zeros(len(names))
    for _ in range(n_resamples):
        test_accuracy = test[:, rng.integers(0, test.shape[1], test.shape[1])].mean(axis=1)
        validation_accuracy = validation[:, rng.integers(0, validation.shape[1], validation.shape[1])].mean(axis=1)
        by_test, by_validation = int(test_accuracy.argmax()), int(validation_accuracy.argmax())
        differ += by_test != by_validation
        wins[by_test] += 1
        optimism_test.append(test_accuracy[by_test] - true_accuracy[by_test])
        optimism_validation.append(test_accuracy[by_validation] - true_accuracy[by_validation])
    optimism_test_array = np.asarray(optimism_test)
    return ChoiceOptimism(names, differ / n_resamples, float(optimism_test_array.mean()),
                          float(np.percentile(optimism_test_array, 2.5)),
                          float(np.percentile(optimism_test_array, 97.5)),
                          float(np.mean(optimism_validation)),
                          dict(zip(names, (wins / n_resamples).tolist(), strict=True)), n_resamples)


def correctness(output: str | Path, candidates: Sequence[str], split: str = "test") -> dict[str, np.ndarray]:
    """``{candidate: boolean array of which examples of split it got right}`` from saved predictions."""
    frames = {name: load_predictions(output, name, split) for name in candidates}
    return {name: (frame["label"] == frame["prediction"]).to_numpy() for name, frame in frames.items()}
