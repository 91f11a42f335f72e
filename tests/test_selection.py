"""labkit.selection: candidates, the cached and resumable comparison, paired tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from labkit import selection
from tests.conftest import toy_sentiment


def test_candidate_specs() -> None:
    assert selection.parse_candidate("tiny-bert").name == "tiny-bert"
    random_init = selection.parse_candidate("tiny-bert:random")
    assert random_init.initialisation == "random" and random_init.name == "tiny-bert-random-init"
    frozen = selection.parse_candidate(" minilm-l6:frozen ")
    assert frozen.freeze and frozen.name == "minilm-l6-frozen"
    assert frozen.recipe()["learning_rate"] == selection.FROZEN_LEARNING_RATE
    assert selection.parse_candidate("org/model").name == "org--model"
    assert selection.parse_candidate("tiny-bert").recipe({"epochs": 1})["epochs"] == 1
    with pytest.raises(ValueError, match="unknown candidate option"):
        selection.parse_candidate("tiny-bert:large")
    with pytest.raises(ValueError, match="takes no options"):
        selection.parse_candidate("tfidf-lr:frozen")
    with pytest.raises(ValueError, match="empty"):
        selection.parse_candidate(":random")


def toy_task() -> selection.Task:
    data = toy_sentiment(sizes=(120, 30, 30))
    other = toy_sentiment(seed=9, sizes=(2, 2, 40))["test"]
    return selection.Task("toy", data, max_length=16, extra_test_sets={"other": other})


FAST = {"epochs": 4, "learning_rate": 3e-3, "batch_size": 16}


def test_compare_runs_measures_and_resumes(tiny_model_dir: Path, tmp_path: Path) -> None:
    local = str(tiny_model_dir)
    candidates = [local, "tfidf-lr"]
    messages: list[str] = []
    table = selection.compare(toy_task(), candidates, tmp_path, overrides=FAST, progress=False,
                              log=messages.append)
    assert len(table) == 2 and set(table["candidate"]) == {selection.parse_candidate(local).name, "tfidf-lr"}
    for row in table.to_dict("records"):
        assert row["accuracy_low"] <= row["accuracy"] <= row["accuracy_high"]
        assert row["f1_low"] <= row["f1"] <= row["f1_high"] and row["f1_average"] == "binary"
        assert 0 <= row["accuracy_other"] <= 1 and row["test_examples"] == 30
        assert row["latency_ms_p50"] <= row["latency_ms_p95"] and row["parameters"] > 0 and row["size_mb"] > 0
    assert table["accuracy"].is_monotonic_decreasing
    baseline = table.set_index("candidate").loc["tfidf-lr"]
    assert baseline["accuracy"] >= 0.9 and baseline["accuracy_other"] >= 0.9  # separable: words decide
    # every candidate left a complete folder
    for name in table["candidate"]:
        assert {p.name for p in (tmp_path / name).iterdir()} == {"record.json", "predictions.parquet", "history.csv"}
    # a rerun with the same settings trains nothing and gives the same table
    messages.clear()
    again = selection.compare(toy_task(), candidates, tmp_path, overrides=FAST, progress=False, log=messages.append)
    assert all("already done" in message for message in messages)
    assert again.drop(columns=["latency_ms_p50"]).equals(table.drop(columns=["latency_ms_p50"]))
    assert selection.load_results(tmp_path)["candidate"].tolist() == table["candidate"].tolist()
    # different settings are not mistaken for finished work
    messages.clear()
    selection.compare(toy_task(), ["tfidf-lr"], tmp_path, seed=1, progress=False, log=messages.append)
    assert messages[0] == "tfidf-lr: running"


def test_interrupted_run_keeps_finished_candidates(tiny_model_dir: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    real_run = selection.run_candidate
    calls: list[str] = []

    def interrupted(candidate: selection.Candidate, *args: object, **kwargs: object) -> object:
        calls.append(candidate.name)
        if candidate.is_baseline:
            raise KeyboardInterrupt
        return real_run(candidate, *args, **kwargs)

    monkeypatch.setattr(selection, "run_candidate", interrupted)
    local = str(tiny_model_dir)
    with pytest.raises(KeyboardInterrupt):
        selection.compare(toy_task(), [local, "tfidf-lr"], tmp_path, overrides=FAST, progress=False, log=lambda m: None)
    assert (tmp_path / selection.parse_candidate(local).name / "record.json").is_file()
    assert not (tmp_path / "tfidf-lr").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no half-written folder is left"
    monkeypatch.setattr(selection, "run_candidate", real_run)
    calls.clear()
    monkeypatch.setattr(selection, "run_candidate", lambda c, *a, **k: (calls.append(c.name), real_run(c, *a, **k))[1])
    table = selection.compare(toy_task(), [local, "tfidf-lr"], tmp_path, overrides=FAST, progress=False,
                              log=lambda m: None)
    assert calls == ["tfidf-lr"] and len(table) == 2


def test_paired_comparison_from_saved_predictions(tmp_path: Path) -> None:
    for name, correct in (("a", 60), ("b", 90)):
        folder = tmp_path / name
        folder.mkdir()
        labels = np.tile([0, 1], 50)
        prediction = labels.copy()
        prediction[correct:] = 1 - prediction[correct:]
        import pandas as pd

        pd.DataFrame({"label": labels, "prediction": prediction}).to_parquet(folder / "predictions.parquet")
    result = selection.paired_comparison(tmp_path, "a", "b")
    assert result["difference"] == pytest.approx(0.3)
    assert result["difference_low"] > 0 and result["significant"] and result["mcnemar_significant"]
    same = selection.paired_comparison(tmp_path, "a", "a")
    assert same["difference"] == 0 and not same["significant"]
    with pytest.raises(FileNotFoundError, match="no predictions"):
        selection.paired_comparison(tmp_path, "a", "missing")


def test_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown task"):
        selection.builtin_task("imagenet")
    with pytest.raises(ValueError, match="no candidates"):
        selection.compare(toy_task(), [], tmp_path)
    with pytest.raises(FileNotFoundError, match="no results"):
        selection.load_results(tmp_path)


def test_provenance_records_versions_and_data() -> None:
    record = selection.provenance("labkit finetune --task sentiment", seed=3)
    assert record["seed"] == 3 and record["versions"]["torch"].startswith("2.13")
    assert "sentiment/movies.parquet" in record["data_content_sha256"]
    json.dumps(record)
