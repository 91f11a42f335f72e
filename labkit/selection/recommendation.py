"""Pareto fronts and recommendations under constraints, chosen on validation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# Pareto front and recommendation

DEFAULT_OBJECTIVES: dict[str, str] = {"accuracy": "max", "latency_ms_p50": "min", "parameters": "min"}


def pareto_front(results: pd.DataFrame, objectives: dict[str, str] | None = None) -> pd.Series:
    """Which rows are Pareto-optimal: no other row is at least as good on every objective and better on one.

    ``objectives`` maps a column to ``"max"`` or ``"min"`` (default: accuracy up, latency and size down).
    Returns a boolean Series aligned with ``results``.
    """
    objectives = objectives or DEFAULT_OBJECTIVES
    for column, direction in objectives.items():
        if column not in results.columns:
            raise KeyError(f"results have no column {column!r} (columns: {', '.join(results.columns)})")
        if direction not in {"max", "min"}:
            raise ValueError(f"objective {column!r} must be 'max' or 'min', got {direction!r}")
    # turn every objective into "larger is better"
    scores = np.column_stack([results[c].to_numpy(dtype=float) * (1 if d == "max" else -1)
                              for c, d in objectives.items()])
    dominated = np.zeros(len(results), dtype=bool)
    for i in range(len(results)):
        at_least_as_good = (scores >= scores[i]).all(axis=1)
        strictly_better = (scores > scores[i]).any(axis=1)
        dominated[i] = bool((at_least_as_good & strictly_better).any())
    return pd.Series(~dominated, index=results.index, name="pareto_optimal")


@dataclass
class Recommendation:
    """The outcome of ``recommend``: the choice (or None), why, and what each constraint ruled out."""

    choice: str | None
    rationale: str
    feasible: pd.DataFrame
    ruled_out: dict[str, str]

    def __str__(self) -> str:
        return self.rationale


def recommend(results: pd.DataFrame, *, metric: str = "accuracy", choose_on: str = "validation",
              max_latency_ms: float | None = None, max_params: float | None = None,
              min_metric: float | None = None, max_train_seconds: float | None = None,
              max_size_mb: float | None = None, max_flip_rate: float | None = None) -> Recommendation:
    """Pick the candidate with the best validation ``metric`` among those meeting every constraint.

    The choice and the ``min_metric`` bound use the ``validation_<metric>`` column (``choose_on=
    "validation"``, the default): choosing by test score would make the chosen model's test score an
    optimistic estimate. The rationale then reports the chosen model's *test* score with its interval,
    once, naming the split of every number. ``choose_on="test"`` exists only to demonstrate that
    optimism (notebook 06).

    Every argument after ``results`` is keyword-only. Constraints: upper bounds on ``latency_ms_p50``,
    ``parameters``, ``train_seconds``, ``size_mb`` and the validation gender-swap flip rate
    (:mod:`labkit.selection.fairness`). A candidate whose constrained value is missing is ruled out: an
    unknown latency does not meet a latency limit. Ties go to fewer parameters, then lower latency.
    When nothing fits, ``choice`` is ``None`` and the rationale says which constraints bind.
    """
    if results.empty:
        raise ValueError("no results to choose from")
    if choose_on not in {"validation", "test"}:
        raise ValueError(f"choose_on must be 'validation' or 'test', got {choose_on!r}")
    ranking = f"validation_{metric}" if choose_on == "validation" else metric
    for column in (ranking, metric):
        if column not in results.columns:
            hint = (" (these results predate validation metrics: re-run them with `labkit finetune`)"
                    if column.startswith("validation_") else "")
            raise KeyError(f"results have no column {column!r}{hint}")
    split = "validation" if choose_on == "validation" else "test"
    constraints = [  # (column, bound, "max" if the bound is an upper limit, what it is, unit)
        ("latency_ms_p50", max_latency_ms, "max", "latency (p50)", " ms"),
        ("parameters", max_params, "max", "parameters", ""),
        ("train_seconds", max_train_seconds, "max", "training time", " s"),
        ("size_mb", max_size_mb, "max", "size on disk", " MB"),
        ("validation_counterfactual_flip_rate", max_flip_rate, "max", "validation gender-swap flip rate", ""),
        (ranking, min_metric, "min", f"{split} {metric}", ""),
    ]
    ruled_out: dict[str, str] = {}
    keep = pd.Series(True, index=results.index)
    for column, bound, kind, what, unit in constraints:
        if bound is None:
            continue
        if column not in results.columns:
            raise KeyError(f"results have no column {column!r} for this constraint")
        values = pd.to_numeric(results[column], errors="coerce")
        fails = values.isna() | (values > bound if kind == "max" else values < bound)
        for index in results.index[fails]:
            name = results.at[index, "candidate"]
            if pd.isna(values[index]):
                reason = f"{what} not measured, so it cannot be shown to meet the limit of {bound:,.3g}{unit}"
            else:
                reason = (f"{what} {values[index]:,.3g}{unit}, "
                          f"{'over' if kind == 'max' else 'under'} the limit of {bound:,.3g}{unit}")
            ruled_out[name] = f"{ruled_out[name]}; {reason}" if name in ruled_out else reason
        keep &= ~fails
    feasible = results[keep].sort_values([ranking, "parameters", "latency_ms_p50"], ascending=[False, True, True])
    asked = [f"{what} {'<=' if kind == 'max' else '>='} {bound:,.3g}{unit}"
             for column, bound, kind, what, unit in constraints if bound is not None]
    asked_text = ", ".join(asked) if asked else "no constraints"
    if feasible.empty:
        closest = results.sort_values(ranking, ascending=False).head(3)
        lines = [f"No candidate meets all constraints ({asked_text})."]
        lines += [f"- {row.candidate}: {ruled_out.get(row.candidate, '')}" for row in closest.itertuples()]
        lines.append("Relax the binding constraint, or consider a smaller model or a classical baseline.")
        return Recommendation(None, "\n".join(lines), feasible, ruled_out)
    best = feasible.iloc[0]
    text = (f"Choose {best['candidate']}: the best {split} {metric} ({best[ranking]:.3f}) of "
            f"{len(feasible)} candidate(s) meeting {asked_text}; {best['parameters']:,.0f} parameters, "
            f"{best['latency_ms_p50']:.2f} ms per example.")
    if choose_on == "validation":
        text += (f" Its test {metric}, measured once after choosing: {best[metric]:.3f}"
                 + (f" (95% CI {best[metric + '_low']:.3f} to {best[metric + '_high']:.3f})"
                    if f"{metric}_low" in best else "") + ".")
    if len(feasible) > 1:
        runner_up = feasible.iloc[1]
        text += (f" Runner-up: {runner_up['candidate']} ({split} {metric} {runner_up[ranking]:.3f}); check whether "
                 "the gap is real with a paired test before paying for the difference.")
    if ruled_out:
        text += " Ruled out: " + "; ".join(f"{name} ({why})" for name, why in ruled_out.items()) + "."
    return Recommendation(str(best["candidate"]), text, feasible, ruled_out)
