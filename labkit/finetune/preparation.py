"""Getting a labelled dataset ready for fine-tuning: checks that fail clearly, label ids, tokenisation.

``check_dataset`` turns every way a dataset can be unusable (a missing split or column, an empty split,
empty texts, a single class) into a ``DatasetError`` that names the problem; ``tokenize_splits`` turns
texts into model inputs and announces truncation instead of hiding it.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from labkit.errors import DatasetError


def check_dataset(dataset: Any, text_column: str = "text", label_column: str = "label",
                  splits: Sequence[str] = ("train", "validation", "test")) -> list[str]:
    """Check that ``dataset`` can be used for classification; return the class names.

    ``dataset`` must be a ``datasets.DatasetDict`` with the given ``splits``, each non-empty and with
    ``text_column`` (strings) and ``label_column`` (a ``ClassLabel``, integers ``0..k-1`` or strings).
    Raises ``DatasetError`` naming what is wrong: a missing split or column, an empty split, empty
    texts, or fewer than two classes in the training split.
    """
    from datasets import ClassLabel, DatasetDict

    if not isinstance(dataset, DatasetDict):
        raise DatasetError(f"expected a datasets.DatasetDict, got {type(dataset).__name__}")
    missing = [split for split in splits if split not in dataset]
    if missing:
        raise DatasetError(f"the dataset has no {', '.join(missing)} split (it has: {', '.join(dataset)})")
    for split in splits:
        part = dataset[split]
        if len(part) == 0:
            raise DatasetError(f"the {split} split is empty")
        absent = [column for column in (text_column, label_column) if column not in part.column_names]
        if absent:
            raise DatasetError(
                f"the {split} split has no column {', '.join(map(repr, absent))}; "
                f"its columns are: {', '.join(part.column_names)}"
            )
        texts = part[text_column]
        empty = sum(1 for text in texts if not isinstance(text, str) or not text.strip())
        if empty:
            raise DatasetError(f"{empty} example(s) in the {split} split have an empty or non-text {text_column!r}")
    feature = dataset[splits[0]].features[label_column]
    if isinstance(feature, ClassLabel):
        names = list(feature.names)
    else:
        values = sorted({value for split in splits for value in dataset[split][label_column]}, key=str)
        if all(isinstance(value, (int, np.integer)) for value in values):
            if values != list(range(len(values))):
                raise DatasetError(f"integer labels must be 0..k-1, got {values[:10]}")
        names = [str(value) for value in values]
    train_classes = set(dataset[splits[0]][label_column])
    if len(train_classes) < 2:
        raise DatasetError(
            f"the {splits[0]} split has a single class ({next(iter(train_classes))!r}); "
            "a classifier needs at least two"
        )
    return names


def limit_training_set(dataset: Any, train_limit: int, seed: int = 0) -> Any:
    """A copy of ``dataset`` whose train split is a seeded random sample of ``train_limit`` examples."""
    from datasets import DatasetDict

    if train_limit < 2:
        raise DatasetError(f"train_limit must be at least 2, got {train_limit}")
    train = dataset["train"].shuffle(seed=seed)
    return DatasetDict({**dataset, "train": train.select(range(min(train_limit, len(train))))})


def label_ids(values: Sequence[Any], label_names: list[str]) -> list[int]:
    """Labels as class indices: integers pass through, strings are looked up in ``label_names``."""
    if all(isinstance(value, (int, np.integer)) for value in values):
        return [int(value) for value in values]
    index = {name: i for i, name in enumerate(label_names)}
    return [index[str(value)] for value in values]


class TruncationWarning(UserWarning):
    """Texts longer than ``max_length`` tokens were cut. Expected for long documents: a notebook that
    has explained it may filter this category (``warnings.filterwarnings("ignore", category=...)``)."""


def count_truncated(tokenizer: Any, texts: Sequence[str], max_length: int) -> tuple[int, int]:
    """How many ``texts`` have more than ``max_length`` tokens (special tokens included), and the longest."""
    from transformers.utils import logging as transformers_logging

    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()  # counting long texts is the point: no "too long" notice
    try:
        lengths = [len(ids) for ids in tokenizer(list(texts), truncation=False)["input_ids"]]
    finally:
        transformers_logging.set_verbosity(verbosity)
    return sum(length > max_length for length in lengths), max(lengths, default=0)


def tokenize_splits(dataset: Any, tokenizer: Any, text_column: str, label_column: str,
                    label_names: list[str], max_length: int, announce: bool = True) -> dict[str, Any]:
    """Tokenise every split with ``datasets.map`` (batched); return ``{split: Dataset}``.

    Each row gets ``input_ids``, ``attention_mask`` (and ``token_type_ids`` for BERT) of at most
    ``max_length`` tokens, plus ``labels``. Texts longer than ``max_length`` are truncated, and that
    is announced in one ``TruncationWarning`` (how many, per split), never silent.
    """
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()
    tokenised, truncated = {}, []
    for split, part in dataset.items():
        too_long, longest = count_truncated(tokenizer, list(part[text_column]), max_length)
        if too_long:
            truncated.append(f"{split} {too_long} of {len(part)} (longest {longest})")

        def encode(batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
            encoded = tokenizer(batch[text_column], truncation=True, max_length=max_length)
            encoded["labels"] = label_ids(batch[label_column], label_names)
            return encoded

        tokenised[split] = part.map(encode, batched=True, remove_columns=part.column_names)
    if truncated and announce:
        warnings.warn(f"texts longer than max_length={max_length} tokens were truncated: {'; '.join(truncated)}",
                      TruncationWarning, stacklevel=3)
    return tokenised
