"""Tasks: a dataset with train / validation / test splits to compare candidates on (shipped, or a user's CSV)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labkit import finetune


@dataclass
class Task:
    """A dataset to compare candidates on, plus optional extra test sets (other domains)."""

    name: str
    dataset: Any  # datasets.DatasetDict with train / validation / test
    text_column: str = "text"
    label_column: str = "label"
    max_length: int = 128
    extra_test_sets: dict[str, Any] | None = None  # name -> datasets.Dataset with the same columns
    source: dict[str, Any] | None = None  # for a user's file: name, sha256, rows read / kept / dropped


def builtin_task(name: str) -> Task:
    """The kit's shipped tasks: ``sentiment`` (movies; amazon / nyt / tweets as extra test sets),
    ``topic`` (20 Newsgroups) and ``reuters`` (Reuters R8)."""
    from labkit import data

    if name == "sentiment":
        extra = {domain: data.load_sentiment(domain)["test"] for domain in ("amazon", "nyt", "tweets")}
        return Task("sentiment", data.load_sentiment("movies"), max_length=64, extra_test_sets=extra)
    if name == "topic":
        return Task("topic", data.load_topic("20newsgroups"), max_length=256)
    if name == "reuters":
        # 128 tokens keep the headline and lead of most Reuters stories (median 66 words) and make a
        # full MiniLM fine-tune fit a CPU afternoon; longer stories are truncated, and that is announced.
        return Task("reuters", data.load_topic("reuters-r8"), max_length=128)
    raise ValueError(f"unknown task {name!r}; choose one of: sentiment, topic, reuters (or pass a Task)")


def csv_task(path: str | Path, text_column: str = "text", label_column: str = "label", *,
             validation_fraction: float = 0.1, test_fraction: float = 0.2, max_length: int = 128,
             name: str | None = None, drop_empty: bool = False) -> Task:
    """A ``Task`` from a CSV file with one text column and one label column.

    The file is split into train / validation / test, stratified by label, with the kit's stable
    hash-based split (the same rows always land in the same split). Raises ``DatasetError`` with a plain
    message for a missing file or column, a single class, a class too small to appear in every split,
    or rows with an empty text or label. Those rows are named by their data-row number (1 = the first
    row after the header; a quoted text may span several lines of the file, so this is not a line
    number). With ``drop_empty=True`` such rows are dropped instead, and ``task.source`` records how
    many and why (``labkit select --drop-empty``).
    """
    from labkit.data import frame_to_dataset_dict, stratified_split
    from labkit.files import file_sha256

    path = Path(path)
    if not path.is_file():
        raise finetune.DatasetError(f"no such file: {path}")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as error:
        raise finetune.DatasetError(f"{path.name} is not a readable CSV file: {error}") from error
    missing = [column for column in (text_column, label_column) if column not in frame.columns]
    if missing:
        raise finetune.DatasetError(f"{path.name} has no column {', '.join(map(repr, missing))}; "
                                    f"its columns are: {', '.join(frame.columns) or '(none)'}")
    if frame.empty:
        raise finetune.DatasetError(f"{path.name} has a header but no rows")
    rows_read = len(frame)
    blank = (frame[text_column].str.strip() == "") | (frame[label_column].str.strip() == "")
    dropped: dict[str, Any] = {"rows": 0}
    if blank.any():
        numbers = [int(i) + 1 for i in frame.index[blank]]  # data rows counted from 1 after the header
        shown = ", ".join(map(str, numbers[:10])) + (", ..." if len(numbers) > 10 else "")
        if not drop_empty:
            raise finetune.DatasetError(
                f"{len(numbers)} row(s) of {path.name} have an empty text or label (data rows {shown}, counting "
                "the first row after the header as 1); fix or remove them, or pass --drop-empty to drop them")
        dropped = {"rows": len(numbers), "reason": f"empty {text_column!r} or {label_column!r}",
                   "data_rows": numbers}
        frame = frame[~blank].reset_index(drop=True)
    labels = frame[label_column].str.strip()
    counts = labels.value_counts()
    if len(counts) < 2:
        raise finetune.DatasetError(f"{path.name} has a single class ({counts.index[0]!r}); a classifier "
                                    "needs at least two")
    smallest_needed = max(3, int(np.ceil(1 / min(validation_fraction, test_fraction))))
    too_small = counts[counts < smallest_needed]
    if len(too_small):
        raise finetune.DatasetError(
            f"class(es) {', '.join(map(repr, too_small.index))} have fewer than {smallest_needed} rows, too few to "
            "appear in train, validation and test")
    names = sorted(counts.index)
    splits = stratified_split([f"row-{i}" for i in range(len(frame))], labels.tolist(),
                              {"test": test_fraction, "validation": validation_fraction,
                               "train": 1 - test_fraction - validation_fraction})
    frame = pd.DataFrame({"text": frame[text_column].str.strip(), "label": labels.map(names.index), "split": splits})
    source = {"file": path.name, "sha256": file_sha256(path), "rows_read": rows_read, "rows_kept": len(frame),
              "rows_dropped": dropped["rows"], **({"dropped": dropped} if dropped["rows"] else {})}
    return Task(name or path.stem, frame_to_dataset_dict(frame, names), max_length=max_length, source=source)
