"""labkit.claims: a sentence that no longer matches its number fails loudly."""

from __future__ import annotations

import pytest

from labkit.claims import ClaimError, claim, claim_difference, claim_no_difference, claim_number


def test_claim_passes_and_fails_with_the_sentence_in_the_message() -> None:
    claim("two is more than one", 2 > 1)
    with pytest.raises(ClaimError, match="one is more than two.*1 vs 2"):
        claim("one is more than two", 1 > 2, "1 vs 2")


def test_claim_number_rounding() -> None:
    assert claim_number("accuracy 0.877", 0.87701, 0.877, decimals=3) == pytest.approx(0.87701)
    with pytest.raises(ClaimError, match="rounds to 0.878"):
        claim_number("accuracy 0.877", 0.8776, 0.877, decimals=3)


def test_claim_number_tolerance_and_arguments() -> None:
    claim_number("about 25 minutes", 27.0, 25, tolerance=3)
    with pytest.raises(ClaimError):
        claim_number("about 25 minutes", 29.0, 25, tolerance=3)
    with pytest.raises(ValueError, match="exactly one"):
        claim_number("x", 1.0, 1.0)
    with pytest.raises(ValueError, match="exactly one"):
        claim_number("x", 1.0, 1.0, decimals=1, tolerance=0.1)
    with pytest.raises(ClaimError, match="nan"):
        claim_number("x", float("nan"), 1.0, decimals=1)


def test_intervals() -> None:
    claim_no_difference("no difference", -0.02, 0.03)
    with pytest.raises(ClaimError, match="excludes zero"):
        claim_no_difference("no difference", 0.01, 0.03)
    claim_difference("B is better", 0.01, 0.03)
    claim_difference("B is worse", -0.05, -0.01, sign=-1)
    with pytest.raises(ClaimError, match="not wholly above"):
        claim_difference("B is better", -0.01, 0.03)
    with pytest.raises(ValueError):
        claim_difference("x", 0.1, 0.2, sign=0)
