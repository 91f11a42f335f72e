"""Figures of notebook 07: attention, attributions and their checks in a fine-tuned classifier."""

from __future__ import annotations

import functools

from matplotlib.figure import Figure

from labkit import viz
from labkit.figures.registry import figure
from labkit.figures.shared import _movie_test_texts, _results_dir, _tiny_bert_sentiment


def _max_length() -> int:
    import json

    from labkit.models import REGISTRY

    return int(json.loads((REGISTRY["tiny-bert-sentiment"].path() / "training.json").read_text())["max_length"])


def _attentions_of_review(index: int):
    from labkit import interpret

    tokenizer, model = _tiny_bert_sentiment()
    return interpret.attention_weights(model, tokenizer, _movie_test_texts()[index], max_length=_max_length())


@figure("07-tiny-bert-every-head")
def _tiny_bert_grid() -> Figure:
    tokens, attentions = _attentions_of_review(99)
    return viz.attention_grid(attentions, tokens, cell_size=(3.0, 3.0),
                              title="tiny-bert-sentiment, test review 99 (label positive)")


@figure("07-attention-rollout")
def _rollout() -> Figure:
    from labkit import interpret

    tokens, attentions = _attentions_of_review(99)
    rollout = interpret.attention_rollout(attentions.unsqueeze(1))[0]  # labkit takes (layers, batch, heads, seq, seq)
    return viz.rollout_heatmap(rollout, tokens, title="attention rollout, test review 99")


@functools.cache
def _explained_794() -> dict:
    from labkit import interpret

    tokenizer, model = _tiny_bert_sentiment()
    text, length = _movie_test_texts()[794], _max_length()
    first = interpret.attribute(model, tokenizer, text, "gradient_x_input", None, max_length=length)
    options = {"integrated_gradients": {"steps": 50, "baseline_token": "[PAD]"}, "occlusion": {"replacement": "[PAD]"}}
    return {"gradient_x_input": first} | {
        method: interpret.attribute(model, tokenizer, text, method, first.target, max_length=length, **kwargs)
        for method, kwargs in options.items()}


@figure("07-three-attributions")
def _attribution_bars() -> Figure:
    figure_, axes = viz.new_grid(1, 3, cell_size=(3.6, 3.4))
    for ax, (method, attribution) in zip(axes[0], _explained_794().items(), strict=True):
        viz.attribution_bars(attribution, ax=ax, title=method)
    return figure_


@figure("07-deletion-curves")
def _deletion_curves() -> Figure:
    from labkit import interpret

    _, model = _tiny_bert_sentiment()
    probabilities = interpret.model_probabilities(model)
    explained = _explained_794()
    curves = {method: interpret.deletion_curve(attribution, probabilities) for method, attribution in explained.items()}
    curves["random order"] = interpret.deletion_curve(explained["occlusion"], probabilities, random_seed=0)
    return viz.line_chart({name: (curve["deleted"], curve["probability"]) for name, curve in curves.items()},
                          xlabel="tokens deleted (highest-ranked first)", ylabel="p(negative)",
                          title="Deleting review 794's tokens in each method's order")


@figure("07-randomisation-sanity-check")
def _sanity() -> Figure:
    from labkit import interpret
    from labkit.interpret.test_set import read_test_set

    sanity = read_test_set(_results_dir("explain-sentiment") / "tiny-bert-sentiment")["sanity"]
    summary = interpret.summarise_sanity(sanity)
    blocks = list(summary.drop_duplicates("step")["block"])
    figure_, axes = viz.new_grid(1, 2, cell_size=(5.2, 3.8))
    for ax, (measure, what) in zip(axes[0], (("spearman", "signed scores"), ("spearman_abs", "|scores|")), strict=True):
        groups = list(summary.groupby("method"))
        viz.line_chart({method: (rows["step"], rows[f"{measure}_mean"]) for method, rows in groups},
                       bands={method: (rows[f"{measure}_mean"] - rows[f"{measure}_std"],
                                       rows[f"{measure}_mean"] + rows[f"{measure}_std"]) for method, rows in groups},
                       ylabel="Spearman with the trained model's map", title=f"{what} (band: ± 1 sd over reviews)",
                       reference=0.0, ax=ax)
        ax.set_xticks(range(len(blocks)), labels=blocks, rotation=25, ha="right")
    figure_.suptitle(f"Cascading randomisation on {sanity['example'].nunique()} test reviews, from the top block down",
                     fontweight="bold")
    return figure_
