"""How long a run trains and at what learning rate: warmup + linear decay, and the time budget.

With ``max_steps`` the schedule is a pure function of the step. With ``minutes`` the number of steps
is estimated from the measured speed (after 20 steps, then again at every evaluation from the recent
speed), so a run ends on time on a shared machine; the learning rate then follows the time budget.
"""

from __future__ import annotations

from labkit.pretraining.presets import PretrainConfig

FIRST_ESTIMATE_AT_STEP = 20  # with a time budget, the first estimate of the run's length comes after this step


def learning_rate_at(step: int, config: PretrainConfig, total_steps: int) -> float:
    """Linear warmup over ``warmup_steps``, then linear decay to ``min_lr_ratio * learning_rate``."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, total_steps - config.warmup_steps))
    return config.learning_rate * (config.min_lr_ratio + (1 - config.min_lr_ratio) * (1 - progress))


def is_estimate_step(step: int, eval_every: int) -> bool:
    """Whether a time-budgeted run (re)estimates its length after ``step``: at step 20, then at every evaluation."""
    return step == FIRST_ESTIMATE_AT_STEP or (step > FIRST_ESTIMATE_AT_STEP and step % eval_every == 0)


def steps_within_budget(step: int, seconds_per_step: float, seconds_left: float, warmup_steps: int) -> int:
    """The schedule's length when ``seconds_left`` remain at ``seconds_per_step`` (never before the end of
    warmup, and at least one more step)."""
    return max(warmup_steps + 1, step + 1, step + int(seconds_left / seconds_per_step))
