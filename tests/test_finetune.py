"""labkit.finetune: the fine-tuning entry point, the TF-IDF baseline and their checks on the data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import Dataset, DatasetDict

from labkit import finetune
from labkit.models import load
from tests.conftest import toy_sentiment


def run(folder: Path, dataset: DatasetDict, **kwargs: object) -> finetune.FineTuneResult:
    options = dict(epochs=8, batch_size=16, learning_rate=3e-3, max_length=16, patience=8, progress=False)
    options.update(kwargs)
    return finetune.fine_tune(str(folder), dataset, **options)


def test_learns_a_separable_task(tiny_model_dir: Path) -> None:
    result = run(tiny_model_dir, toy_sentiment())
    assert result.test_accuracy >= 0.95
    assert result.history["validation_accuracy"].max() >= 0.95
    assert result.history["train_loss"].iloc[-1] < result.history["train_loss"].iloc[0]
    assert result.probabilities.shape == (60, 2)
    assert np.allclose(result.probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert list(result.predictions.columns) == ["text", "label", "prediction", "probability_negative",
                                                "probability_positive"]
    # the same model predicts raw texts the same way
    again = finetune.predict_proba(result.model, result.tokenizer, list(result.predictions["text"]), max_length=16)
    assert np.allclose(again, result.probabilities, atol=1e-5)


def test_early_stopping_waits_for_the_warmup(tiny_model_dir: Path) -> None:
    # a learning rate too small to change any prediction: validation accuracy never improves after the
    # first check, so patience 1 stops at the first check after the warmup (10 of 20 steps), never before
    data = toy_sentiment(sizes=(64, 20, 20))
    result = run(tiny_model_dir, data, epochs=5, learning_rate=1e-9, warmup_fraction=0.5, patience=1,
                 evaluations_per_epoch=4)
    assert result.config["steps"] == 11  # a check at every step; the first one after step 10 ends it
    stopped_early = run(tiny_model_dir, data, epochs=5, learning_rate=1e-9, warmup_fraction=0.0, patience=1,
                        evaluations_per_epoch=4)
    assert stopped_early.config["steps"] == 2


def test_seed_reproduces_and_changes(tiny_model_dir: Path) -> None:
    data = toy_sentiment(sizes=(96, 20, 20))
    first = run(tiny_model_dir, data, epochs=2, seed=1)
    second = run(tiny_model_dir, data, epochs=2, seed=1)
    third = run(tiny_model_dir, data, epochs=2, seed=2)
    assert np.array_equal(first.probabilities, second.probabilities)
    assert first.history[["train_loss", "validation_loss"]].equals(second.history[["train_loss", "validation_loss"]])
    assert not np.array_equal(first.probabilities, third.probabilities)


def test_freezing_trains_the_head_only(tiny_model_dir: Path) -> None:
    result = run(tiny_model_dir, toy_sentiment(), epochs=1, freeze=True)
    head = sum(p.numel() for p in result.model.classifier.parameters())
    assert result.trainable_parameters == head < result.parameters
    _, reference = load(str(tiny_model_dir))
    assert torch.equal(result.model.bert.encoder.layer[0].attention.self.query.weight,
                       reference.encoder.layer[0].attention.self.query.weight)


def test_random_initialisation_differs_from_the_checkpoint(tiny_model_dir: Path) -> None:
    tokenizer, pretrained = finetune.load_classifier(str(tiny_model_dir), 2, "pretrained", seed=0)
    _, random_init = finetune.load_classifier(str(tiny_model_dir), 2, "random", seed=0)
    assert pretrained.config.hidden_size == random_init.config.hidden_size
    assert not torch.equal(pretrained.bert.embeddings.word_embeddings.weight,
                           random_init.bert.embeddings.word_embeddings.weight)
    with pytest.raises(ValueError, match="initialisation"):
        finetune.load_classifier(str(tiny_model_dir), 2, "imagenet")


def test_truncation_is_announced(tiny_model_dir: Path) -> None:
    data = toy_sentiment(sizes=(40, 10, 10))
    with pytest.warns(finetune.TruncationWarning) as caught:
        run(tiny_model_dir, data, epochs=1, max_length=4)
    messages = [str(warning.message) for warning in caught if warning.category is finetune.TruncationWarning]
    assert len(messages) == 1, "one announcement per run, naming every split"
    assert messages[0].startswith("texts longer than max_length=4 tokens were truncated: ")
    for split, size in (("train", 40), ("validation", 10), ("test", 10)):
        assert f"{split} {size} of {size} (longest" in messages[0]


def test_train_limit(tiny_model_dir: Path) -> None:
    result = run(tiny_model_dir, toy_sentiment(), epochs=1, train_limit=32)
    assert result.config["train_examples"] == 32 and result.config["steps"] == 2
    with pytest.raises(finetune.DatasetError, match="at least 2"):
        run(tiny_model_dir, toy_sentiment(), train_limit=1)


def test_baseline_matches_scikit_learn_run_directly() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    data = toy_sentiment(seed=3)
    result = finetune.tfidf_logistic_regression(data, C_values=(1.0,))
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    features = vectorizer.fit_transform(data["train"]["text"])
    classifier = LogisticRegression(C=1.0, max_iter=2000, random_state=0).fit(features, data["train"]["label"])
    expected = classifier.predict_proba(vectorizer.transform(data["test"]["text"]))
    assert np.allclose(result.probabilities, expected)
    assert result.test_accuracy == 1.0  # a linear model on words separates this task exactly
    # learned numbers: the idf weights plus the logistic regression's coefficients and intercept
    assert result.parameters == vectorizer.idf_.size + classifier.coef_.size + classifier.intercept_.size


def test_baseline_chooses_C_on_validation() -> None:
    result = finetune.tfidf_logistic_regression(toy_sentiment(seed=4), C_values=(0.01, 10.0))
    assert list(result.history["C"]) == [0.01, 10.0]
    best = result.history.loc[result.history["validation_accuracy"].idxmax(), "C"]
    assert result.config["C"] == best


def test_bad_datasets_are_rejected_clearly() -> None:
    data = toy_sentiment(sizes=(20, 10, 10))
    with pytest.raises(finetune.DatasetError, match="DatasetDict"):
        finetune.check_dataset(data["train"])
    with pytest.raises(finetune.DatasetError, match="no validation split"):
        finetune.check_dataset(DatasetDict({"train": data["train"], "test": data["test"]}))
    with pytest.raises(finetune.DatasetError, match="no column 'review'.*columns are: text, label"):
        finetune.check_dataset(data, text_column="review")
    one_class = DatasetDict({**data, "train": data["train"].filter(lambda row: row["label"] == 1)})
    with pytest.raises(finetune.DatasetError, match="single class"):
        finetune.check_dataset(one_class)
    empty = DatasetDict({**data, "test": data["test"].select([])})
    with pytest.raises(finetune.DatasetError, match="test split is empty"):
        finetune.check_dataset(empty)
    blank = DatasetDict({**data, "validation": Dataset.from_dict({"text": ["fine", "  "], "label": [0, 1]})})
    with pytest.raises(finetune.DatasetError, match="1 example.*empty"):
        finetune.check_dataset(blank)
    gappy = DatasetDict({split: Dataset.from_dict({"text": ["a", "b"], "label": [0, 2]})
                         for split in ("train", "validation", "test")})
    with pytest.raises(finetune.DatasetError, match="0..k-1"):
        finetune.check_dataset(gappy)


def test_string_labels_are_mapped() -> None:
    data = DatasetDict({split: Dataset.from_dict({"text": ["good film", "bad film", "great", "awful"],
                                                  "label": ["pos", "neg", "pos", "neg"]})
                        for split in ("train", "validation", "test")})
    assert finetune.check_dataset(data) == ["neg", "pos"]
    result = finetune.tfidf_logistic_regression(data, C_values=(1.0,))
    assert result.label_names == ["neg", "pos"] and list(result.predictions["label"]) == [1, 0, 1, 0]


def test_an_interrupted_run_resumes_to_the_same_result(tiny_model_dir: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed after its third validation check, a run resumed from its checkpoint ends exactly as an
    uninterrupted one: same history, same validation and test probabilities."""
    settings = dict(epochs=3, evaluations_per_epoch=2, learning_rate=3e-3, batch_size=16, max_length=16,
                    patience=10, progress=False)
    data = toy_sentiment(sizes=(96, 30, 30))
    uninterrupted = finetune.fine_tune(str(tiny_model_dir), data, **settings)

    checkpoint = tmp_path / "run.pt"
    real_save, saves = finetune.training._save_checkpoint, []

    def save_then_die(*args: object, **kwargs: object) -> None:
        real_save(*args, **kwargs)
        saves.append(1)
        if len(saves) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(finetune.training, "_save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        finetune.fine_tune(str(tiny_model_dir), data, checkpoint=checkpoint, **settings)
    monkeypatch.setattr(finetune.training, "_save_checkpoint", real_save)
    assert checkpoint.is_file()
    resumed = finetune.fine_tune(str(tiny_model_dir), data, checkpoint=checkpoint, **settings)
    columns = ["epoch", "step", "train_loss", "validation_loss", "validation_accuracy"]
    assert len(resumed.history) == len(uninterrupted.history) == 6
    np.testing.assert_allclose(resumed.history[columns].to_numpy(), uninterrupted.history[columns].to_numpy(),
                               rtol=1e-5)
    np.testing.assert_allclose(resumed.probabilities, uninterrupted.probabilities, atol=1e-6)
    np.testing.assert_allclose(resumed.validation_probabilities, uninterrupted.validation_probabilities, atol=1e-6)
    # a checkpoint of other settings is refused, not silently mixed in
    with pytest.raises(ValueError, match="other settings"):
        finetune.fine_tune(str(tiny_model_dir), data, checkpoint=checkpoint, **{**settings, "learning_rate": 1e-3})


def test_mean_pooled_features_ignore_padding_and_match_a_manual_mean(tiny_model_dir: Path) -> None:
    tokenizer, model = finetune.load_classifier(str(tiny_model_dir), 2)
    texts = ["good film", "a much longer sentence about the plot and the music"]
    pooled = finetune.mean_pooled_features(model, tokenizer, texts, max_length=32)
    assert pooled.shape == (2, model.config.hidden_size)
    alone = tokenizer(texts[:1], return_tensors="pt")  # no padding at all
    with torch.no_grad():
        hidden = model.base_model(**alone).last_hidden_state[0]
    np.testing.assert_allclose(pooled[0], hidden.mean(0).numpy(), atol=1e-5)


def test_linear_probe_reads_a_task_from_frozen_features(tiny_model_dir: Path) -> None:
    """The toy task is decided by one word: even a random encoder's mean-pooled features separate it,
    and the probe never trains the encoder."""
    probe = finetune.linear_probe(str(tiny_model_dir), toy_sentiment(sizes=(200, 60, 60)), max_length=16)
    assert probe["test_accuracy"] >= 0.9 and probe["C"] in (0.1, 1.0, 10.0) and probe["features"] == 32


def test_word_coverage_counts_words_kept_whole() -> None:
    from labkit.models import load

    tokenizer, _ = load("minilm-l6")  # bert-base-uncased's vocabulary: common English words are single tokens
    assert finetune.word_coverage(tokenizer, ["The cat sat on the mat."]) == 1.0
    # 4 words; "zxqvbnmq" is no English word, so WordPiece cuts it; the number 42 is not a word
    assert finetune.word_coverage(tokenizer, ["the dog saw zxqvbnmq", "42 times"]) == pytest.approx(4 / 5)
    with pytest.raises(finetune.DatasetError, match="no alphabetic words"):
        finetune.word_coverage(tokenizer, ["42 17"])
