"""labkit.compression: the distillation loss, dynamic int8 quantisation, length scaling, the shipped jobs."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from labkit.compression import distillation, length_scaling, quantisation
from labkit.errors import ConfigError, DatasetError

# Distillation


def test_distillation_loss_matches_a_hand_computation():
    # one example, two classes: student logits (1, 0), teacher logits (2, 0), label 0, alpha 0.5, T 2.
    # at T = 2: student (0.5, 0) -> softmax (e^0.5 / (e^0.5 + 1), 1 / (e^0.5 + 1)) = (0.622459, 0.377541)
    #           teacher (1, 0)   -> softmax (e / (e + 1), 1 / (e + 1))             = (0.731059, 0.268941)
    # KL(teacher || student) = 0.731059 ln(0.731059 / 0.622459) + 0.268941 ln(0.268941 / 0.377541)
    #                        = 0.731059 * 0.160823 - 0.268941 * 0.339175 = 0.026345
    # cross-entropy at T = 1: -ln(e / (e + 1)) = 0.313262
    # loss = 0.5 * 2^2 * 0.026345 + 0.5 * 0.313262 = 0.052689 + 0.156631 = 0.209320
    loss = distillation.distillation_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]]), torch.tensor([0]),
                                          alpha=0.5, temperature=2.0)
    assert loss.item() == pytest.approx(0.209320, abs=2e-6)


def test_distillation_loss_averages_over_the_batch():
    # a second example with equal logits (0, 0) for both and label 1: KL = 0, cross-entropy = ln 2 = 0.693147.
    # batch means: KL (0.026345 + 0) / 2 = 0.0131723, cross-entropy (0.313262 + 0.693147) / 2 = 0.5032045
    # loss = 0.5 * 4 * 0.0131723 + 0.5 * 0.5032045 = 0.0263446 + 0.2516022 = 0.2779468
    student = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    teacher = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    loss = distillation.distillation_loss(student, teacher, torch.tensor([0, 1]), alpha=0.5, temperature=2.0)
    assert loss.item() == pytest.approx(0.2779468, abs=2e-6)


def test_distillation_loss_agrees_with_torch_references_at_the_ends_of_alpha():
    generator = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(8, 3, generator=generator), torch.randn(8, 3, generator=generator)
    labels = torch.randint(0, 3, (8,), generator=generator)
    # alpha = 0: plain cross-entropy on the hard labels
    assert torch.allclose(distillation.distillation_loss(student, teacher, labels, alpha=0.0, temperature=3.0),
                          F.cross_entropy(student, labels))
    # alpha = 1: T^2 times the mean KL between the softened distributions (torch.distributions as reference)
    temperature = 3.0
    reference = torch.distributions.kl_divergence(torch.distributions.Categorical(logits=teacher / temperature),
                                                  torch.distributions.Categorical(logits=student / temperature)).mean()
    assert torch.allclose(distillation.distillation_loss(student, teacher, labels, alpha=1.0, temperature=temperature),
                          temperature**2 * reference, atol=1e-6)


def test_distillation_loss_gives_no_gradient_to_the_teacher():
    student = torch.tensor([[1.0, -1.0]], requires_grad=True)
    teacher = torch.tensor([[0.0, 2.0]], requires_grad=True)
    distillation.distillation_loss(student, teacher, torch.tensor([0]), alpha=0.7, temperature=2.0).backward()
    assert teacher.grad is None and student.grad is not None and student.grad.abs().sum() > 0


@pytest.mark.parametrize(("alpha", "temperature"), [(1.5, 2.0), (-0.1, 2.0), (0.5, 0.0), (0.5, -1.0), (True, 2.0)])
def test_distillation_settings_out_of_range_are_clear_errors(alpha, temperature):
    with pytest.raises(ConfigError, match="alpha|temperature"):
        distillation.distillation_loss(torch.zeros(2, 2), torch.zeros(2, 2), torch.tensor([0, 1]), alpha=alpha,
                                       temperature=temperature)
    with pytest.raises(ConfigError):
        distillation.DistillationSettings(alpha, temperature)


def test_distillation_loss_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="n_classes"):
        distillation.distillation_loss(torch.zeros(2, 2), torch.zeros(2, 3), torch.tensor([0, 1]), alpha=0.5,
                                       temperature=2.0)
    with pytest.raises(ValueError, match="labels"):
        distillation.distillation_loss(torch.zeros(2, 2), torch.zeros(2, 2), torch.tensor([0]), alpha=0.5,
                                       temperature=2.0)


def test_saved_logits_are_looked_up_by_id_in_the_order_asked():
    frame = distillation.logits_frame(["a", "b", "c"], [0, 1, 1], np.array([[1, 2], [3, 4], [5, 6]]),
                                      ["negative", "positive"])
    assert list(frame.columns) == ["id", "label", "logit_negative", "logit_positive"]
    np.testing.assert_array_equal(distillation.logits_for(frame, ["c", "a"], ["negative", "positive"]),
                                  [[5, 6], [1, 2]])
    with pytest.raises(DatasetError, match="no teacher logits"):
        distillation.logits_for(frame, ["a", "z"], ["negative", "positive"])
    with pytest.raises(ValueError, match="n_texts"):
        distillation.logits_frame(["a"], [0], np.zeros((2, 2)), ["negative", "positive"])


def _small_movies(n_train: int = 64, n_eval: int = 32):
    from datasets import DatasetDict

    from labkit import data

    movies = data.load_sentiment("movies")
    return DatasetDict({split: movies[split].shuffle(seed=0).select(range(n_train if split == "train" else n_eval))
                        for split in ("train", "validation", "test")})


def test_distillation_with_alpha_zero_is_ordinary_fine_tuning():
    """The only thing distillation changes is the loss: with alpha = 0 it trains exactly as fine_tune does."""
    from labkit import finetune

    dataset = _small_movies()
    recipe = finetune.recipe_for("tiny-bert").updated(epochs=1)
    logits = np.random.default_rng(0).normal(size=(len(dataset["train"]), 2)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", finetune.TruncationWarning)
        distilled = distillation.distil("tiny-bert", dataset, logits, distillation.DistillationSettings(0.0, 2.0),
                                        recipe=recipe, seed=3, progress=False)
        plain = finetune.fine_tune("tiny-bert", dataset, recipe, max_length=64, seed=3, progress=False)
    np.testing.assert_allclose(distilled.probabilities, plain.probabilities, atol=1e-5)
    assert distilled.config["alpha"] == 0.0 and distilled.config["steps"] == plain.config["steps"]
    assert isinstance(distilled.model, type(plain.model))  # the student itself, not the training wrapper


def test_distil_rejects_logits_of_the_wrong_shape():
    dataset = _small_movies(16, 8)
    with pytest.raises(DatasetError, match="n_train"):
        distillation.distil("tiny-bert", dataset, np.zeros((5, 2)), distillation.DistillationSettings(0.5, 2.0))
    with pytest.raises(DatasetError, match="NaN"):
        distillation.distil("tiny-bert", dataset, np.full((16, 2), np.nan), distillation.DistillationSettings(0.5, 2.0))


def test_the_grid_choice_is_the_best_validation_accuracy_and_the_first_of_a_tie():
    from labkit.compression.jobs import choose_distillation_settings

    grid = [{"candidate": "a", "validation_accuracy": 0.70}, {"candidate": "b", "validation_accuracy": 0.72},
            {"candidate": "c", "validation_accuracy": 0.72}]
    assert choose_distillation_settings(grid)["candidate"] == "b"
    with pytest.raises(ConfigError):
        choose_distillation_settings([])


# Quantisation


@pytest.fixture(scope="module")
def tiny_classifier():
    from labkit import data, models

    tokenizer, model = models.load("tiny-bert-sentiment", task="sequence-classification")
    texts = list(data.load_sentiment("movies")["validation"]["text"])[:100]
    return tokenizer, model, texts


def test_int8_outputs_are_close_to_the_float_model(tiny_classifier):
    tokenizer, model, texts = tiny_classifier
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the expected deprecation notices are silenced inside, nothing else shows
        int8 = quantisation.quantise_dynamic(model)
    float_logits = quantisation.logits_of(model, tokenizer, texts)
    int8_logits = quantisation.logits_of(int8, tokenizer, texts)
    agreement = quantisation.output_agreement(float_logits, int8_logits)
    # stated tolerance: 8-bit weights and activations move a logit by at most 0.5 and by 0.1 on average
    assert agreement.max_abs_logit_difference < 0.5
    assert agreement.mean_abs_logit_difference < 0.1
    assert agreement.same_prediction >= 0.95  # predictions mostly equal
    assert agreement.max_abs_logit_difference > 0  # and it really is another model
    assert not any(type(module) is torch.nn.Linear for module in int8.modules())  # every Linear was replaced
    assert any(isinstance(module, torch.ao.nn.quantized.dynamic.Linear) for module in int8.modules())
    assert any(type(module) is torch.nn.Linear for module in model.modules())  # the float model is unchanged


def test_int8_weights_are_smaller_on_disk_and_load_back(tiny_classifier, tmp_path):
    tokenizer, model, texts = tiny_classifier
    int8 = quantisation.quantise_dynamic(model)
    float_bytes, int8_bytes = quantisation.saved_size_bytes(model), quantisation.saved_size_bytes(int8)
    share = quantisation.linear_share(model)
    # the Linear layers' bytes shrink about 4x, the rest (embeddings, LayerNorm) stays: expected size
    expected = float_bytes * (1 - share + share / 4)
    assert int8_bytes < float_bytes
    assert int8_bytes == pytest.approx(expected, rel=0.1)
    path = quantisation.save_quantised(int8, tmp_path / "int8.pt")
    loaded = quantisation.load_quantised(model, path)
    np.testing.assert_allclose(quantisation.logits_of(loaded, tokenizer, texts[:20]),
                               quantisation.logits_of(int8, tokenizer, texts[:20]), atol=1e-6)


def test_linear_share_counts_linear_parameters():
    model = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 2))  # 40 + (8 + 2) parameters
    assert quantisation.linear_share(model) == pytest.approx(10 / 50)


def test_output_agreement_by_hand():
    float_logits = np.array([[2.0, 0.0], [0.0, 1.0]])
    int8_logits = np.array([[1.5, 0.0], [0.2, 0.1]])  # second example flips to class 0
    agreement = quantisation.output_agreement(float_logits, int8_logits)
    assert agreement.max_abs_logit_difference == pytest.approx(0.9)
    assert agreement.mean_abs_logit_difference == pytest.approx((0.5 + 0 + 0.2 + 0.9) / 4)
    assert agreement.same_prediction == 0.5
    with pytest.raises(ValueError, match="shape"):
        quantisation.output_agreement(np.zeros((2, 2)), np.zeros((3, 2)))


def test_quantising_something_that_cannot_be_quantised_is_a_clear_error():
    with pytest.raises(ConfigError, match="nn.Module"):
        quantisation.quantise_dynamic("minilm")
    with pytest.raises(ConfigError, match="no nn.Linear"):
        quantisation.quantise_dynamic(torch.nn.Sequential(torch.nn.ReLU()))
    with pytest.raises(ConfigError, match="no saved"):
        quantisation.load_quantised(torch.nn.Linear(2, 2), "/nonexistent/weights.pt")


def test_compare_latency_returns_one_row_per_model_and_batch_size():
    predictors = {"fast": lambda batch: [len(text) for text in batch], "other": lambda batch: sorted(batch)}
    table = quantisation.compare_latency(predictors, ["a", "bb", "ccc", "dddd"], batch_sizes=(1, 2), rounds=2,
                                         warmup=0)
    assert sorted(zip(table["model"], table["batch_size"], strict=True)) == [("fast", 1), ("fast", 2), ("other", 1),
                                                                             ("other", 2)]
    assert (table["per_example_ms_p50"] > 0).all() and (table["rounds"] == 2).all()
    with pytest.raises(ConfigError, match="at least 32 texts"):
        quantisation.compare_latency(predictors, ["a"], batch_sizes=(1, 32))


# Length scaling


def test_the_flop_model_crosses_at_six_d():
    assert length_scaling.predicted_crossover(384) == 2304  # MiniLM
    assert length_scaling.predicted_crossover(128) == 768  # tiny-bert
    d = 64
    assert length_scaling.attention_flops(6 * d, d) == length_scaling.linear_flops(6 * d, d)
    assert length_scaling.attention_flops(100, 64) == 2 * 100 * 100 * 64
    assert length_scaling.linear_flops(100, 64) == 12 * 100 * 64 * 64
    with pytest.raises(ConfigError):
        length_scaling.predicted_crossover(0)


def test_the_cost_fit_recovers_known_coefficients_from_synthetic_timings():
    lengths = np.array([32, 64, 128, 256, 512, 1024, 2048], dtype=float)
    constant, linear, quadratic = 2e-3, 3e-5, 4e-8  # crossover linear / quadratic = 750 tokens
    exact = constant + linear * lengths + quadratic * lengths**2
    fit = length_scaling.fit_cost_model(lengths, exact)
    assert fit.constant == pytest.approx(constant, rel=1e-6)
    assert fit.linear == pytest.approx(linear, rel=1e-6)
    assert fit.quadratic == pytest.approx(quadratic, rel=1e-6)
    assert fit.crossover == pytest.approx(750, rel=1e-6)
    assert fit.r_squared == pytest.approx(1.0)
    # with 3% timing noise the crossover is still found within 25%
    noisy = exact * (1 + 0.03 * np.random.default_rng(0).standard_normal(len(lengths)))
    assert length_scaling.fit_cost_model(lengths, noisy).crossover == pytest.approx(750, rel=0.25)
    np.testing.assert_allclose(fit.predict([100]), constant + linear * 100 + quadratic * 100**2)


def test_a_cost_fit_without_a_quadratic_term_has_no_crossover():
    lengths = np.array([10, 20, 40, 80])
    assert length_scaling.fit_cost_model(lengths, 1e-3 + 1e-5 * lengths).crossover == math.inf


@pytest.mark.parametrize(("lengths", "seconds", "message"), [
    ([10, 20], [1.0, 2.0], "3 or more"),
    ([10, 10, 20], [1.0, 1.0, 2.0], "3 or more"),
    ([10, 20, 30], [1.0, 2.0], "same length"),
    ([10, -20, 30], [1.0, 2.0, 3.0], "positive"),
    ([10, 20, 30], [1.0, float("nan"), 3.0], "positive"),
])
def test_the_cost_fit_rejects_bad_timings(lengths, seconds, message):
    with pytest.raises(ValueError, match=message):
        length_scaling.fit_cost_model(lengths, seconds)


def test_the_split_fit_recovers_both_parts_and_their_crossover():
    n = np.array([32, 64, 128, 256, 512], dtype=float)
    # rest: 0.01 + 1e-4 n; attention: 2e-7 n^2 + 1e-6 n. Equal where 2e-7 n^2 + (1e-6 - 1e-4) n - 0.01 = 0:
    # n = (9.9e-5 + sqrt(9.801e-9 + 8e-9)) / (2 * 2e-7) = (9.9e-5 + 1.33420e-4) / 4e-7 = 581.05
    table = pd.DataFrame({"n": n, "seconds_without_attention": 0.01 + 1e-4 * n,
                          "attention_seconds": 2e-7 * n**2 + 1e-6 * n})
    fit = length_scaling.fit_split_costs(table)
    assert (fit.constant, fit.per_token) == (pytest.approx(0.01), pytest.approx(1e-4))
    assert (fit.per_token_squared, fit.attention_per_token) == (pytest.approx(2e-7), pytest.approx(1e-6))
    assert fit.crossover == pytest.approx(581.05, abs=0.05)
    rest, attention = fit.predict([fit.crossover])
    assert rest[0] == pytest.approx(attention[0])
    with pytest.raises(ValueError, match="no column"):
        length_scaling.fit_split_costs(table.drop(columns="attention_seconds"))


def test_measured_crossover_interpolates_where_the_share_reaches_one_half():
    table = pd.DataFrame({"n": [100, 200, 400], "attention_share": [0.2, 0.4, 0.6]})
    assert length_scaling.measured_crossover(table) == pytest.approx(300)  # halfway from 0.4 to 0.6
    assert length_scaling.measured_crossover(table.assign(attention_share=[0.1, 0.2, 0.3])) == math.inf
    assert length_scaling.measured_crossover(table.assign(attention_share=[0.6, 0.7, 0.8])) == 100
    # a noisy short length above 1/2 does not count: from 200 (0.3) to 400 (0.7), 1/2 is halfway, at 300
    assert length_scaling.measured_crossover(table.assign(attention_share=[0.8, 0.3, 0.7])) == pytest.approx(300)


def test_removing_attention_stops_tokens_from_mixing():
    encoder = length_scaling.synthetic_encoder(32, layers=1, heads=2, max_positions=64)
    length_scaling._register_no_mixing()
    ids = torch.tensor([[5, 6, 7, 8]])
    changed = torch.tensor([[5, 6, 7, 9]])  # only the last token differs
    outputs = {}
    for implementation in ("eager", length_scaling.NO_MIXING):
        encoder.set_attn_implementation(implementation)
        with torch.inference_mode():
            outputs[implementation] = (encoder(input_ids=ids).last_hidden_state,
                                       encoder(input_ids=changed).last_hidden_state)
    before, after = outputs[length_scaling.NO_MIXING]
    assert torch.allclose(before[0, :3], after[0, :3])  # without attention, the first three tokens do not see it
    before, after = outputs["eager"]
    assert not torch.allclose(before[0, :3], after[0, :3])  # with attention they do


def test_measure_length_scaling_reports_each_length_and_stays_eager():
    encoder = length_scaling.synthetic_encoder(32, layers=1, heads=2, max_positions=128)
    table = length_scaling.measure_length_scaling(encoder, [16, 32, 64], repeats=2, min_seconds=0.0, memory=False)
    assert list(table["n"]) == [16, 32, 64]
    assert (table["seconds"] > 0).all() and table["attention_share"].between(0, 1).all()
    np.testing.assert_allclose(table["attention_weights_mb"], [2 * n * n * 4 / 1e6 for n in (16, 32, 64)])
    np.testing.assert_allclose(table["predicted_attention_share"],
                               [2 * n * n * 32 / (2 * n * n * 32 + 12 * n * 32 * 32) for n in (16, 32, 64)])
    assert encoder.config._attn_implementation == "eager"
    assert table.attrs["d"] == 32 and table.attrs["attention"] == "eager" and table.attrs["clock"] == "cpu"
    with pytest.raises(ConfigError, match="clock"):
        length_scaling.measure_length_scaling(encoder, [16], clock="sundial")


def test_measure_length_scaling_rejects_lengths_beyond_the_positions():
    encoder = length_scaling.synthetic_encoder(32, layers=1, heads=2, max_positions=64)
    with pytest.raises(ConfigError, match="positions"):
        length_scaling.measure_length_scaling(encoder, [32, 128])
    with pytest.raises(ConfigError, match="at least one"):
        length_scaling.measure_length_scaling(encoder, [])
    with pytest.raises(ConfigError, match="divisible"):
        length_scaling.synthetic_encoder(30, heads=4)


# Truncation runs and the command


def test_truncation_runs_reject_lengths_bert_cannot_read(tmp_path):
    from labkit.compression import truncation

    assert truncation.truncation_name("minilm-l6", 256) == "minilm-l6-len256"
    with pytest.raises(ConfigError, match="between 8 and 512"):
        truncation.truncation_runs([64, 1024], tmp_path)
    with pytest.raises(ConfigError, match="at least one"):
        truncation.truncation_runs([], tmp_path)


def test_the_compress_command_fails_in_one_line(capsys, tmp_path):
    from labkit.cli import main

    assert main(["compress", "reuters-length", "--max-lengths", "600", "--output", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "between 8 and 512" in error and "Traceback" not in error
    assert main(["compress", "distil", "--seeds", "1,2", "--output", str(tmp_path)]) == 2
    assert "needs seed 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["compress", "prune"])


def test_every_job_writes_under_the_kits_results_folder_by_default():
    from labkit.compression import jobs
    from labkit.paths import data_dir

    for job in jobs.JOBS:
        assert jobs.default_output(job).parent == data_dir() / "results", job
    with pytest.raises(ConfigError, match="unknown compression job"):
        jobs.default_output("prune")
