"""Checking what a notebook's prose says against the numbers its code computes.

A sentence such as "MiniLM reaches 0.877" or "the pretrained network is ahead" is only true for the
run that was in front of its author. The cell after such a sentence calls one of these functions, so
a re-run that changes the number or the ordering fails the notebook (it is executed as a test)
instead of leaving a false sentence behind::

    claim_number("MiniLM reaches 0.877 test accuracy", results.accuracy["minilm-l6"], 0.877, decimals=3)
    claim("the pretrained network beats random init", pretrained > random_init)
    claim_no_difference("the two are within noise", difference_low, difference_high)

Each function returns quietly when the sentence holds and raises ``ClaimError`` (an
``AssertionError``) quoting the sentence and the measured value when it does not.
"""

from __future__ import annotations

import math


class ClaimError(AssertionError):
    """A sentence in the prose no longer matches what the code measured."""


def claim(sentence: str, condition: bool, evidence: str = "") -> None:
    """Assert that ``sentence`` holds: ``condition`` is what the code measured for it.

    ``evidence`` (e.g. the two numbers compared) is added to the message when the claim fails.
    """
    if not bool(condition):
        raise ClaimError(f"the text says {sentence!r}, but the measurement disagrees"
                         + (f": {evidence}" if evidence else ""))


def claim_number(sentence: str, value: float, stated: float, *, decimals: int | None = None,
                 tolerance: float | None = None) -> float:
    """Assert that the number the text states (``stated``) is the measured ``value``; return ``value``.

    Give exactly one of ``decimals`` (the text shows ``value`` rounded to that many places, so
    ``round(value, decimals) == stated``) or ``tolerance`` (the text is an approximation:
    ``abs(value - stated) <= tolerance``, e.g. "about 25 minutes").
    """
    if (decimals is None) == (tolerance is None):
        raise ValueError("give exactly one of decimals= (the text rounds) or tolerance= (the text approximates)")
    if not math.isfinite(float(value)):
        raise ClaimError(f"the text says {sentence!r}, but the measured value is {value}")
    if decimals is not None:
        holds = round(float(value), decimals) == round(float(stated), decimals)
        detail = f"measured {float(value):.{decimals + 2}f}, which rounds to {round(float(value), decimals)}"
    else:
        if tolerance < 0:
            raise ValueError(f"tolerance must be non-negative, got {tolerance}")
        holds = abs(float(value) - float(stated)) <= tolerance
        detail = f"measured {float(value):.6g}, more than {tolerance:g} away from {stated:g}"
    claim(sentence, holds, detail)
    return float(value)


def claim_no_difference(sentence: str, low: float, high: float) -> None:
    """Assert that a difference's confidence interval ``[low, high]`` includes zero (inside the noise)."""
    claim(sentence, low <= 0.0 <= high, f"the interval [{low:+.4f}, {high:+.4f}] excludes zero")


def claim_difference(sentence: str, low: float, high: float, *, sign: int = +1) -> None:
    """Assert that a difference's interval ``[low, high]`` lies wholly above zero (``sign=+1``) or below (-1)."""
    if sign not in (+1, -1):
        raise ValueError(f"sign must be +1 or -1, got {sign}")
    holds = low > 0.0 if sign > 0 else high < 0.0
    side = "above" if sign > 0 else "below"
    claim(sentence, holds, f"the interval [{low:+.4f}, {high:+.4f}] is not wholly {side} zero")
