"""Loading the shipped corpora and task datasets as ``datasets.DatasetDict`` with fixed splits.

Each loader reads compact Parquet files from the committed ``data/`` folder (``labkit.paths.data_dir``);
no network. The ``split`` column written by the build becomes the ``DatasetDict``'s splits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from labkit.errors import DataError
from labkit.paths import data_dir

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from datasets import DatasetDict

SENTIMENT_DOMAINS = ("movies", "amazon", "nyt", "tweets")
TOPIC_DATASETS = ("20newsgroups", "reuters-r8")
SENTIMENT_LABELS = ("negative", "positive")


def _choice(value: str, allowed: Iterable[str], what: str) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        raise DataError(f"unknown {what} {value!r}; choose one of: {', '.join(allowed)}")
    return value


def _read_table(relative: str) -> pd.DataFrame:
    import pandas as pd

    path = data_dir() / relative
    if not path.is_file():
        raise DataError(f"{path} is missing; rebuild it with `labkit build-data`")
    return pd.read_parquet(path)


def frame_to_dataset_dict(frame: pd.DataFrame, label_names: Sequence[str] | None = None,
                          split_order: Sequence[str] = ("train", "validation", "test")) -> DatasetDict:
    """A table with a ``split`` column -> ``DatasetDict`` (one Dataset per split, in ``split_order``).

    With ``label_names``, the ``label`` column (integers ``0..k-1``) becomes a ``ClassLabel``.
    """
    import pyarrow as pa
    from datasets import ClassLabel, Dataset, DatasetDict, Features

    result = {}
    for split in split_order:
        part = frame[frame["split"] == split].drop(columns="split").reset_index(drop=True)
        if len(part) == 0:
            continue
        features = Features.from_arrow_schema(pa.Schema.from_pandas(part, preserve_index=False))
        if label_names is not None:
            features["label"] = ClassLabel(names=list(label_names))
        result[split] = Dataset.from_pandas(part, features=features, preserve_index=False)
    return DatasetDict(result)


def load_sentiment(domain: str = "movies") -> DatasetDict:
    """Sentence-level sentiment (VADER ground truth), binary labels 0 negative / 1 positive.

    ``domain="movies"`` (Rotten Tomatoes snippets) has train/validation/test splits (8,454 / 1,057 /
    1,057); ``"amazon"``, ``"nyt"`` and ``"tweets"`` have only a ``test`` split, for cross-domain
    evaluation. Columns: ``id``, ``text``, ``rating`` (mean human rating, -4..4), ``label``.
    """
    _choice(domain, SENTIMENT_DOMAINS, "sentiment domain")
    return frame_to_dataset_dict(_read_table(f"sentiment/{domain}.parquet"), SENTIMENT_LABELS)


def load_topic(name: str = "20newsgroups") -> DatasetDict:
    """Topic classification with the given train/test split (and 10% of train as validation).

    ``name`` is ``"20newsgroups"`` (20 classes) or ``"reuters-r8"`` (8 classes). Columns: ``text``
    (lower-cased, punctuation removed by the source), ``label`` (ClassLabel), ``label_name``.
    """
    _choice(name, TOPIC_DATASETS, "topic dataset")
    frame = _read_table(f"topic/{name}.parquet")
    label_names = frame.drop_duplicates("label").sort_values("label")["label_name"].tolist()
    return frame_to_dataset_dict(frame, label_names)


def load_corpus() -> DatasetDict:
    """The pretraining corpus: 233 State of the Union addresses (1790-2021), one document each.

    Splits are by document: ``train`` (221 speeches) and ``validation`` (12 held-out speeches).
    Columns: ``doc_id``, ``year``, ``president``, ``party``, ``text``.
    """
    return frame_to_dataset_dict(_read_table("corpus/sotu.parquet"), None, ("train", "validation"))


def load_winobias_occupations() -> DatasetDict:
    """WinoBias's 40 occupations with the percentage of women in each (one ``test`` split)."""
    from datasets import Dataset, DatasetDict

    frame = _read_table("bias/winobias_occupations.parquet")
    return DatasetDict({"test": Dataset.from_pandas(frame, preserve_index=False)})


def load_bbq_gender() -> DatasetDict:
    """BBQ's gender-identity questions (ambiguous and disambiguated contexts; one ``test`` split)."""
    from datasets import Dataset, DatasetDict

    frame = _read_table("bias/bbq_gender.parquet")
    return DatasetDict({"test": Dataset.from_pandas(frame, preserve_index=False)})


LOADERS = {
    "sentiment": load_sentiment,
    "topic": load_topic,
    "corpus": load_corpus,
    "winobias_occupations": load_winobias_occupations,
    "bbq_gender": load_bbq_gender,
}


def load(name: str, **kwargs: object) -> DatasetDict:
    """Load a shipped dataset by name (``labkit.data.LOADERS`` lists them)."""
    _choice(name, LOADERS, "dataset")
    return LOADERS[name](**kwargs)
