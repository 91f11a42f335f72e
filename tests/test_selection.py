"""labkit.selection: candidates, the cached and resumable comparison, paired tests."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labkit import selection
from labkit.errors import ConfigError, DatasetError
from labkit.finetune import FineTuneRecipe
from tests.conftest import toy_sentiment


def test_candidate_specs() -> None:
    assert selection.parse_candidate("tiny-bert").name == "tiny-bert"
    random_init = selection.parse_candidate("tiny-bert:random")
    assert random_init.initialisation == "random" and random_init.name == "tiny-bert-random-init"
    frozen = selection.parse_candidate(" minilm-l6:frozen ")
    assert frozen.freeze and frozen.name == "minilm-l6-frozen"
    assert frozen.recipe().learning_rate == selection.FROZEN_LEARNING_RATE
    assert selection.parse_candidate("org/model").name == "org--model"
    assert selection.parse_candidate("tiny-bert").recipe({"epochs": 1}).epochs == 1
    with pytest.raises(ValueError, match="unknown recipe setting"):
        selection.parse_candidate("tiny-bert").recipe({"epoch": 1})  # a typo is an error, not ignored
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
        assert {p.name for p in (tmp_path / name).iterdir()} == {"record.json", "predictions.parquet",
                                                                "validation_predictions.parquet", "history.csv"}
        saved = pd.read_parquet(tmp_path / name / "predictions.parquet")
        probabilities = saved[[column for column in saved.columns if column.startswith("probability_")]]
        assert (probabilities.dtypes == "float32").all()  # rounded to 4 places: at most 5e-5 off
        assert np.allclose(probabilities.sum(axis=1), 1.0, atol=5e-4)
        assert np.array_equal(probabilities.to_numpy(), np.round(probabilities.to_numpy().astype(float), 4)
                              .astype("float32"))
        assert (saved["prediction"].to_numpy() == probabilities.to_numpy().argmax(axis=1)).mean() >= 0.9
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

    monkeypatch.setattr(selection.running, "run_candidate", interrupted)
    local = str(tiny_model_dir)
    with pytest.raises(KeyboardInterrupt):
        selection.compare(toy_task(), [local, "tfidf-lr"], tmp_path, overrides=FAST, progress=False, log=lambda m: None)
    assert (tmp_path / selection.parse_candidate(local).name / "record.json").is_file()
    assert not (tmp_path / "tfidf-lr").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no half-written folder is left"
    monkeypatch.setattr(selection.running, "run_candidate", real_run)
    calls.clear()
    monkeypatch.setattr(selection.running, "run_candidate",
                        lambda c, *a, **k: (calls.append(c.name), real_run(c, *a, **k))[1])
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
    with pytest.raises(FileNotFoundError, match="no test predictions"):
        selection.paired_comparison(tmp_path, "a", "missing")


def test_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown task"):
        selection.builtin_task("imagenet")
    with pytest.raises(ValueError, match="no candidates"):
        selection.compare(toy_task(), [], tmp_path)
    with pytest.raises(FileNotFoundError, match="no results"):
        selection.load_results(tmp_path)


def test_provenance_records_versions_and_data(tmp_path: Path) -> None:
    record = selection.provenance("labkit finetune --task sentiment", seed=3)
    assert record["seed"] == 3 and record["versions"]["torch"].startswith("2.13")
    assert "sentiment/movies.parquet" in record["data_content_sha256"] and record["torch_threads"] >= 1
    json.dumps(record)
    selection.record_provenance(tmp_path, "labkit finetune --candidates a", seed=0)
    selection.record_provenance(tmp_path, "labkit finetune --candidates b", seed=0)
    runs = json.loads((tmp_path / "provenance.json").read_text())["runs"]
    assert [run["command"] for run in runs] == ["labkit finetune --candidates a", "labkit finetune --candidates b"]


def results_frame(rows: list[tuple[str, float, float, float]]) -> pd.DataFrame:
    # validation accuracy a little below test accuracy, in the same order (tests below break the order)
    return pd.DataFrame([{"candidate": name, "accuracy": accuracy, "validation_accuracy": accuracy - 0.01,
                          "latency_ms_p50": latency, "parameters": params, "train_seconds": 1.0,
                          "size_mb": params / 1e6} for name, accuracy, latency, params in rows])


def test_pareto_front_on_a_known_example() -> None:
    table = results_frame([
        ("big-accurate", 0.90, 20.0, 20e6),   # best accuracy: optimal
        ("small-fast", 0.80, 1.0, 1e6),       # fastest and smallest: optimal
        ("dominated", 0.79, 2.0, 2e6),        # worse than small-fast on everything
        ("middle", 0.85, 5.0, 5e6),           # a real trade-off: optimal
        ("tie-copy", 0.80, 1.0, 1e6),         # equal to small-fast: neither dominates the other
    ])
    assert selection.pareto_front(table).tolist() == [True, True, False, True, True]
    only_accuracy = selection.pareto_front(table, {"accuracy": "max"})
    assert only_accuracy.tolist() == [True, False, False, False, False]
    with pytest.raises(KeyError, match="no column 'f1'"):
        selection.pareto_front(table, {"f1": "max"})


def test_pareto_scatter_marks_the_front_with_readable_ticks() -> None:
    from labkit import viz

    figure = viz.pareto_scatter(["a", "b", "c"], [1.9, 6.1, 41.8], [0.97, 0.95, 0.971], [True, False, True],
                                sizes=[5e5, 1.5e6, 2.3e7])
    ax = figure.axes[0]
    figure.canvas.draw()
    optimal = [c for c in ax.collections if c.get_label() == "Pareto-optimal"]
    assert len(optimal) == 1 and len(optimal[0].get_offsets()) == 2
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert ax.get_xscale() == "log" and {"1", "2", "5", "10", "20", "50"} <= set(labels)
    assert all(label.lstrip("0.")[0] in "125" and "10^" not in label for label in labels if label)  # 1-2-5, plain
    assert not any(t.get_text() for t in ax.get_xticklabels(minor=True))  # no colliding minor labels
    assert {t.get_text() for t in ax.texts} == {"a", "b", "c"}
    with pytest.raises(ValueError, match="same length"):
        viz.pareto_scatter(["a"], [1.0, 2.0], [0.5], [True])


def test_pareto_scatter_two_candidates_legend_and_labels_never_collide() -> None:
    """The figure of a two-candidate `labkit select` run put its legend over a point and cut a label."""
    from labkit import viz

    figure = viz.pareto_scatter(["tfidf-lr", "a-long-candidate-name"], [0.9, 25.0], [0.80, 0.87], [True, True],
                                sizes=[1e5, 2e7], intervals=[(0.77, 0.83), (0.84, 0.90)], baseline=0.55)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure).draw()
    renderer = figure.canvas.get_renderer()
    ax = figure.axes[0]
    axes_box = ax.get_window_extent(renderer)
    legend_box = ax.get_legend().get_window_extent(renderer)
    points = ax.transData.transform(np.column_stack([[0.9, 25.0], [0.80, 0.87]]))
    assert not any(legend_box.contains(x, y) for x, y in points), "the legend covers a point"
    assert legend_box.x0 >= axes_box.x1, "the legend sits outside the axes"
    figure_box = figure.bbox
    for label in ax.texts:
        box = label.get_window_extent(renderer)
        assert axes_box.x0 <= box.x0 and box.x1 <= axes_box.x1 and box.x1 <= figure_box.x1, label.get_text()
    assert len([c for c in ax.containers if c.has_yerr]) == 1  # the CIs are drawn
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"95% CI", "majority class", "Pareto-optimal"}
    with pytest.raises(ValueError, match="one \\(low, high\\) pair"):
        viz.pareto_scatter(["a"], [1.0], [0.5], [True], intervals=[(0.4, 0.6), (0.1, 0.2)])


def test_recommend_honours_every_constraint() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(1, 8))
        table = results_frame([(f"m{i}", float(rng.uniform(0.5, 0.95)), float(rng.uniform(0.1, 50)),
                                float(rng.uniform(1e5, 5e7))) for i in range(n)])
        table["validation_accuracy"] = rng.uniform(0.5, 0.95, size=n)  # unrelated to test: choice must follow it
        limits = {"max_latency_ms": float(rng.uniform(0.1, 60)) if rng.random() < 0.7 else None,
                  "max_params": float(rng.uniform(1e5, 6e7)) if rng.random() < 0.7 else None,
                  "min_metric": float(rng.uniform(0.5, 0.95)) if rng.random() < 0.5 else None}
        feasible = table.copy()
        if limits["max_latency_ms"] is not None:
            feasible = feasible[feasible["latency_ms_p50"] <= limits["max_latency_ms"]]
        if limits["max_params"] is not None:
            feasible = feasible[feasible["parameters"] <= limits["max_params"]]
        if limits["min_metric"] is not None:
            feasible = feasible[feasible["validation_accuracy"] >= limits["min_metric"]]
        choice = selection.recommend(table, **limits)
        if feasible.empty:
            assert choice.choice is None and "No candidate meets" in choice.rationale
        else:
            assert choice.choice == feasible.loc[feasible["validation_accuracy"].idxmax(), "candidate"]
            assert choice.choice in choice.rationale
        assert set(choice.ruled_out) == set(table["candidate"]) - set(feasible["candidate"])


def test_recommend_explains_itself() -> None:
    table = results_frame([("big", 0.9, 20.0, 2e7), ("small", 0.8, 1.0, 1e6)])
    fast = selection.recommend(table, max_latency_ms=5)
    assert fast.choice == "small" and "big (latency (p50) 20 ms, over the limit of 5 ms)" in fast.rationale
    nothing = selection.recommend(table, max_latency_ms=0.5, min_metric=0.95)
    assert nothing.choice is None and "big" in nothing.rationale and "Relax" in nothing.rationale
    assert selection.recommend(table).choice == "big"
    with pytest.raises(ValueError, match="no results"):
        selection.recommend(table.iloc[0:0])


def test_recommend_chooses_on_validation_and_reports_test_once() -> None:
    table = results_frame([("lucky-on-test", 0.90, 1.0, 1e6), ("steady", 0.88, 1.0, 1e6)])
    table["validation_accuracy"] = [0.85, 0.87]
    table["accuracy_low"], table["accuracy_high"] = table["accuracy"] - 0.02, table["accuracy"] + 0.02
    chosen = selection.recommend(table)
    assert chosen.choice == "steady"
    assert "best validation accuracy (0.870)" in chosen.rationale
    assert "test accuracy, measured once after choosing: 0.880 (95% CI 0.860 to 0.900)" in chosen.rationale
    assert selection.recommend(table, choose_on="test").choice == "lucky-on-test"
    assert selection.recommend(table, min_metric=0.86).ruled_out == {
        "lucky-on-test": "validation accuracy 0.85, under the limit of 0.86"}
    with pytest.raises(KeyError, match="predate validation metrics"):
        selection.recommend(table.drop(columns="validation_accuracy"))
    with pytest.raises(ValueError, match="choose_on"):
        selection.recommend(table, choose_on="train")


def test_recommend_rules_out_a_candidate_whose_constrained_value_is_missing() -> None:
    table = results_frame([("unmeasured", 0.95, float("nan"), 1e6), ("measured", 0.80, 3.0, 1e6)])
    chosen = selection.recommend(table, max_latency_ms=1)
    assert chosen.choice is None
    assert "latency (p50) not measured" in chosen.ruled_out["unmeasured"]
    assert selection.recommend(table, max_latency_ms=5).choice == "measured"
    assert selection.recommend(table).choice == "unmeasured"  # no latency limit: a missing latency is no reason


def write_csv(path: Path, rows: list[tuple[str, str]], header: str = "review,sentiment") -> Path:
    import csv

    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header.split(","))
        writer.writerows(rows)
    return path


def labelled_rows(data) -> list[tuple[str, str]]:
    """Every (text, "pos"/"neg") row of a toy DatasetDict, split after split."""
    return [(text, "pos" if label else "neg") for split in data.values()
            for text, label in zip(split["text"], split["label"], strict=True)]


def test_csv_task_and_its_errors(tmp_path: Path) -> None:
    data = toy_sentiment(sizes=(60, 20, 20))
    rows = labelled_rows(data)
    task = selection.csv_task(write_csv(tmp_path / "reviews.csv", rows), "review", "sentiment")
    assert task.name == "reviews" and sum(len(s) for s in task.dataset.values()) == 100
    assert task.dataset["train"].features["label"].names == ["neg", "pos"]
    assert len(task.dataset["test"]) == 20 and len(task.dataset["validation"]) == 10
    with pytest.raises(DatasetError, match="no column 'text'.*columns are: review, sentiment"):
        selection.csv_task(tmp_path / "reviews.csv")
    with pytest.raises(DatasetError, match="single class"):
        selection.csv_task(write_csv(tmp_path / "one.csv", [(t, "pos") for t, _ in rows]), "review", "sentiment")
    with pytest.raises(DatasetError, match=r"2 row\(s\).*data rows 2, 4.*--drop-empty"):
        broken = list(rows)
        broken[1], broken[3] = ("", "pos"), ("fine film", " ")
        selection.csv_task(write_csv(tmp_path / "gaps.csv", broken), "review", "sentiment")
    with pytest.raises(DatasetError, match="no rows"):
        selection.csv_task(write_csv(tmp_path / "empty.csv", []), "review", "sentiment")
    with pytest.raises(DatasetError, match="no such file"):
        selection.csv_task(tmp_path / "missing.csv")
    with pytest.raises(DatasetError, match="fewer than"):
        selection.csv_task(write_csv(tmp_path / "rare.csv", rows + [("odd one", "neutral")]), "review", "sentiment")


def test_select_cli_end_to_end(tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from labkit.cli import main

    data = toy_sentiment(sizes=(80, 20, 20))
    rows = labelled_rows(data)
    csv_path = write_csv(tmp_path / "reviews.csv", rows, header="text,label")
    arguments = ["select", "--data", str(csv_path), "--candidates", f"tfidf-lr,{tiny_model_dir}",
                 "--output", str(tmp_path / "out"), "--max-latency-ms", "1000", "--max-length", "16"]
    assert main(arguments) == 0
    report = (tmp_path / "out" / "report.md").read_text()
    assert "Choose " in report and "tfidf-lr" in report and "| candidate |" in report
    assert (tmp_path / "out" / "pareto.png").stat().st_size > 1000
    assert "report:" in capsys.readouterr().out
    # a rerun resumes: both candidates are skipped
    assert main(arguments) == 0
    assert capsys.readouterr().out.count("already done, skipped") == 2
    # a bad CSV fails cleanly, with a message and exit code 2
    assert main(["select", "--data", str(csv_path), "--text-column", "body", "--output", str(tmp_path / "x")]) == 2
    assert "no column 'body'" in capsys.readouterr().err


def test_learning_curve_runs_each_size(tmp_path: Path) -> None:
    task = selection.Task("toy", toy_sentiment(sizes=(200, 40, 40)), max_length=16)
    curve = selection.learning_curve(task, ["tfidf-lr"], [20, 100, 10_000], tmp_path, log=lambda m: None)
    assert curve["train_examples"].tolist() == [20, 100, 200]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train-100", "train-20", "train-200"]
    assert selection.load_learning_curve(tmp_path).equals(curve)
    with pytest.raises(FileNotFoundError, match="no learning curve"):
        selection.load_learning_curve(tmp_path / "nothing")
    with pytest.raises(ValueError, match="at least 2"):
        selection.learning_curve(task, ["tfidf-lr"], [1], tmp_path)


def test_small_training_sets_get_enough_steps(tiny_model_dir: Path, tmp_path: Path) -> None:
    minilm = selection.parse_candidate("minilm-l6")  # recipe: 2 epochs of batch 32
    assert selection.small_data_recipe(minilm, 100) == {"epochs": 25, "evaluations_per_epoch": 1, "patience": 25}
    assert selection.small_data_recipe(minilm, 3000) == {"patience": 4}  # 2 x 94 steps suffice; no early stop
    assert selection.small_data_recipe(minilm, 10)["epochs"] == 30  # capped
    for classical in ("tfidf-lr", "tfidf-mlp", "tfidf-lr-all-text", "textgcn"):  # no recipe to override
        assert selection.small_data_recipe(selection.parse_candidate(classical), 10) == {}, classical
    # the curve trains a small set with those settings (4 batches of 16 -> 25 epochs for 100 steps)
    local = selection.parse_candidate(str(tiny_model_dir))
    task = selection.Task("toy", toy_sentiment(sizes=(200, 40, 40)), max_length=16)
    selection.RECIPES[local.model] = FineTuneRecipe(learning_rate=3e-3, epochs=2, batch_size=16,
                                                    evaluations_per_epoch=2)
    try:
        curve = selection.learning_curve(task, [local], [64], tmp_path, progress=False, log=lambda m: None)
    finally:
        del selection.RECIPES[local.model]
    record = json.loads((tmp_path / "train-64" / local.name / "record.json").read_text())
    assert record["settings"]["epochs"] == 25 and record["settings"]["patience"] == 25
    assert record["settings"]["steps"] == 100  # trained to the end of the schedule
    assert curve["train_examples"].tolist() == [64]


def test_remeasure_latency_changes_only_the_cost_columns(tiny_model_dir: Path, tmp_path: Path) -> None:
    local = str(tiny_model_dir)
    before = selection.compare(toy_task(), [local, "tfidf-lr"], tmp_path, overrides=FAST, progress=False,
                               log=lambda m: None)
    messages: list[str] = []
    after = selection.remeasure_latency(toy_task(), tmp_path, rounds=3, log=messages.append)
    assert len(messages) == 2 and all("ms per example" in message for message in messages)
    cost = ["latency_ms_p50", "latency_ms_p95", "batched_ms_per_example", "throughput_per_second",
            "latency_threads", "latency_measured"]
    merged = before.merge(after, on="candidate", suffixes=("", "_new"))
    for column in before.columns:
        if column not in cost and column != "candidate":
            assert merged[column].equals(merged[f"{column}_new"]), column
    assert (after["latency_ms_p50"] > 0).all() and (after["latency_ms_p50"] <= after["latency_ms_p95"]).all()
    assert after["latency_measured"].str.contains("median of 3 interleaved rounds").all()
    # the run keys survive: a rerun of compare still skips both candidates
    messages.clear()
    selection.compare(toy_task(), [local, "tfidf-lr"], tmp_path, overrides=FAST, progress=False, log=messages.append)
    assert all("already done" in message for message in messages)
    with pytest.raises(FileNotFoundError, match="no results"):
        selection.remeasure_latency(toy_task(), tmp_path / "empty")
    with pytest.raises(ValueError, match="rounds"):
        selection.remeasure_latency(toy_task(), tmp_path, rounds=0)


def test_finetune_and_latency_cli_on_a_shipped_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from labkit.cli import main

    output = str(tmp_path / "sentiment")
    assert main(["finetune", "--task", "sentiment", "--candidates", "tfidf-lr", "--output", output]) == 0
    record = json.loads((tmp_path / "sentiment" / "tfidf-lr" / "record.json").read_text())
    assert record["train_examples"] == 8454 and 0.7 < record["accuracy"] < 0.9
    assert json.loads((tmp_path / "sentiment" / "provenance.json").read_text())["runs"][0]["command"].startswith(
        "labkit finetune --task sentiment")
    capsys.readouterr()
    assert main(["latency", "--task", "sentiment", "--output", output, "--examples", "20", "--rounds", "2"]) == 0
    assert "tfidf-lr" in capsys.readouterr().out
    updated = json.loads((tmp_path / "sentiment" / "tfidf-lr" / "record.json").read_text())
    assert updated["accuracy"] == record["accuracy"] and "latency_measured" in updated
    commands = [run["command"] for run in json.loads((tmp_path / "sentiment" / "provenance.json").read_text())["runs"]]
    assert commands[-1].startswith("labkit latency --task sentiment")
    # a learning curve from the same command
    curve_output = str(tmp_path / "curve")
    assert main(["finetune", "--task", "sentiment", "--candidates", "tfidf-lr", "--sizes", "50,200",
                 "--output", curve_output]) == 0
    assert sorted(p.name for p in (tmp_path / "curve").glob("train-*")) == ["train-200", "train-50"]
    assert main(["finetune", "--task", "sentiment", "--sizes", "50", "--train-limit", "9"]) == 2


def test_learning_curves_figure() -> None:
    from labkit import viz

    curve = results_frame([("a", 0.6, 1.0, 1e6), ("a", 0.7, 1.0, 1e6), ("b", 0.55, 1.0, 1e6), ("b", 0.65, 1.0, 1e6)])
    curve["train_examples"] = [100, 1000, 1000, 100]  # b's rows out of order: the line must still be sorted
    curve["accuracy_low"], curve["accuracy_high"] = curve["accuracy"] - 0.03, curve["accuracy"] + 0.03
    figure = viz.learning_curves(curve, candidates=["b", "a"], reference=0.5)
    ax = figure.axes[0]
    assert [line.get_label() for line in ax.lines[:2]] == ["b", "a"] and ax.get_xscale() == "log"
    assert list(ax.lines[0].get_xdata()) == [100, 1000] and list(ax.lines[0].get_ydata()) == [0.65, 0.55]
    assert len(ax.collections) == 2  # one confidence band per candidate
    with pytest.raises(ValueError, match="no rows for candidate"):
        viz.learning_curves(curve, candidates=["c"])
    with pytest.raises(ValueError, match="no column"):
        viz.learning_curves(curve, metric="f1")


def test_csv_rows_are_numbered_as_data_rows_and_can_be_dropped(tmp_path: Path) -> None:
    """A quoted text spanning several lines makes file line numbers useless: errors name data rows."""
    data = toy_sentiment(sizes=(60, 20, 20))
    rows = labelled_rows(data)
    rows[0] = ("a review\nthat spans\nfour lines", rows[0][1])
    rows[2] = ("", "pos")
    path = write_csv(tmp_path / "mail.csv", rows)
    assert path.read_text().count("\n") > len(rows) + 1  # more file lines than rows
    with pytest.raises(DatasetError, match=r"data rows 3, counting the first row after the header"):
        selection.csv_task(path, "review", "sentiment")
    task = selection.csv_task(path, "review", "sentiment", drop_empty=True)
    assert sum(len(split) for split in task.dataset.values()) == 99
    assert task.source["rows_read"] == 100 and task.source["rows_kept"] == 99 and task.source["rows_dropped"] == 1
    assert task.source["dropped"]["data_rows"] == [3]
    import hashlib

    assert task.source["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_labkit_select_reports_drops_truncation_majority_rate_and_the_users_file(tiny_model_dir: Path,
                                                                                tmp_path: Path) -> None:
    from labkit.cli import main

    data = toy_sentiment(sizes=(90, 30, 30))
    rows = labelled_rows(data)
    rows += [("", "pos"), ("no label here", "")]
    path = write_csv(tmp_path / "reviews.csv", rows)
    out = tmp_path / "report"
    arguments = ["select", "--data", str(path), "--text-column", "review", "--label-column", "sentiment",
                 "--candidates", f"tfidf-lr,{tiny_model_dir}", "--output", str(out), "--max-length", "6"]
    assert main(arguments) == 2  # strict by default
    with pytest.warns(UserWarning, match="truncated"):  # announced while training, and counted in the report
        assert main([*arguments, "--drop-empty"]) == 0
    report = (out / "report.md").read_text()
    assert "152 rows read, 150 kept, 2 dropped (empty 'review' or 'sentiment'; data rows 151, 152)" in report
    assert "test majority-class rate" in report and "validation accuracy (chooses)" in report
    assert "would score 0.500 on test" in report
    assert "test texts were longer than 6 tokens and were truncated" in report
    assert "McNemar (exact binomial)" in report or "McNemar (chi-square with continuity correction)" in report
    record = json.loads(report.split("```")[1])
    assert record["data_file"]["file"] == "reviews.csv" and record["data_file"]["rows_dropped"] == 2
    assert "data_content_sha256" not in record  # the user's data, not the kit's shipped datasets


def test_choosing_on_test_is_optimistic_and_on_validation_is_not() -> None:
    """Five equally good candidates (independent errors): the test-chosen winner's score flatters it by
    about the expected maximum of five noisy estimates; the validation-chosen one's score does not."""
    rng = np.random.default_rng(0)
    exactly_800 = np.arange(1000) < 800
    same = {f"m{i}": rng.permutation(exactly_800) for i in range(5)}  # tied on the test set, errors independent
    validation = {f"m{i}": rng.random(500) < 0.8 for i in range(5)}
    result = selection.choice_optimism(validation, same, n_resamples=1000, seed=1)
    # the maximum of 5 standard normals has mean 1.16; the accuracy's standard error is sqrt(.8*.2/1000)
    expected = 1.16 * np.sqrt(0.8 * 0.2 / 1000)
    assert 0.6 * expected < result.optimism_test_choice < 1.4 * expected
    assert abs(result.optimism_validation_choice) < 0.25 * expected
    assert result.choices_differ > 0.6  # with five ties the two rules rarely agree
    assert sum(result.test_winner_shares.values()) == pytest.approx(1.0)
    # one clearly best candidate: the rules agree and nothing is flattered
    clear = {"best": rng.random(1000) < 0.95, "worse": rng.random(1000) < 0.7}
    clear_validation = {"best": rng.random(500) < 0.95, "worse": rng.random(500) < 0.7}
    decided = selection.choice_optimism(clear_validation, clear, n_resamples=500)
    assert decided.choices_differ == 0.0 and abs(decided.optimism_test_choice) < 0.003
    with pytest.raises(ValueError, match="at least two"):
        selection.choice_optimism({"a": clear["best"]}, {"a": clear["best"]})


def test_old_records_get_their_validation_accuracy_from_the_history(tmp_path: Path) -> None:
    import pandas as pd

    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "record.json").write_text(json.dumps({"candidate": "old", "accuracy": 0.7}))
    pd.DataFrame({"step": [10, 20, 30], "validation_accuracy": [0.61, 0.66, 0.64]}).to_csv(folder / "history.csv")
    row = selection.load_results(tmp_path).iloc[0]
    assert row["validation_accuracy"] == 0.66 and row["validation_accuracy_source"].startswith("history.csv")


def test_seed_paired_difference_covers_training_variance(tmp_path: Path) -> None:
    """Three seeds whose gaps disagree (+0.1, 0, -0.1) give an interval wider than one seed's."""
    import pandas as pd

    labels = np.zeros(400, dtype=int)
    rng = np.random.default_rng(0)
    for run_seed, gap in ((0, 0.1), (1, 0.0), (2, -0.1)):
        folder = selection.seed_folder(tmp_path, run_seed)
        for name, accuracy in (("a", 0.7), ("b", 0.7 + gap)):
            (folder / name).mkdir(parents=True)
            right = rng.permutation(np.arange(400) < round(400 * accuracy))
            pd.DataFrame({"label": labels, "prediction": np.where(right, 0, 1)}).to_parquet(
                folder / name / "predictions.parquet")
            (folder / name / "record.json").write_text("{}")
    result = selection.seed_paired_difference(tmp_path, "a", "b", n_resamples=1000)
    assert result["seeds"] == [0, 1, 2]
    assert result["per_seed"] == {0: pytest.approx(0.1), 1: pytest.approx(0.0), 2: pytest.approx(-0.1)}
    assert result["mean"] == pytest.approx(0.0, abs=1e-12)
    assert result["low"] < -0.05 and result["high"] > 0.05  # the seeds' disagreement shows in the interval
    single = selection.paired_comparison(tmp_path, "a", "b")  # seed 0 alone: clearly positive
    assert single["difference_low"] > 0
    with pytest.raises(FileNotFoundError, match="no seed"):
        selection.seed_paired_difference(tmp_path, "a", "missing")


def test_a_record_without_the_majority_rate_takes_its_tasks() -> None:
    table = selection.results_table([
        {"task": "t", "train_examples": 10, "candidate": "new", "model": "tfidf-lr", "accuracy": 0.8,
         "validation_accuracy": 0.8, "majority_class_rate": 0.6},
        {"task": "t", "train_examples": 10, "candidate": "old", "model": "tfidf-lr", "accuracy": 0.9,
         "validation_accuracy": 0.9},
        {"task": "t", "train_examples": 5, "candidate": "other-size", "model": "tfidf-lr", "accuracy": 0.7,
         "validation_accuracy": 0.7},
    ]).set_index("candidate")
    assert table.loc["old", "majority_class_rate"] == 0.6
    assert np.isnan(table.loc["other-size", "majority_class_rate"])  # another training set: not guessed
    assert table.loc["new", "licence"].startswith("BSD-3-Clause")


def test_recipes_are_validated_dataclasses() -> None:
    recipe = FineTuneRecipe(epochs=2, learning_rate=1e-4)
    assert recipe.updated(patience=5).patience == 5 and recipe.patience == 2  # a copy; the original is unchanged
    assert FineTuneRecipe.from_dict({"epochs": 2, "learning_rate": 1e-4}) == recipe  # missing fields: defaults
    for bad in ({"epochs": 0}, {"batch_size": 2.5}, {"learning_rate": 0.0}, {"warmup_fraction": 1.0},
                {"weight_decay": -0.1}):
        with pytest.raises(ConfigError, match="recipe"):
            FineTuneRecipe(**bad)
    with pytest.raises(ConfigError, match="unknown recipe setting"):
        FineTuneRecipe.from_dict({"epochs": 2, "lerning_rate": 1e-4})


def test_a_random_init_recipe_applies_to_random_weights_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(selection.RANDOM_INIT_RECIPES, "tiny-bert", FineTuneRecipe(epochs=9, learning_rate=1e-3))
    assert selection.parse_candidate("tiny-bert:random").recipe().epochs == 9
    assert selection.parse_candidate("tiny-bert").recipe() == selection.RECIPES["tiny-bert"]
    assert selection.parse_candidate("tiny-bert:random").recipe({"epochs": 2}).epochs == 2  # overrides still win


def test_run_keys_compare_every_recipe_field_and_accept_older_keys() -> None:
    candidate = selection.parse_candidate("tiny-bert")
    key = json.loads(json.dumps(selection.running._settings_key(candidate, 0, None, None)))
    assert set(key["recipe"]) == {field.name for field in dataclasses.fields(FineTuneRecipe)}
    older = {**key, "recipe": {"learning_rate": 3e-4, "epochs": 6, "batch_size": 32, "evaluations_per_epoch": 2}}
    assert selection.same_run(older, key)  # a key written before recipes were dataclasses: defaults filled in
    assert not selection.same_run({**older, "recipe": {**older["recipe"], "patience": 5}}, key)
    assert not selection.same_run({**key, "seed": 1}, key)
    assert not selection.same_run({**key, "recipe": {**key["recipe"], "future_setting": 1}}, key)
    assert not selection.same_run(None, key)
    baseline = selection.running._settings_key(selection.parse_candidate("tfidf-lr"), 0, None, None)
    assert selection.same_run(json.loads(json.dumps(baseline)), baseline) and not selection.same_run(baseline, key)


@pytest.mark.parametrize("task", ["sentiment", "reuters"])
def test_the_shipped_results_are_recognised_as_done(task: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """compare() on the shipped candidates retrains nothing: their saved run keys still match."""
    from labkit.paths import data_dir

    output = data_dir() / "results" / f"finetune-{task}"
    done = [path.parent.name for path in output.glob("*/validation_predictions.parquet")]
    specs = [json.loads((output / name / "record.json").read_text())["run_key"]["candidate"] for name in done]
    candidates = [selection.Candidate(**spec) for spec in specs]
    assert {"tfidf-lr", "tiny-bert", "tiny-bert-random-init"} <= {c.name for c in candidates}

    def no_training(*args, **kwargs):
        raise AssertionError("compare() retrained a shipped candidate")

    monkeypatch.setattr(selection.running, "run_candidate", no_training)
    table = selection.compare(task, candidates, output, progress=False, log=lambda message: None)
    assert sorted(table["candidate"]) == sorted(done)


def test_frozen_feature_probes_save_both_initialisations_and_resume(tiny_model_dir: Path, tmp_path: Path) -> None:
    task = selection.Task("toy", toy_sentiment(sizes=(200, 60, 60)), max_length=16)
    messages: list[str] = []
    table = selection.frozen_feature_probes(task, [str(tiny_model_dir)], tmp_path, log=messages.append)
    row = table.iloc[0]
    assert row["random_test_accuracy"] >= 0.9  # the toy task is one word: even random features hold it
    assert row["test_gain_low"] <= row["test_gain"] <= row["test_gain_high"]
    assert row["test_gain"] == pytest.approx(row["pretrained_test_accuracy"] - row["random_test_accuracy"])
    assert 0 < row["word_coverage"] <= 1 and row["test_majority_class_rate"] == 0.5
    saved = json.loads((tmp_path / "probes.json").read_text())
    assert saved["task"] == "toy" and saved["provenance"]["versions"]["torch"]
    again = selection.frozen_feature_probes(task, [str(tiny_model_dir)], tmp_path, log=messages.append)
    assert "already probed, skipped" in messages[-1]
    assert again.equals(selection.load_probes(tmp_path))


def test_learning_curve_over_seeds_is_the_spread_between_seed_folders(tmp_path: Path) -> None:
    def record(folder: Path, candidate: str, size: int, accuracy: float) -> None:
        path = folder / f"train-{size}" / candidate / "record.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"task": "toy", "candidate": candidate, "model": "tfidf-lr",
                                    "train_examples": size, "accuracy": accuracy, "validation_accuracy": accuracy}))

    for seed, accuracies in ((0, (0.60, 0.70)), (1, (0.64, 0.72)), (2, (0.62, 0.74))):
        folder = tmp_path if seed == 0 else tmp_path / f"seed-{seed}"
        record(folder, "a", 100, accuracies[0])
        record(folder, "a", 300, accuracies[1])
    record(tmp_path / "seed-1", "b", 100, 0.5)  # a point only one seed has
    spread = selection.learning_curve_over_seeds(tmp_path).set_index(["candidate", "train_examples"])
    assert spread.loc[("a", 100), "accuracy"] == pytest.approx(0.62)
    assert spread.loc[("a", 100), ["accuracy_low", "accuracy_high"]].tolist() == pytest.approx([0.60, 0.64])
    assert spread.loc[("a", 300), "accuracy_std"] == pytest.approx(0.02)
    assert spread.loc[("a", 300), "seeds"] == 3 and spread.loc[("b", 100), "seeds"] == 1
