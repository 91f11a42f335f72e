"""labkit.widgets: the attention explorer's weights against MiniLM's own, its masks, its errors and its controls."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from matplotlib.figure import Figure

from labkit import models, widgets

SENTENCES = ["The cat sat.", "A much longer sentence than the first one, with padding after it."]


@pytest.fixture(scope="module")
def minilm() -> tuple[Any, Any]:
    return models.load("minilm-l6", attn_implementation="eager")


@pytest.fixture(scope="module")
def explorer(minilm: tuple[Any, Any]) -> widgets.AttentionExplorer:
    tokenizer, model = minilm
    return widgets.AttentionExplorer(SENTENCES, tokenizer, model)


@pytest.fixture(scope="module")
def reference(minilm: tuple[Any, Any], explorer: widgets.AttentionExplorer) -> tuple[torch.Tensor, ...]:
    """Transformers' own attention weights (eager) for the explorer's batch: layers x (B, H, L, L)."""
    _, model = minilm
    with torch.no_grad():
        return model(**explorer.batch, output_attentions=True).attentions


def real_length(explorer: widgets.AttentionExplorer, sentence: int) -> int:
    return int(explorer.batch["attention_mask"][sentence].sum())


@pytest.mark.parametrize("temperature", [0.3, 1.0, 4.0])
def test_temperature_divides_the_models_scores(explorer, reference, temperature: float) -> None:
    """softmax(s / T) == softmax(log(softmax(s)) / T): the reference comes from transformers' weights alone."""
    n = real_length(explorer, 0)  # the short sentence: its keys after n are padding
    model_weights = reference[3][0, 7, :n, :n].double()
    expected = torch.softmax(model_weights.log() / temperature, dim=-1)
    got = explorer.weights(0, 3, 7, temperature=temperature)
    assert (got[:n, :n].double() - expected).abs().max().item() <= 1e-4
    assert got[:n, n:].abs().max().item() == 0.0  # the padding mask: no weight on [PAD]


def test_no_mask_looks_at_padding_and_agrees_on_the_real_keys(explorer) -> None:
    n = real_length(explorer, 0)
    assert n < explorer.batch["input_ids"].shape[1], "the short sentence must be padded for this test"
    unmasked = explorer.weights(0, 2, 5, mask=widgets.MASKS[1])[:n]
    padded = explorer.weights(0, 2, 5, mask=widgets.MASKS[0])[:n]
    assert (unmasked[:, n:].sum(-1) > 0).all()  # the real tokens now give weight to [PAD]
    # restricted to the real keys and renormalised, it is the padding-masked softmax again
    renormalised = unmasked[:, :n] / unmasked[:, :n].sum(-1, keepdim=True)
    assert (renormalised - padded[:, :n]).abs().max().item() <= 1e-5


def test_causal_mask_is_the_softmax_over_earlier_real_keys(explorer) -> None:
    sentence = 1
    n = real_length(explorer, sentence)
    causal = explorer.weights(sentence, 4, 2, mask=widgets.MASKS[2])
    unmasked = explorer.weights(sentence, 4, 2, mask=widgets.MASKS[1])
    assert torch.equal(causal.triu(1), torch.zeros_like(causal))
    for i in range(n):
        allowed = unmasked[i, : i + 1]
        assert (causal[i, : i + 1] - allowed / allowed.sum()).abs().max().item() <= 1e-5


@pytest.mark.parametrize(("call", "message"), [
    (lambda e: e.weights(2, 0, 0), r"sentence must be in 0\.\.1"),
    (lambda e: e.weights(0, 6, 0), r"layer in 0\.\.5 and head in 0\.\.11"),
    (lambda e: e.weights(0, 0, 12), r"layer in 0\.\.5 and head in 0\.\.11"),
    (lambda e: e.weights(0, 0, 0, temperature=0.0), "temperature must be positive"),
    (lambda e: e.weights(0, 0, 0, mask="causal"), "mask must be one of"),
])
def test_bad_settings_get_a_clear_error(explorer, call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(explorer)


def test_no_sentences_is_a_clear_error(minilm) -> None:
    with pytest.raises(ValueError, match="at least one sentence"):
        widgets.AttentionExplorer([], *minilm)


def test_draw_returns_a_figure_of_the_padded_sentence(explorer) -> None:
    figure = explorer.draw(1, 0, 3, temperature=0.5, mask=widgets.MASKS[2])
    assert isinstance(figure, Figure)
    length = explorer.batch["input_ids"].shape[1]
    assert figure.axes[0].images[0].get_array().shape == (length, length)
    assert figure.axes[0].get_title() == "layer 0, head 3, T = 0.5, mask: padding + causal"


def controls_of(box: Any) -> dict[str, Any]:
    """The explorer's controls by description, found by walking the widget's boxes."""
    found: dict[str, Any] = {}
    for child in getattr(box, "children", ()):
        if getattr(child, "description", ""):
            found[child.description] = child
        found.update(controls_of(child))
    return found


def test_widget_shows_every_label_in_full_and_covers_the_model(explorer) -> None:
    controls = controls_of(explorer.widget())
    assert set(controls) == {"sentence", "layer", "head", "temperature", "mask"}
    for name, control in controls.items():
        # JupyterLab's default label box is 80 px and cuts longer labels ("temperat..."); "initial" fits the text
        assert control.style.description_width == "initial", f"the {name!r} label can be cut off"
    assert (controls["layer"].min, controls["layer"].max) == (0, explorer.num_layers - 1)
    assert (controls["head"].min, controls["head"].max) == (0, explorer.num_heads - 1)
    assert [value for _, value in controls["sentence"].options] == list(range(len(SENTENCES)))
    assert list(controls["mask"].options) == list(widgets.MASKS)
    assert controls["temperature"].value == 1.0


def test_moving_a_control_redraws_with_all_settings(explorer, monkeypatch) -> None:
    calls: list[dict[str, Any]] = []

    def record(**settings: Any) -> Figure:
        calls.append(settings)
        return Figure()

    monkeypatch.setattr(explorer, "draw", record)
    controls = controls_of(explorer.widget())
    controls["head"].value = 3
    controls["mask"].value = widgets.MASKS[2]
    assert calls[-1] == {"sentence": 0, "layer": 0, "head": 3, "temperature": 1.0, "mask": widgets.MASKS[2]}
