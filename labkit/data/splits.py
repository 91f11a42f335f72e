"""Fixed, exactly stratified splits, assigned by hashing each example's id with a salt.

Within each class, examples are ordered by ``sha256(salt:id)``, so a split is independent of any
library's random number generator and identical on every machine and every run. The build of
``data/`` uses this to write the ``split`` column the loaders read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from labkit.errors import DataError

SPLIT_SALT = "labkit-v1"


def split_key(salt: str, example_id: str) -> str:
    """The sort key that places an example within its class: ``sha256(salt:id)`` as hex."""
    return hashlib.sha256(f"{salt}:{example_id}".encode()).hexdigest()


def stratified_split(
    ids: Sequence[str],
    labels: Sequence[object],
    fractions: dict[str, float],
    salt: str = SPLIT_SALT,
) -> list[str]:
    """Assign each example to a split, exactly stratified by label and independent of any RNG.

    Within each label, examples are ordered by ``sha256(salt:id)``; the first ``round(n*f)`` go to
    the first split named in ``fractions``, the next ones to the second, and the rest to the last.
    Returns one split name per example, in input order. Ids must be unique.
    """
    if len(ids) != len(labels):
        raise DataError(f"ids and labels differ in length ({len(ids)} vs {len(labels)})")
    if len(set(ids)) != len(ids):
        raise DataError("ids must be unique to assign a stable split")
    if not fractions or abs(sum(fractions.values()) - 1.0) > 1e-9:
        raise DataError(f"split fractions must sum to 1, got {fractions}")
    names = list(fractions)
    assignment = [""] * len(ids)
    by_label: dict[object, list[int]] = {}
    for index, label in enumerate(labels):
        by_label.setdefault(label, []).append(index)
    for members in by_label.values():
        members.sort(key=lambda i: split_key(salt, str(ids[i])))
        start = 0
        for position, name in enumerate(names):
            if position == len(names) - 1:
                stop = len(members)
            else:
                stop = start + round(len(members) * fractions[name])
            for i in members[start:stop]:
                assignment[i] = name
            start = stop
    return assignment
