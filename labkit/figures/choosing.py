"""Figures of notebooks 05 and 06: fine-tuning results, calibration, choosing a model."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from labkit import viz
from labkit.figures.registry import figure
from labkit.figures.shared import _movie_test_texts, _results, _results_dir


@figure("05-sentiment-test-accuracy")
def _sentiment_forest() -> Figure:
    table = _results("sentiment")
    return viz.metric_forest_plot({row.candidate: (row.accuracy, row.accuracy_low, row.accuracy_high)
                                   for row in table.itertuples()}, metric="test accuracy",
                                  reference=float(table["majority_class_rate"].iloc[0]),
                                  title="Movie-review sentiment, full training set (95% CI)")


@figure("05-validation-during-fine-tuning")
def _validation_curves() -> Figure:
    from labkit import selection

    folder = _results_dir("finetune-sentiment")
    curves = {}
    for name in ["tiny-bert", "tiny-bert-random-init", "tiny-bert-frozen", "minilm-l6"]:
        history = selection.load_history(folder, name)
        curves[name] = (history["step"], history["validation_accuracy"])
    tfidf = selection.load_history(folder, "tfidf-lr")["validation_accuracy"].max()
    return viz.line_chart(curves, xlabel="training step", ylabel="validation accuracy", reference=tfidf,
                          reference_label="TF-IDF + LR", title="Validation accuracy during fine-tuning")


@figure("05-learning-curves")
def _learning_curves_05() -> Figure:
    import pandas as pd

    from labkit import selection

    table = _results("sentiment")
    curve = pd.concat([selection.load_learning_curve(_results_dir("curve-sentiment")), table], ignore_index=True)
    return viz.learning_curves(curve, candidates=["tiny-bert", "tiny-bert-random-init", "tfidf-lr", "minilm-l6"],
                               reference=float(table["majority_class_rate"].iloc[0]), reference_label="majority class",
                               title="Test accuracy vs amount of labelled data")


def _best_transformer_predictions():
    from labkit import selection

    table = _results("sentiment")
    best = table[table["model"] != "tfidf-lr"].iloc[0]["candidate"]
    predictions = selection.load_predictions(_results_dir("finetune-sentiment"), best)
    predictions["text"] = list(_movie_test_texts())
    return best, predictions


@figure("05-confusion-matrix")
def _confusion_matrix() -> Figure:
    from labkit import evaluation

    best, predictions = _best_transformer_predictions()
    matrix = evaluation.confusion_matrix(predictions["label"], predictions["prediction"], labels=[0, 1])
    return viz.confusion_matrix_figure(matrix, ["negative", "positive"], title=f"{best}: test confusion matrix")


@figure("05-accuracy-by-sentence-length")
def _accuracy_by_length() -> Figure:
    best, predictions = _best_transformer_predictions()
    words = predictions["text"].str.split().str.len()
    length = np.select([words <= 10, words <= 20, words <= 30], ["1-10 words", "11-20", "21-30"], "over 30")
    by_length = (predictions["label"] == predictions["prediction"]).groupby(length).mean()
    return viz.bar_chart(list(by_length.index), list(by_length.values), xlabel="test accuracy",
                         title=f"{best}: accuracy by sentence length")


@figure("05-cross-domain")
def _cross_domain() -> Figure:
    from labkit.data import load_sentiment

    table = _results("sentiment")
    domains = ["amazon", "nyt", "tweets"]
    movies = load_sentiment("movies")
    majority = int(np.bincount(movies["train"]["label"]).argmax())
    rates = {"movies (test)": float(np.mean(np.array(movies["test"]["label"]) == majority))}
    rates |= {d: max(float(np.mean(np.array(load_sentiment(d)["test"]["label"]) == k)) for k in (0, 1))
              for d in domains}  # each domain's floor: always answering *its* most frequent class
    cross = {row.candidate: {"movies (test)": row.accuracy, **{d: getattr(row, f"accuracy_{d}") for d in domains}}
             for row in table.itertuples()}
    return viz.grouped_bars({**cross, "majority class": rates}, ylabel="accuracy",
                            title="Trained on movie reviews, tested elsewhere (last bars: majority class)")


@figure("06-paired-differences")
def _paired_differences() -> Figure:
    from labkit import selection

    figure_, ((left, right),) = viz.new_grid(1, 2, cell_size=(6.0, 3.4))
    for ax, task, folder, title in [(left, "sentiment", "finetune-sentiment", "sentiment"),
                                    (right, "reuters", "finetune-reuters", "topic (Reuters)")]:
        table = _results(task)
        best = table.iloc[0]["candidate"]
        pairs = [selection.paired_comparison(_results_dir(folder), best, other)
                 for other in table["candidate"].iloc[1:]]
        viz.metric_forest_plot({p["b"]: (p["difference"], p["difference_low"], p["difference_high"]) for p in pairs},
                               metric=f"accuracy minus {best}'s", title=title, reference=0.0, ax=ax)
    return figure_


def _probabilities(candidate: str, split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    from labkit import selection

    saved = selection.load_predictions(_results_dir("finetune-sentiment"), candidate, split=split)
    return saved["label"].to_numpy(), saved.filter(like="probability_").to_numpy()


@figure("06-reliability-best-and-worst")
def _reliability() -> Figure:
    from labkit import evaluation

    table = _results("sentiment")
    calibration = {candidate: _probabilities(candidate) for candidate in table["candidate"]}
    best = table.iloc[0]["candidate"]
    worst = max(calibration, key=lambda name: evaluation.expected_calibration_error(*calibration[name]))
    figure_, ((left, right),) = viz.new_grid(1, 2, cell_size=(4.6, 4.2))
    viz.reliability_diagram(*calibration[best], title=best, ax=left)
    viz.reliability_diagram(*calibration[worst], title=worst, ax=right)
    return figure_


@figure("06-temperature-scaling")
def _temperature_scaling() -> Figure:
    from labkit import evaluation
    from labkit.calibration import apply_temperature, fit_temperature

    candidates = ["minilm-l6", "tiny-bert", "tfidf-lr"]
    figure_, axes = viz.new_grid(2, len(candidates), cell_size=(4.2, 4.0))
    for column, candidate in enumerate(candidates):
        temperature = fit_temperature(*_probabilities(candidate, "validation"))  # fitted on validation, as in 06
        labels, before = _probabilities(candidate)
        after = apply_temperature(before, temperature)
        for row, (probabilities, what) in enumerate([(before, "as trained"), (after, f"T = {temperature:.2f}")]):
            ece = evaluation.expected_calibration_error(labels, probabilities)
            viz.reliability_diagram(labels, probabilities, n_bins=15, ax=axes[row, column],
                                    title=f"{candidate}, {what} (test ECE {ece:.3f})")
    return figure_


@figure("06-pareto-fronts")
def _pareto() -> Figure:
    from labkit import selection

    figure_, ((left, right),) = viz.new_grid(1, 2, cell_size=(5.6, 4.2))
    for ax, task, title in [(left, "sentiment", "Sentiment"), (right, "reuters", "Topic")]:
        table = _results(task)
        viz.pareto_scatter(list(table["candidate"]), list(table["latency_ms_p50"]), list(table["accuracy"]),
                           list(selection.pareto_front(table)), sizes=list(table["parameters"]),
                           intervals=list(zip(table["accuracy_low"], table["accuracy_high"], strict=True)),
                           baseline=float(table["majority_class_rate"].iloc[0]),
                           title=f"{title} (marker area: parameters)", ax=ax)
    return figure_


@figure("06-learning-curves-over-seeds")
def _learning_curves_seeds() -> Figure:
    from labkit import selection

    seed_curve = selection.learning_curve_over_seeds(_results_dir("curve-sentiment"))
    seed_curve = seed_curve[seed_curve["seeds"] == 3]
    return viz.learning_curves(seed_curve, candidates=["tfidf-lr", "tiny-bert", "tiny-bert-random-init"],
                               reference=float(_results("sentiment")["majority_class_rate"].iloc[0]),
                               reference_label="majority class",
                               title="Sentiment: mean of 3 training seeds; band: lowest to highest seed")
