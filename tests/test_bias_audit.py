"""labkit.selection.bias_audit: the shipped bias job, its resumability, and that its results are what they say."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labkit import bias
from labkit.errors import ConfigError
from labkit.paths import data_dir
from labkit.selection import bias_audit as audit

AUDIT = data_dir() / "results" / "bias-sentiment"
SENTIMENT_RESULTS = data_dir() / "results" / "finetune-sentiment"


def summary(part: str) -> dict:
    return json.loads((AUDIT / part / "summary.json").read_text())


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown sentiment run 'bert-large'"):
        audit.sentiment_predictor("bert-large")
    with pytest.raises(ConfigError, match="unknown audit part"):
        audit.run_audit(tmp_path, parts=["classifiers", "everything"])
    with pytest.raises(ConfigError, match="unknown audit part"):
        audit.run_audit(tmp_path, parts=[])


def test_a_finished_part_is_skipped_not_recomputed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "classifiers").mkdir()
    (tmp_path / "classifiers" / "summary.json").write_text(json.dumps({"saved": True}))

    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("a finished part was computed again")

    monkeypatch.setattr(audit, "audit_classifiers", must_not_run)
    messages: list[str] = []
    result = audit.run_audit(tmp_path, parts=["classifiers"], log=messages.append)
    assert result == {"classifiers": {"saved": True}} and messages == ["classifiers: already done, skipped"]


def test_held_out_persons_share_no_word_with_the_definitional_pairs() -> None:
    sentences = bias.mitigation.gendered_sentences()
    held = audit.held_out_persons(sentences, held_out=22, seed=0)
    assert sentences.loc[held, "pair"].nunique() == 22
    definitional = {word.lower() for pair in bias.mitigation.DEFINITIONAL_PAIRS for word in pair}
    assert not {person.split()[-1].lower() for person in sentences.loc[held, "person"]} & definitional
    assert (held == audit.held_out_persons(sentences, held_out=22, seed=0)).all()  # the same on every run
    assert not (held == audit.held_out_persons(sentences, held_out=22, seed=1)).all()


def test_shipped_flip_rates_follow_from_the_shipped_probabilities() -> None:
    shipped = pd.DataFrame(summary("classifiers")["classifiers"]).set_index("classifier")
    assert set(shipped.index) == set(audit.SENTIMENT_CLASSIFIERS)
    pairs = pd.read_parquet(AUDIT / "classifiers" / "test_pairs.parquet")
    templates = pd.read_parquet(AUDIT / "classifiers" / "template_pairs.parquet")
    for name, row in shipped.iterrows():
        mine = pairs[pairs["classifier"] == name]
        flipped = (mine["p_original"] >= 0.5) != (mine["p_counterfactual"] >= 0.5)
        assert len(mine) == row["test_pairs"] == 215
        assert flipped.mean() == pytest.approx(row["test_flip_rate"], abs=5e-5)
        assert (mine["p_counterfactual"] - mine["p_original"]).mean() == pytest.approx(row["test_mean_change"],
                                                                                         abs=5e-5)
        theirs = templates[templates["classifier"] == name]
        flipped = (theirs["p_male"] >= 0.5) != (theirs["p_female"] >= 0.5)
        assert len(theirs) == row["templates_pairs"] == len(bias.eec_pairs())
        assert flipped.mean() == pytest.approx(row["templates_flip_rate"], abs=5e-5)
        # the same measurement is the fairness column of the classifier's shipped record
        record = json.loads((SENTIMENT_RESULTS / name / "record.json").read_text())
        assert record["counterfactual_flip_rate"] == pytest.approx(row["test_flip_rate"], abs=5e-5)
        assert record["counterfactual_pairs"] == 215 and record["validation_counterfactual_pairs"] > 0


def test_the_refitted_baseline_is_the_shipped_one() -> None:
    from labkit.data import load_sentiment

    dataset = load_sentiment()
    predictions = audit.sentiment_predictor("tfidf-lr", dataset)(list(dataset["test"]["text"])).argmax(axis=1)
    shipped = pd.read_parquet(SENTIMENT_RESULTS / "tfidf-lr" / "predictions.parquet")
    assert (predictions == shipped["prediction"].to_numpy()).all()


def test_shipped_bbq_scores_follow_from_the_shipped_answers() -> None:
    from labkit.data import load_bbq_gender

    saved = summary("bbq")
    items = load_bbq_gender()["test"].to_pandas()
    answers = pd.read_parquet(AUDIT / "bbq" / "answer_scores.parquet")
    assert (answers["example_id"].to_numpy() == items["example_id"].to_numpy()).all()
    validation = answers["validation"].to_numpy()
    assert (validation == bias.validation_mask(items)).all() and saved["validation_items"] == validation.sum()
    scores = {method: answers[[f"{method}_{j}" for j in range(3)]].to_numpy() for method in bias.ANSWERER_METHODS}
    chosen, accuracy = bias.choose_method(items, scores, validation)
    assert chosen == saved["chosen_method"] and accuracy == pytest.approx(saved["validation_accuracy"])
    table = bias.bias_scores(items[~validation], scores[chosen][~validation].argmax(axis=1))
    shipped = pd.DataFrame(saved["scores"][f"{chosen}/test"]).set_index("condition")
    for column in ("accuracy", "bias_score", "items"):
        assert np.allclose(table[column], shipped[column], atol=1e-6), column


def test_shipped_mitigation_is_reproduced_from_the_shipped_embeddings() -> None:
    saved = summary("mitigation")
    features, labels = audit.load_sentiment_embeddings(AUDIT / "mitigation")
    assert {split: len(labels[split]) for split in labels} == {"train": 8454, "validation": 1057, "test": 1057}
    plain = pd.DataFrame(saved["results"]).set_index("projection").loc["none"]
    refitted = bias.mitigation.debiased_sentiment_classifier(features, labels, C_values=[plain["C"]])
    assert refitted.accuracy["test"] == pytest.approx(plain["test_accuracy"], abs=1e-9)


def test_shipped_cda_runs_cover_every_seed_with_and_without_augmentation() -> None:
    from labkit.data import load_sentiment

    saved = summary("cda")
    rows = pd.DataFrame(saved["results"])
    assert sorted(saved["seeds"]) == sorted(audit.CDA_SEEDS)
    assert set(map(tuple, rows[["model", "seed"]].to_numpy())) == {
        (model, seed) for model in ("tiny-bert", "tiny-bert-cda") for seed in audit.CDA_SEEDS}
    assert saved["augmentation"]["added"] == len(bias.counterfactual_pairs(load_sentiment()["train"]["text"]))
    # seed 0 without CDA is the shipped tiny-bert-sentiment: its accuracy is the shipped run's
    record = json.loads((SENTIMENT_RESULTS / "tiny-bert" / "record.json").read_text())
    seed_zero = rows[(rows["model"] == "tiny-bert") & (rows["seed"] == 0)].iloc[0]
    assert seed_zero["test_accuracy"] == pytest.approx(record["accuracy"])
    for part in audit.PARTS:
        assert summary(part)["provenance"]["seed"] == 0 and "bias-audit" in summary(part)["provenance"]["command"]


def test_the_cli_names_every_audit_part_without_importing_selection() -> None:
    """`labkit bias-audit --help` lists the parts by name (importing labkit.selection would load torch)."""
    from labkit.cli import build_parser

    commands = next(action for action in build_parser()._actions if action.dest == "command")
    help_text = commands.choices["bias-audit"].format_help()
    assert all(part in help_text for part in audit.PARTS)
