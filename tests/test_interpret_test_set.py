"""The test-set interpretability job (labkit.interpret.test_set, ``labkit explain``) on a handful of reviews.

The model is tiny-bert with a seeded random classification head (the job takes a loaded pair, so these
tests do not need the shipped tiny-bert-sentiment). Expected values come from the libraries, not from
the job: the tokens from the tokenizer, the probabilities and the logits from the Hugging Face model,
the attributions from ``attribute`` called directly, the attention rows from the model's own attentions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from labkit.cli import main
from labkit.errors import ConfigError, LabkitError, MissingFileError
from labkit.interpret import test_set
from labkit.interpret.attribution import attribute
from labkit.interpret.test_set import EXPLANATIONS, METHODS, explain_test_set, read_test_set, saved_attributions
from labkit.models import load
from labkit.selection import builtin_task

REVIEWS = 5
SETTINGS = {"limit": REVIEWS, "sanity_texts": 2, "steps": 8, "draws": 2, "chunk_size": 3, "seed": 0,
            "name": "tiny-bert-random-head", "progress": False}
FILES = ["examples.parquet", "attributions.parquet", "faithfulness_per_text.parquet", "faithfulness.csv",
         "agreement.parquet", "sanity.csv", "word_importance.csv", "record.json", "provenance.json"]


@pytest.fixture(scope="module")
def task():
    return builtin_task("sentiment")


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(0)  # the random classification head
    return load("tiny-bert", task="sequence-classification", num_labels=2, attn_implementation="eager")


@pytest.fixture(scope="module")
def finished(task, pair, tmp_path_factory) -> Path:
    """One complete run on the first five test reviews, in two chunks of three and two."""
    output = tmp_path_factory.mktemp("explain") / "run"
    explain_test_set(pair, task, output, log=lambda message: None, **SETTINGS)
    return output


def test_the_job_writes_every_file_with_the_agreed_columns(finished, task, pair) -> None:
    tokenizer, _ = pair
    assert sorted(path.name for path in finished.iterdir()) == sorted(FILES)  # .partial/ is gone
    examples = pd.read_parquet(finished / "examples.parquet")
    assert list(examples.columns) == ["example", "label", "prediction", "target", "probability_negative",
                                      "probability_positive", "n_tokens", "ig_f_input", "ig_f_baseline", "ig_gap"]
    assert examples["example"].tolist() == list(range(REVIEWS))
    assert examples["label"].tolist() == task.dataset["test"]["label"][:REVIEWS]
    assert (examples["target"] == examples["prediction"]).all()
    attributions = pd.read_parquet(finished / "attributions.parquet")
    assert list(attributions.columns) == ["example", "position", "token", "input_id", *EXPLANATIONS]
    assert all(attributions[name].dtype == np.float32 for name in EXPLANATIONS)
    for example, rows in attributions.groupby("example"):
        ids = tokenizer(task.dataset["test"]["text"][example], truncation=True, max_length=64)["input_ids"]
        assert rows["token"].tolist() == tokenizer.convert_ids_to_tokens(ids)
        assert rows["input_id"].tolist() == ids and rows["position"].tolist() == list(range(len(ids)))
        assert examples.loc[example, "n_tokens"] == len(ids)
    agreement = pd.read_parquet(finished / "agreement.parquet")
    assert len(agreement) == REVIEWS * 10 and agreement["pair"].nunique() == 10  # 5 explanations, 10 pairs
    assert (agreement["example"] == agreement["text"]).all()
    faithfulness = pd.read_csv(finished / "faithfulness.csv")
    assert faithfulness["method"].tolist() == list(EXPLANATIONS)
    assert {"comprehensiveness_verdict", "sufficiency_verdict", "random_comprehensiveness_sd"} <= set(faithfulness)
    per_text = pd.read_parquet(finished / "faithfulness_per_text.parquet")
    assert len(per_text) == REVIEWS * (len(EXPLANATIONS) + SETTINGS["draws"])
    sanity = pd.read_csv(finished / "sanity.csv")
    assert list(sanity.columns) == ["step", "block", "example", "method", "target", "spearman", "spearman_abs"]
    assert sorted(sanity["method"].unique()) == sorted(METHODS)
    record = json.loads((finished / "record.json").read_text())
    assert sorted(sanity["example"].unique()) == record["sanity_examples"]  # a seeded sample of two reviews
    assert len(record["sanity_examples"]) == 2 and set(record["sanity_examples"]) <= set(range(REVIEWS))
    assert sanity["block"].tolist()[:2] == ["none", "none"]
    assert np.allclose(sanity.loc[sanity["step"] == 0, "spearman"], 1.0)  # nothing re-initialised yet
    words = pd.read_csv(finished / "word_importance.csv")
    assert list(words.columns) == ["method", "target", "class", "word", "mean_score", "total", "count", "texts"]
    assert set(words["method"]) == set(METHODS)


def test_the_record_holds_accuracy_beside_the_majority_class_rate_and_the_settings(finished, task) -> None:
    record = json.loads((finished / "record.json").read_text())
    labels = np.array(task.dataset["test"]["label"][:REVIEWS])
    predictions = pd.read_parquet(finished / "examples.parquet")["prediction"].to_numpy()
    assert record["test_accuracy"] == pytest.approx((labels == predictions).mean())
    train_majority = np.bincount(task.dataset["train"]["label"]).argmax()
    assert record["majority_class_rate"] == pytest.approx((labels == train_majority).mean())
    assert record["test_accuracy_low"] <= record["test_accuracy"] <= record["test_accuracy_high"]
    assert record["methods"]["integrated_gradients"]["steps"] == 8
    assert record["methods"]["occlusion"]["replacement"] == "[PAD]"
    assert set(record["seconds"]) == set(test_set.STAGES) and record["examples"] == REVIEWS
    provenance = json.loads((finished / "provenance.json").read_text())
    assert provenance["runs"][-1]["seed"] == 0 and "versions" in provenance["runs"][-1]


def test_saved_attributions_equal_attribute_called_directly(finished, task, pair) -> None:
    tokenizer, model = pair
    record = json.loads((finished / "record.json").read_text())
    attributions = pd.read_parquet(finished / "attributions.parquet")
    examples = pd.read_parquet(finished / "examples.parquet")
    example = 4  # in the second chunk
    text = task.dataset["test"]["text"][example]
    rows = attributions[attributions["example"] == example]
    for method in METHODS:
        direct = attribute(model, tokenizer, text, method, **record["methods"][method])
        assert rows["token"].tolist() == direct.tokens
        np.testing.assert_array_equal(rows[method].to_numpy(), direct.scores.astype(np.float32))
    # the rest, from the model itself: logits, probabilities, the [CLS] attention rows
    encoded = tokenizer(text, truncation=True, max_length=64, return_tensors="pt")
    with torch.no_grad():
        output = model(**encoded, output_attentions=True)
    logits, target = output.logits[0], int(output.logits[0].argmax())
    row = examples.loc[example]
    assert row["prediction"] == target and row["ig_f_input"] == pytest.approx(float(logits[target]), abs=1e-5)
    assert row["probability_positive"] == pytest.approx(float(torch.softmax(logits, -1)[1]), abs=1e-6)
    last_cls = output.attentions[-1][0].mean(dim=0)[0]  # last layer, heads averaged, [CLS] row
    np.testing.assert_allclose(rows["attention_last_cls"].to_numpy(), last_cls.numpy(), atol=1e-6)
    gap = rows["integrated_gradients"].sum() - (row["ig_f_input"] - row["ig_f_baseline"])
    assert gap == pytest.approx(row["ig_gap"], abs=1e-5)


def test_saved_attributions_read_back_as_token_attributions(finished) -> None:
    back = saved_attributions(finished, "occlusion")
    table = pd.read_parquet(finished / "attributions.parquet")
    assert len(back) == REVIEWS and back[2].method == "occlusion"
    np.testing.assert_array_equal(back[2].scores, table.loc[table["example"] == 2, "occlusion"].to_numpy())
    results = read_test_set(finished)
    assert set(results) == {Path(file).stem for file in FILES if file != "provenance.json"}
    with pytest.raises(ConfigError, match="unknown explanation"):
        saved_attributions(finished, "saliency")
    with pytest.raises(MissingFileError, match="labkit explain"):
        read_test_set(finished.parent / "nothing-here")


def test_a_rerun_skips_every_stage_already_done(finished, task, pair, monkeypatch) -> None:
    before = {file: (finished / file).stat().st_mtime_ns for file in FILES if file != "provenance.json"}
    before.pop("record.json")

    def refuse(*args, **kwargs):
        raise AssertionError("a finished stage was computed again")

    monkeypatch.setattr("labkit.interpret.attribution.attribute", refuse)
    messages: list[str] = []
    explain_test_set(pair, task, finished, log=messages.append, **SETTINGS)
    assert [message for message in messages if "skipped" in message] == \
        [f"{stage}: already done with these settings, skipped" for stage in test_set.STAGES]
    assert {file: (finished / file).stat().st_mtime_ns for file in before} == before


def test_changing_one_setting_recomputes_only_the_stages_it_touches(finished, task, pair, tmp_path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    messages: list[str] = []
    explain_test_set(pair, task, copy, log=messages.append, **{**SETTINGS, "draws": 3})
    assert "attributions: already done with these settings, skipped" in messages
    assert "faithfulness: running" in messages and "sanity: already done with these settings, skipped" in messages
    per_text = pd.read_parquet(copy / "faithfulness_per_text.parquet")
    assert per_text["draw"].max() == 2  # three draws now: 0, 1, 2


def test_an_interrupted_run_resumes_from_its_saved_chunks_with_identical_results(finished, task, pair, tmp_path,
                                                                                 monkeypatch) -> None:
    output = tmp_path / "interrupted"
    original = test_set._explain_chunk
    calls: list[list[int]] = []

    def stop_at_the_second_chunk(job, indices, bar):
        calls.append(list(indices))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(job, indices, bar)

    monkeypatch.setattr(test_set, "_explain_chunk", stop_at_the_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        explain_test_set(pair, task, output, log=lambda message: None, **SETTINGS)
    assert sorted(path.name for path in (output / ".partial").iterdir()) == \
        ["attributions-0001.parquet", "examples-0001.parquet", "settings.json"]
    calls.clear()
    messages: list[str] = []
    explain_test_set(pair, task, output, log=messages.append, **SETTINGS)
    assert calls == [[3, 4]]  # only the second chunk was computed
    assert "attributions: chunk 1/2 reused from .partial/" in messages
    for file in FILES[:7]:
        read = pd.read_parquet if file.endswith(".parquet") else pd.read_csv
        pd.testing.assert_frame_equal(read(output / file), read(finished / file))


def test_bad_input_gets_a_clear_error(task, pair, tmp_path) -> None:
    tokenizer, model = pair
    with pytest.raises(ConfigError, match="limit must be a whole number of at least 1"):
        explain_test_set(pair, task, tmp_path, limit=0)
    with pytest.raises(ConfigError, match="draws must be"):
        explain_test_set(pair, task, tmp_path, draws=-1)
    with pytest.raises(LabkitError, match="unknown model name"):
        explain_test_set("no-such-model", task, tmp_path)
    with pytest.raises(ConfigError, match="no trained classification head"):
        explain_test_set("tiny-bert", task, tmp_path)  # a pretrained encoder: its head would be random
    with pytest.raises(ConfigError, match="unknown task"):
        explain_test_set(pair, "poetry", tmp_path)
    with pytest.raises(ConfigError, match="not a sequence classifier"):
        explain_test_set((tokenizer, model.bert), task, tmp_path)
    _, sdpa = load("tiny-bert", task="sequence-classification", num_labels=2)
    with pytest.raises(ConfigError, match="attn_implementation='eager'"):
        explain_test_set((tokenizer, sdpa), task, tmp_path)
    _, three = load("tiny-bert", task="sequence-classification", num_labels=3, attn_implementation="eager")
    with pytest.raises(ConfigError, match="3 classes but task 'sentiment' has 2"):
        explain_test_set((tokenizer, three), task, tmp_path)
    assert not any(tmp_path.iterdir())  # nothing written


def test_the_command_prints_one_line_and_exits_2_on_bad_input(tmp_path, capsys) -> None:
    assert main(["explain", "--model", "tiny-bert", "--limit", "2", "--output", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("labkit explain: 'tiny-bert' has no trained classification head") and "\n" not in error
    assert main(["explain", "--model", "tiny-bert-sentiment", "--limit", "0", "--output", str(tmp_path)]) == 2
    assert "limit must be" in capsys.readouterr().err


def test_the_command_passes_its_options_and_prints_the_summary(finished, monkeypatch, capsys) -> None:
    seen = {}

    def fake(model, task, output, **options):
        seen.update(model=model, task=task, output=output, **options)
        return json.loads((finished / "record.json").read_text())

    monkeypatch.setattr(test_set, "explain_test_set", fake)
    assert main(["explain", "--model", "some-classifier", "--output", str(finished), "--limit", "5",
                 "--sanity-texts", "2", "--steps", "8", "--draws", "2", "--seed", "0"]) == 0
    assert seen["model"] == "some-classifier" and seen["task"] == "sentiment" and seen["output"] == finished
    assert {key: seen[key] for key in ("limit", "sanity_texts", "steps", "draws", "seed")} == \
        {"limit": 5, "sanity_texts": 2, "steps": 8, "draws": 2, "seed": 0}
    assert seen["command"].startswith("labkit explain --model some-classifier")
    printed = capsys.readouterr().out
    assert "majority-class rate" in printed and "integrated_gradients" in printed and "rollout_cls" in printed
