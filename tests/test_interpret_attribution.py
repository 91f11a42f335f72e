"""labkit.interpret.attribution against captum 0.9.0, on the same model, target and baseline.

Tolerances: the two sides run the same float32 arithmetic in a different order, so scores agree to
``atol=1e-6`` logit units (the scores of tiny-bert's random head are around 1e-2, so that is about
1e-4 relative), and to ``rtol=1e-4`` for larger ones. Integrated gradients' completeness is checked
against the model's own logits: ``|sum(scores) - (f(x) - f(baseline))| <= 1e-3 * |f(x) - f(baseline)| + 1e-6``.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from captum.attr import FeatureAblation, InputXGradient, LayerGradientXActivation, LayerIntegratedGradients
from transformers import BertConfig, BertForSequenceClassification

from labkit.errors import ConfigError
from labkit.interpret.attribution import (
    IncompleteAttributionError,
    IncompleteAttributionWarning,
    attribute,
    attribute_many,
)
from labkit.models import load

TEXTS = ["The plot was thin, but the actors were wonderful and the music superb.",
         "A dull, lifeless film."]
METHODS = ["gradient_x_input", "integrated_gradients", "occlusion"]
ATOL, RTOL = 1e-6, 1e-4


@pytest.fixture(scope="module")
def bert():
    torch.manual_seed(0)  # the classification head is random: seed it
    return load("tiny-bert", task="sequence-classification", num_labels=2, attn_implementation="eager")


def encode(tokenizer, text: str) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    encoding = tokenizer(text, return_tensors="pt")
    return encoding["input_ids"], (encoding["attention_mask"], encoding["token_type_ids"])


def forward_ids(model):
    return lambda input_ids, mask, types: model(input_ids=input_ids, attention_mask=mask, token_type_ids=types).logits


def pad_baseline(tokenizer, input_ids: torch.Tensor, token: str = "[PAD]") -> torch.Tensor:
    """[CLS] + token... + [SEP], built here from the ids, not by the code under test."""
    assert input_ids[0, 0] == tokenizer.cls_token_id and input_ids[0, -1] == tokenizer.sep_token_id
    baseline = input_ids.clone()
    baseline[0, 1:-1] = tokenizer.convert_tokens_to_ids(token)
    return baseline


def test_bert_given_word_embeddings_as_inputs_embeds_equals_its_normal_forward(bert) -> None:
    tokenizer, model = bert
    encoding = tokenizer(TEXTS[0], return_tensors="pt")
    with torch.no_grad():
        normal = model(**encoding).logits
        words = model.get_input_embeddings()(encoding["input_ids"])
        via_embeddings = model(inputs_embeds=words, attention_mask=encoding["attention_mask"],
                               token_type_ids=encoding["token_type_ids"]).logits
    np.testing.assert_allclose(via_embeddings.numpy(), normal.numpy(), atol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_tokens_probabilities_and_the_predicted_target(bert, method: str) -> None:
    tokenizer, model = bert
    result = attribute(model, tokenizer, TEXTS[0], method)
    input_ids, (mask, types) = encode(tokenizer, TEXTS[0])
    assert result.tokens == tokenizer.convert_ids_to_tokens(input_ids[0].tolist())
    assert result.input_ids == input_ids[0].tolist()
    assert isinstance(result.scores, np.ndarray) and result.scores.shape == (input_ids.shape[1],)
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=mask, token_type_ids=types).logits[0]
    np.testing.assert_allclose(result.probabilities, torch.softmax(logits, dim=-1).numpy(), atol=1e-6)
    assert result.target == int(logits.argmax()) == result.predicted
    other = 1 - result.target
    assert attribute(model, tokenizer, TEXTS[0], method, target=other).target == other
    assert result.method == method


def test_truncation_at_max_length(bert) -> None:
    tokenizer, model = bert
    result = attribute(model, tokenizer, TEXTS[0], "occlusion", max_length=6)
    expected = tokenizer(TEXTS[0], truncation=True, max_length=6)["input_ids"]
    assert result.tokens == tokenizer.convert_ids_to_tokens(expected) and len(result.tokens) == 6
    assert result.tokens[-1] == "[SEP]"


@pytest.mark.parametrize("target", [0, 1])
def test_gradient_x_input_equals_captum(bert, target: int) -> None:
    tokenizer, model = bert
    ours = attribute(model, tokenizer, TEXTS[0], "gradient_x_input", target=target).scores
    input_ids, extra = encode(tokenizer, TEXTS[0])
    # through a hook on the embedding layer, with token ids in: independent of our inputs_embeds route
    layer = LayerGradientXActivation(forward_ids(model), model.get_input_embeddings())
    via_layer = layer.attribute(input_ids, target=target, additional_forward_args=extra).sum(dim=-1)[0]
    np.testing.assert_allclose(ours, via_layer.detach().numpy(), atol=ATOL, rtol=RTOL)
    embeddings = model.get_input_embeddings()(input_ids).detach().requires_grad_(True)
    on_embeddings = InputXGradient(lambda e, mask, types: model(inputs_embeds=e, attention_mask=mask,
                                                                token_type_ids=types).logits)
    via_inputs = on_embeddings.attribute(embeddings, target=target, additional_forward_args=extra).sum(dim=-1)[0]
    np.testing.assert_allclose(ours, via_inputs.detach().numpy(), atol=ATOL, rtol=RTOL)
    assert np.abs(ours).max() > 100 * ATOL  # the scores are not all (near) zero: the comparison means something


@pytest.mark.parametrize("quadrature, steps, baseline_token, target", [
    ("gausslegendre", 50, "[PAD]", None),
    ("gausslegendre", 20, "[MASK]", 1),
])
def test_integrated_gradients_equals_captum(bert, quadrature: str, steps: int, baseline_token: str, target) -> None:
    tokenizer, model = bert
    result = attribute(model, tokenizer, TEXTS[0], "integrated_gradients", target=target, steps=steps,
                       quadrature=quadrature, baseline_token=baseline_token, internal_batch_size=7)
    input_ids, extra = encode(tokenizer, TEXTS[0])
    baseline = pad_baseline(tokenizer, input_ids, baseline_token)
    assert result.details["baseline_tokens"] == tokenizer.convert_ids_to_tokens(baseline[0].tolist())
    assert result.details["steps"] == steps and result.details["quadrature"] == quadrature
    captum = LayerIntegratedGradients(forward_ids(model), model.get_input_embeddings())
    scores, delta = captum.attribute(input_ids, baselines=baseline, target=result.target, additional_forward_args=extra,
                                     n_steps=steps, method=quadrature, return_convergence_delta=True)
    np.testing.assert_allclose(result.scores, scores.sum(dim=-1)[0].detach().numpy(), atol=ATOL, rtol=RTOL)
    assert abs(result.details["completeness_gap"] - float(delta)) < 1e-5  # captum's delta is the same gap
    assert np.abs(result.scores).max() > 100 * ATOL


def test_the_trapezoid_rule_is_captums_rescaled_to_weights_that_sum_to_one(bert) -> None:
    """captum's "riemann_trapezoid" puts n points from 0 to 1 but gives them steps of 1/n, not 1/(n-1).

    Its weights then sum to (n-1)/n, so its scores are ours times (n-1)/n, and its completeness gap is
    about 1/n of f(x) - f(baseline), where ours (the trapezoid rule proper) is much smaller.
    """
    tokenizer, model = bert
    steps = 30
    result = attribute(model, tokenizer, TEXTS[0], "integrated_gradients", steps=steps, quadrature="riemann_trapezoid")
    input_ids, extra = encode(tokenizer, TEXTS[0])
    captum = LayerIntegratedGradients(forward_ids(model), model.get_input_embeddings())
    scores, delta = captum.attribute(input_ids, baselines=pad_baseline(tokenizer, input_ids), target=result.target,
                                     additional_forward_args=extra, n_steps=steps, method="riemann_trapezoid",
                                     return_convergence_delta=True)
    captum_scores = scores.sum(dim=-1)[0].detach().numpy()
    np.testing.assert_allclose(result.scores * (steps - 1) / steps, captum_scores, atol=ATOL, rtol=RTOL)
    difference = result.details["f_input"] - result.details["f_baseline"]
    assert abs(float(delta)) > 0.5 * abs(difference) / steps
    assert abs(result.details["completeness_gap"]) < 0.1 * abs(float(delta))


def test_integrated_gradients_is_complete_on_the_models_own_logits(bert) -> None:
    tokenizer, model = bert
    for text in TEXTS:
        result = attribute(model, tokenizer, text, "integrated_gradients")
        input_ids, (mask, types) = encode(tokenizer, text)
        with torch.no_grad():
            f = forward_ids(model)(torch.cat([input_ids, pad_baseline(tokenizer, input_ids)]), mask.repeat(2, 1),
                                   types.repeat(2, 1))[:, result.target]
        difference = float(f[0] - f[1])
        assert abs(result.details["f_input"] - float(f[0])) < 1e-6
        assert abs(result.details["f_baseline"] - float(f[1])) < 1e-6
        gap = result.scores.sum() - difference
        assert abs(gap) <= 1e-3 * abs(difference) + 1e-6, (gap, difference)
        assert abs(result.details["completeness_gap"] - gap) < 1e-7
        assert result.scores[0] == result.scores[-1] == 0  # [CLS] and [SEP] are the same in the baseline


def test_integrated_gradients_tolerance_warns_or_raises(bert) -> None:
    tokenizer, model = bert
    rough = {"steps": 2, "quadrature": "riemann_trapezoid", "tolerance": 1e-9}
    with pytest.warns(IncompleteAttributionWarning, match="more steps") as caught:
        attribute(model, tokenizer, TEXTS[0], "integrated_gradients", **rough)
    assert caught[0].filename == __file__  # the warning points at the caller's line
    with pytest.raises(IncompleteAttributionError, match="tolerance"):
        attribute(model, tokenizer, TEXTS[0], "integrated_gradients", if_incomplete="raise", **rough)
    result = attribute(model, tokenizer, TEXTS[0], "integrated_gradients", tolerance=1e-4, if_incomplete="raise")
    assert abs(result.details["completeness_gap"]) <= 1e-4


@pytest.mark.parametrize("replacement", ["[PAD]", "[MASK]"])
def test_occlusion_equals_captum_feature_ablation(bert, replacement: str) -> None:
    tokenizer, model = bert
    result = attribute(model, tokenizer, TEXTS[0], "occlusion", replacement=replacement, batch_size=5)
    input_ids, extra = encode(tokenizer, TEXTS[0])
    ablation = FeatureAblation(forward_ids(model))
    reference = ablation.attribute(input_ids, baselines=tokenizer.convert_tokens_to_ids(replacement),
                                   target=result.target, additional_forward_args=extra)[0].numpy()
    # captum ablates every position; ours leaves [CLS] and [SEP] alone with a score of 0
    np.testing.assert_allclose(result.scores[1:-1], reference[1:-1], atol=ATOL, rtol=RTOL)
    assert result.scores[0] == result.scores[-1] == 0 and reference[0] != 0
    assert result.details["replacement"] == replacement
    assert np.abs(result.scores).max() > 100 * ATOL


def test_eval_mode_and_no_gradients_left_on_the_model() -> None:
    torch.manual_seed(0)
    tokenizer, model = load("tiny-bert", task="sequence-classification", num_labels=2, attn_implementation="eager")
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.5  # dropout that would change every run if it were on
    options = {"gradient_x_input": {}, "integrated_gradients": {"steps": 8}, "occlusion": {}}
    expected = {}
    for method in METHODS:
        expected[method] = attribute(model.eval(), tokenizer, TEXTS[1], method, **options[method]).scores
    model.train()
    for method in METHODS:
        np.testing.assert_array_equal(attribute(model, tokenizer, TEXTS[1], method, **options[method]).scores,
                                      expected[method])
    assert model.training  # given back in the mode it came in
    assert all(parameter.grad is None for parameter in model.parameters())
    with torch.no_grad():  # a caller's no_grad does not break the gradient methods
        np.testing.assert_array_equal(attribute(model, tokenizer, TEXTS[1], "gradient_x_input").scores,
                                      expected["gradient_x_input"])


def test_attribute_many_equals_one_text_at_a_time(bert) -> None:
    tokenizer, model = bert
    results = attribute_many(model, tokenizer, TEXTS, "integrated_gradients", targets=[1, None], steps=10)
    assert [result.target for result in results] == [1, attribute(model, tokenizer, TEXTS[1], "occlusion").target]
    for text, result in zip(TEXTS, results, strict=True):
        single = attribute(model, tokenizer, text, "integrated_gradients", target=result.target, steps=10)
        np.testing.assert_allclose(result.scores, single.scores, atol=1e-7)
    with pytest.raises(ConfigError, match="one target per text"):
        attribute_many(model, tokenizer, TEXTS, "occlusion", targets=[0])
    with pytest.raises(ConfigError, match="list of strings"):
        attribute_many(model, tokenizer, TEXTS[0], "occlusion")


@pytest.mark.parametrize("call, message", [
    (dict(method="saliency"), "unknown attribution method"),
    (dict(target=2), "out of range"),
    (dict(target=-1), "out of range"),
    (dict(target="1"), "class index"),
    (dict(target=True), "class index"),
    (dict(target=1.0), "class index"),
    (dict(text=""), "non-empty string"),
    (dict(text="   "), "non-empty string"),
    (dict(text=None), "non-empty string"),
    (dict(text=["a list"]), "non-empty string"),
    (dict(max_length=2), "max_length"),
    (dict(steps=5), "takes no option"),
    (dict(method="integrated_gradients", steps=0), "steps must be a positive integer"),
    (dict(method="integrated_gradients", quadrature="simpson"), "unknown quadrature"),
    (dict(method="integrated_gradients", baseline_token="[NOPE]"), "not in the tokenizer's vocabulary"),
    (dict(method="integrated_gradients", if_incomplete="ignore"), "if_incomplete"),
    (dict(method="occlusion", replacement="[NOPE]"), "not in the tokenizer's vocabulary"),
    (dict(method="occlusion", replacement="unseenwordxyz"), "not in the tokenizer's vocabulary"),
    (dict(method="occlusion", batch_size=0), "batch_size"),
])
def test_bad_input_gets_a_clear_error(bert, call: dict, message: str) -> None:
    tokenizer, model = bert
    arguments = {"text": TEXTS[1], "method": "gradient_x_input", **call}
    with pytest.raises(ConfigError, match=message):
        attribute(model, tokenizer, **arguments)


# --- a model built to depend on one token ------------------------------------------------------------

KEY = "great"
FILLER = ["the", "a", "was", "story", "and", "of", "it", "this", "that", "with", "for", "on", "is", "as", "by", "from",
          "he", "she", "in", "to"]


def synthetic_batch(rng: random.Random, size: int) -> tuple[list[str], list[int]]:
    """Seven filler words; every other text has one of them replaced by KEY, and label 1 iff KEY is there."""
    texts, labels = [], []
    for index in range(size):
        words = [rng.choice(FILLER) for _ in range(7)]
        if index % 2:
            words[rng.randrange(7)] = KEY
        texts.append(" ".join(words))
        labels.append(index % 2)
    return texts, labels


@pytest.fixture(scope="module")
def one_token_model(bert):
    """A 1-layer BERT whose class-1 logit is driven by one token.

    Its word embeddings are frozen: every word's is shrunk to near zero except KEY's, so KEY is the only
    word the model can tell apart; then it is trained (fixed seed) to say whether KEY is in the text.
    """
    tokenizer, _ = bert
    assert all(len(tokenizer.tokenize(word)) == 1 for word in [KEY, *FILLER])
    torch.manual_seed(0)
    rng = random.Random(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16, num_labels=2, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)
    model = BertForSequenceClassification(config)
    embeddings = model.get_input_embeddings().weight
    with torch.no_grad():
        embeddings.mul_(0.02)
        embeddings[tokenizer.convert_tokens_to_ids(KEY)] = torch.randn(16)
    embeddings.requires_grad_(False)
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    for _ in range(80):
        texts, labels = synthetic_batch(rng, 32)
        loss = model(**tokenizer(texts, return_tensors="pt"), labels=torch.tensor(labels)).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    texts, labels = synthetic_batch(random.Random(1), 200)
    with torch.no_grad():
        predicted = model(**tokenizer(texts, return_tensors="pt")).logits.argmax(dim=-1)
    assert (predicted == torch.tensor(labels)).all()  # the premise: the model does depend on KEY
    return tokenizer, model


@pytest.mark.parametrize("method", METHODS)
def test_every_method_ranks_the_one_token_the_model_depends_on_first(one_token_model, method: str) -> None:
    tokenizer, model = one_token_model
    texts = [text for text, label in zip(*synthetic_batch(random.Random(2), 16), strict=True) if label]
    for text in texts:
        result = attribute(model, tokenizer, text, method, target=1)
        assert result.predicted == 1
        assert result.top_tokens(1) == [KEY], (text, result.tokens, result.scores.round(3))
        key = result.tokens.index(KEY)
        others = np.delete(result.scores, key)
        assert result.scores[key] > 0 and result.scores[key] > others.max()
