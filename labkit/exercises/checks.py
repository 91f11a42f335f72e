"""Answer checks for exercises: they say right, or wrong with a hint, and never show the expected answer.

A check cell in a notebook wraps its checks in ``checking()``::

    with checks.checking():
        checks.check_hashed(share_positive, "5d41...", decimals=3,
                            hint="count the 1s in the label column, then divide by the number of sentences")

Three ways to compare an answer without putting the expected value in the notebook:

* ``check_hashed(value, digest, decimals=...)``: the value, rounded, is hashed (SHA-256) and compared
  with a stored digest; the instructor makes the digest with ``answer_digest(value, decimals=...)``.
  For numbers, strings, booleans, ``None`` and whole arrays (shape and every entry).
* ``check_close_to_reference(value, reference, ...)``: the reference is recomputed in the check cell by
  a function the learner did not write (PyTorch, scikit-learn, transformers, labkit); it is compared,
  never printed. A wrong shape, a flipped sign or a NaN each get their own message.
* ``check(condition, hint)``: a property the answer must have (a shape, a sign, a sum, a symmetry), and
  ``check_type(value, int, hint)`` for its type.

Every failure raises ``CheckFailed`` whose message is the check's hint. ``checking()`` turns what can
go wrong on the way into the same kind of message: a name not defined yet, a function that still
raises ``NotImplementedError`` (a student copy, before the answer is written), a placeholder ``...``,
or an error inside the learner's own code. In a notebook the message shows as one line, without a
traceback (IPython prints what ``CheckFailed._render_traceback_`` returns).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np

SALT = "labkit-exercise:"  # so a digest of a small number cannot be looked up in a table of common hashes
NOT_ANSWERED = "not answered yet: replace the `...` in the answer cell above with your answer, then run it"
NOT_IMPLEMENTED = ("not answered yet: the answer cell above still raises NotImplementedError; "
                   "write your code in place of that line, then run the cell")


class CheckFailed(AssertionError):
    """An exercise's answer is not right yet; the message is the check's hint (never the expected value)."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback: the hint, in one line."""
        return [f"\x1b[0;31mCheckFailed\x1b[0m: {self}"]


def check(condition: Any, hint: str) -> None:
    """Pass when ``condition`` is true; otherwise raise ``CheckFailed(hint)``."""
    if condition is Ellipsis:
        raise CheckFailed(NOT_ANSWERED)
    if not bool(condition):
        raise CheckFailed(hint)


def check_type(value: Any, expected: type | tuple[type, ...], hint: str) -> None:
    """Pass when ``value`` is of the ``expected`` type(s); ``...`` (not answered yet) gets its own message.

    ``int`` also accepts NumPy's integers, ``float`` any real number but a boolean, ``bool`` NumPy's
    booleans; ``type(None)`` accepts ``None``.
    """
    if value is Ellipsis:
        raise CheckFailed(NOT_ANSWERED)
    kinds = expected if isinstance(expected, tuple) else (expected,)
    is_bool = isinstance(value, (bool, np.bool_))
    for kind in kinds:
        if kind is int:
            matches = isinstance(value, numbers.Integral) and not is_bool
        elif kind is float:
            matches = isinstance(value, numbers.Real) and not is_bool
        elif kind is bool:
            matches = is_bool
        else:
            matches = isinstance(value, kind)
        if matches:
            return
    raise CheckFailed(f"{hint} (got {type(value).__name__})")


def answer_text(value: Any, decimals: int | None = None) -> str:
    """The canonical text of an answer, as hashed: numbers rounded to ``decimals`` places, arrays with their shape.

    Whole numbers (``int``, integer and boolean arrays) are written exactly and need no ``decimals``;
    floats need it. Strings are stripped of surrounding spaces.
    """
    if value is Ellipsis:
        raise CheckFailed(NOT_ANSWERED)
    if value is None or isinstance(value, (bool, np.bool_)):
        return str(None if value is None else bool(value))
    if isinstance(value, str):
        return value.strip()
    array = _as_array(value)
    if array is None:
        raise CheckFailed(f"expected a number, a string, True/False or an array, not a {type(value).__name__}")
    if array.ndim == 0 and array.dtype.kind in "iu":
        return str(int(array))
    if array.ndim == 0 and array.dtype.kind == "f":
        return _rounded(float(array), decimals)
    if array.dtype.kind == "b":
        entries = [int(entry) for entry in array.reshape(-1)]
    elif array.dtype.kind in "iu":
        entries = [int(entry) for entry in array.reshape(-1)]
    elif array.dtype.kind == "f":
        entries = [_rounded(float(entry), decimals) for entry in array.reshape(-1)]
    else:
        raise CheckFailed(f"expected numbers, got an array of {array.dtype}")
    return json.dumps({"dtype": array.dtype.kind, "shape": list(array.shape), "values": entries})


def answer_digest(value: Any, decimals: int | None = None) -> str:
    """The SHA-256 digest a check cell stores for ``value`` (what an instructor runs once, then pastes).

    Refuses a float within one part in a million of a rounding boundary at ``decimals`` places (a
    learner's answer computed in another order could round the other way): choose other decimals.
    """
    for number in _floats_in(value):
        scaled = abs(number) * 10 ** (decimals or 0)
        if abs(scaled - math.floor(scaled) - 0.5) < 1e-6 * max(1.0, scaled):
            raise ValueError(f"{number!r} is too close to a rounding boundary at {decimals} decimals: "
                             "hash it with another number of decimals")
    try:
        text = answer_text(value, decimals)
    except CheckFailed as error:  # for the instructor making a digest, a plain ValueError
        raise ValueError(str(error)) from None
    return hashlib.sha256((SALT + text).encode("utf-8")).hexdigest()


def check_hashed(value: Any, digest: str, *, hint: str, decimals: int | None = None) -> None:
    """Pass when ``value``, rounded to ``decimals`` places, hashes to ``digest``; otherwise ``CheckFailed(hint)``.

    Give the same ``decimals`` the digest was made with (``answer_digest``); whole numbers, strings and
    booleans need none. A float where a whole number is expected (or the reverse) fails with the hint.
    """
    if value is Ellipsis:
        raise CheckFailed(NOT_ANSWERED)
    if _is_float(value) and decimals is None:
        as_whole = float(_as_array(value))
        if not as_whole.is_integer():
            raise CheckFailed("expected a whole number, got " + type(value).__name__ + ". " + hint)
        value = int(as_whole)
    if hashlib.sha256((SALT + answer_text(value, decimals)).encode("utf-8")).hexdigest() != digest:
        raise CheckFailed(hint)


def check_close_to_reference(value: Any, reference: Any, *, hint: str, atol: float = 1e-6,
                             rtol: float = 1e-5) -> None:
    """Pass when ``value`` equals ``reference`` within ``atol + rtol * |reference|``, entry by entry.

    ``reference`` is recomputed by the check cell with a function the learner did not write; it is
    never shown. Booleans and whole numbers are compared exactly. Before the hint, the message names
    what is off without giving a value away: a wrong shape, True/False expected, NaN or infinity, or
    the sign flipped everywhere. Infinities must sit where the reference has them, with the same sign.
    """
    if value is Ellipsis:
        raise CheckFailed(NOT_ANSWERED)
    answer, expected = _as_array(value), _as_array(reference)
    if expected is None:
        raise TypeError(f"the reference must be a number or an array, got {type(reference).__name__}")
    if answer is None or answer.dtype.kind not in "biuf":
        raise CheckFailed(f"expected a number or an array of numbers, not a {type(value).__name__}. {hint}")
    if answer.size == expected.size and answer.size == 1:
        answer, expected = answer.reshape(()), expected.reshape(())
    if answer.shape != expected.shape:
        raise CheckFailed(f"your answer has shape {tuple(answer.shape)}; the check expects shape "
                          f"{tuple(expected.shape)}. {hint}")
    if expected.dtype.kind == "b":
        if answer.dtype.kind != "b":
            raise CheckFailed(f"expected True/False entries (a boolean {'tensor' if answer.ndim else 'value'}). {hint}")
        check(np.array_equal(answer, expected), hint)
        return
    if expected.dtype.kind in "iu" and answer.dtype.kind in "iu":
        check(np.array_equal(answer, expected), hint)
        return
    answer, expected = answer.astype(float), expected.astype(float)
    if np.isnan(answer).any() and not np.isnan(expected).any():
        raise CheckFailed(f"your answer contains NaN. {hint}")
    if np.allclose(answer, expected, atol=atol, rtol=rtol, equal_nan=True):  # infinities must match in place and sign
        return
    if np.abs(expected).max(initial=0.0) > atol and np.allclose(answer, -expected, atol=atol, rtol=rtol):
        raise CheckFailed(f"the sign is flipped. {hint}")
    raise CheckFailed(hint)


@contextlib.contextmanager
def checking() -> Iterator[None]:
    """Run a check cell's checks; whatever goes wrong inside becomes a ``CheckFailed`` with a readable message.

    ``CheckFailed`` and ``assert`` messages pass through as they are; a name not defined yet, a
    ``NotImplementedError`` (a function whose body is still the student copy's placeholder) and any
    other error raised by the learner's code are reported in one line, not as a traceback.
    """
    try:
        yield
    except CheckFailed:
        raise
    except AssertionError as error:
        raise CheckFailed(str(error) or "not yet") from None
    except NotImplementedError:
        raise CheckFailed(NOT_IMPLEMENTED) from None
    except NameError as error:
        raise CheckFailed(f"not answered yet: {error.name or str(error)!r} is not defined; "
                          "write your answer in the cell above and run it") from None
    except Exception as error:  # noqa: BLE001 - the learner's code may raise anything; say what, in one line
        if "ellipsis" in str(error).lower():  # e.g. float(...), ....shape: a placeholder still in place
            raise CheckFailed(NOT_ANSWERED) from None
        first_line = (str(error).strip().splitlines() or [""])[0][:200]
        raise CheckFailed(f"your code raised {type(error).__name__}: {first_line}") from None


def _as_array(value: Any) -> np.ndarray | None:
    """``value`` as a numpy array (tensors detached and moved to the CPU), or None when it is not numeric."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, without importing torch
        value = value.detach().cpu().numpy()
    if isinstance(value, (str, bytes, dict)) or value is None:
        return None
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        return None
    return array if array.dtype.kind in "biuf" else None


def _is_float(value: Any) -> bool:
    array = _as_array(value)
    return array is not None and array.ndim == 0 and array.dtype.kind == "f"


def _floats_in(value: Any) -> list[float]:
    array = _as_array(value)
    if array is None or array.dtype.kind != "f":
        return []
    return [float(entry) for entry in array.reshape(-1)]


def _rounded(number: float, decimals: int | None) -> str:
    if decimals is None:
        raise CheckFailed("expected a whole number, got a float")
    if not math.isfinite(number):
        return str(number)
    text = f"{number:.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text  # -0.000 is 0.000
