"""Interactive explorers (ipywidgets) built on ``labkit.attention`` and ``labkit.viz``.

:class:`AttentionExplorer` (notebook 01): one head of a BERT model, with its temperature and mask.
Every explorer has a plain ``draw(...)`` method that returns a matplotlib ``Figure`` (so it can be
tested, and used without widgets) and a ``widget()`` method that wires ``draw`` to controls.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from matplotlib.figure import Figure

from labkit import attention as attn
from labkit import viz

MASKS = ("padding (BERT)", "none (attend to padding too)", "padding + causal (GPT)")


class AttentionExplorer:
    """Explore one attention head of a BERT model on a few sentences.

    The sentences are encoded together (padded to the longest), with the model's weights loaded into the
    hand-built :class:`labkit.attention.BertEncoder`. ``draw`` then recomputes one layer's attention from
    that layer's input with a chosen head, temperature and mask:

    ``weights = softmax(Q K^T / (temperature * sqrt(d_k)) + mask)``

    ``temperature = 1`` is the model's own attention; smaller sharpens it, larger flattens it.

    Args:
        sentences: the sentences to choose from.
        tokenizer, model: a Hugging Face BERT tokenizer and ``BertModel`` (e.g. from
            ``labkit.models.load("minilm-l6")``).
    """

    def __init__(self, sentences: Sequence[str], tokenizer: Any, model: Any) -> None:
        if not sentences:
            raise ValueError("AttentionExplorer needs at least one sentence")
        self.sentences = list(sentences)
        self.encoder = attn.from_hf(model)
        self.batch = tokenizer(self.sentences, padding=True, return_tensors="pt")
        self.tokens = [tokenizer.convert_ids_to_tokens(ids) for ids in self.batch["input_ids"].tolist()]
        with torch.no_grad():
            # layers + 1 tensors (batch, seq_len, d_model): the embeddings, then each layer's output
            self.hidden_states = self.encoder(**self.batch).hidden_states
        self.num_layers = self.encoder.config.num_hidden_layers
        self.num_heads = self.encoder.config.num_attention_heads

    def weights(self, sentence: int, layer: int, head: int, temperature: float = 1.0,
                mask: str = MASKS[0]) -> torch.Tensor:
        """One head's weights ``(seq_len, seq_len)`` (``seq_len`` = padded length), recomputed with these settings."""
        if not 0 <= sentence < len(self.sentences):
            raise ValueError(f"sentence must be in 0..{len(self.sentences) - 1}, got {sentence}")
        if not 0 <= layer < self.num_layers or not 0 <= head < self.num_heads:
            raise ValueError(f"layer in 0..{self.num_layers - 1} and head in 0..{self.num_heads - 1}, "
                             f"got layer {layer}, head {head}")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if mask not in MASKS:
            raise ValueError(f"mask must be one of {MASKS}, got {mask!r}")
        module = self.encoder.layers[layer].attention
        x = self.hidden_states[layer][sentence : sentence + 1]  # (1, seq_len, d_model): the input of this layer
        length = x.shape[1]
        padding = attn.padding_mask(self.batch["attention_mask"][sentence : sentence + 1])
        chosen = {
            MASKS[0]: padding,
            MASKS[1]: None,
            MASKS[2]: attn.combine_masks(padding, attn.causal_mask(length)),
        }[mask]
        with torch.no_grad():
            _, weights = module(x, mask=chosen, scale=1.0 / (temperature * math.sqrt(module.head_dim)))
        return weights[0, head]

    def draw(self, sentence: int = 0, layer: int = 0, head: int = 0, temperature: float = 1.0,
             mask: str = MASKS[0]) -> Figure:
        """The heatmap of one head for one sentence (padding positions included, labelled [PAD])."""
        weights = self.weights(sentence, layer, head, temperature, mask)
        title = f"layer {layer}, head {head}, T = {temperature:.2g}, mask: {mask.split(' (')[0]}"
        return viz.attention_heatmap(weights, self.tokens[sentence], title=title, annotate=False)

    def widget(self) -> Any:
        """Dropdowns and sliders that redraw the heatmap (display the returned widget)."""
        import ipywidgets as widgets
        from IPython.display import display

        # JupyterLab gives every description a fixed 80-pixel box and cuts longer ones ("temperat...");
        # "initial" sizes each label to its text instead.
        label = {"description_width": "initial"}
        controls = {
            "sentence": widgets.Dropdown(
                options=[(text if len(text) < 60 else text[:57] + "...", index)
                         for index, text in enumerate(self.sentences)],
                value=0, description="sentence", style=label),
            "layer": widgets.IntSlider(value=0, min=0, max=self.num_layers - 1, description="layer", style=label),
            "head": widgets.IntSlider(value=0, min=0, max=self.num_heads - 1, description="head", style=label),
            "temperature": widgets.FloatLogSlider(value=1.0, base=10, min=-1, max=1, step=0.05,
                                                  description="temperature", style=label),
            "mask": widgets.Dropdown(options=list(MASKS), value=MASKS[0], description="mask", style=label),
        }

        def redraw(**settings: Any) -> None:
            display(self.draw(**settings))

        output = widgets.interactive_output(redraw, controls)
        return widgets.VBox([widgets.HBox([controls["sentence"], controls["mask"]]),
                             widgets.HBox([controls["layer"], controls["head"], controls["temperature"]]),
                             output])

