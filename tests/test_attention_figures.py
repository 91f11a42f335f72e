"""labkit.viz attention figures and the labkit.widgets attention explorer."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure

from labkit import attention as A
from labkit import viz


def test_attention_heatmap_crops_to_labels_and_returns_a_figure() -> None:
    weights = torch.softmax(torch.randn(6, 6), dim=-1)
    figure = viz.attention_heatmap(weights, ["a", "b", "c", "d"], title="one head")
    assert isinstance(figure, Figure)
    image = figure.axes[0].images[0].get_array()
    assert image.shape == (4, 4)
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["a", "b", "c", "d"]


def test_attention_heatmap_draws_into_a_given_axes() -> None:
    figure, axes = viz.new_grid(1, 2)
    returned = viz.attention_heatmap(torch.eye(3), list("xyz"), ax=axes[0, 1], colorbar=False)
    assert returned is figure and len(axes[0, 1].images) == 1


def test_attention_heatmap_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(Lq, Lk\)"):
        viz.attention_heatmap(torch.rand(2, 3, 3), list("abc"))
    with pytest.raises(ValueError, match="labels"):
        viz.attention_heatmap(torch.rand(2, 2), list("abc"))


def test_attention_grid_layers_by_heads() -> None:
    attentions = tuple(torch.softmax(torch.randn(2, 4, 5, 5), -1) for _ in range(3))  # 3 layers, 4 heads
    figure = viz.attention_grid(attentions, list("abcde"), example=1, heads=[0, 3])
    assert isinstance(figure, Figure) and len(figure.axes) == 3 * 2
    assert torch.allclose(torch.as_tensor(figure.axes[1].images[0].get_array().data, dtype=torch.float32),
                          attentions[0][1, 3])


def test_attention_masks_side_by_side() -> None:
    figure = viz.attention_masks({"BERT": torch.ones(4, 4, dtype=torch.bool), "GPT": A.causal_mask(4)}, list("abcd"))
    assert len(figure.axes) == 2


def test_attention_explorer_draws_and_builds_a_widget() -> None:
    from labkit import models, widgets

    tokenizer, model = models.load("minilm-l6", attn_implementation="eager")
    explorer = widgets.AttentionExplorer(["The cat sat.", "A much longer sentence than that one."], tokenizer, model)
    # temperature 1 with the padding mask is the model's own attention
    batch = explorer.batch
    with torch.no_grad():
        expected = model(**batch, output_attentions=True).attentions[2][0, 5]
    assert (explorer.weights(0, 2, 5) - expected).abs().max().item() <= 1e-5
    causal = explorer.weights(0, 2, 5, mask=widgets.MASKS[2])
    assert torch.equal(causal.triu(1), torch.zeros_like(causal))
    sharp, flat = explorer.weights(0, 1, 0, temperature=0.1), explorer.weights(0, 1, 0, temperature=10.0)
    assert sharp.max().item() > flat.max().item()
    assert isinstance(explorer.draw(1, 0, 0), Figure)
    with pytest.raises(ValueError, match="temperature"):
        explorer.weights(0, 0, 0, temperature=0)
    assert explorer.widget() is not None
