"""Figures of notebooks 00 to 04: data, attention, the encoder, pretraining, masks."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from labkit import viz
from labkit.figures.registry import figure
from labkit.figures.shared import _minilm, _minilm_attentions, _review_texts


@figure("00-class-balance")
def _class_balance() -> Figure:
    from labkit.data import load_sentiment

    movies = load_sentiment("movies")
    names = movies["train"].features["label"].names
    counts = {split: {names[k]: int(v) for k, v in zip(*np.unique(rows["label"], return_counts=True), strict=True)}
              for split, rows in movies.items()}
    return viz.class_balance(counts, title="Movie-review sentiment: examples per class")


@figure("01-padding-and-causal-masks")
def _padding_and_causal() -> Figure:
    import torch

    from labkit import attention

    key_mask = attention.padding_mask(torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]))
    both = attention.combine_masks(key_mask, attention.causal_mask(5))
    return viz.attention_masks({"padding": key_mask[1, 0].expand(5, 5), "causal": attention.causal_mask(5),
                                "padding + causal": both[1, 0]}, ["I", "like", "tea", "[PAD]", "[PAD]"],
                               title="Which keys may each query attend to?")


@figure("01-minilm-layer-1-head-8")
def _minilm_head() -> Figure:
    tokenizer, batch, attentions = _minilm_attentions(_review_texts(6, 10, 300, 4))
    n_real = int(batch["attention_mask"][0].sum())
    tokens = tokenizer.convert_ids_to_tokens(batch["input_ids"][0])[:n_real]
    return viz.attention_heatmap(attentions[1][0, 8], tokens, title="MiniLM, layer 1, head 8")


@figure("02-gelu-vs-relu")
def _gelu() -> Figure:
    import torch
    import torch.nn.functional as F

    grid = torch.linspace(-5, 5, 2001)
    return viz.line_chart({"ReLU": (grid.tolist(), F.relu(grid).tolist()),
                           "GELU": (grid.tolist(), F.gelu(grid, approximate="none").tolist())},
                          markers=False, title="GELU is a smooth ReLU", xlabel="input x", ylabel="output")


@figure("02-minilm-every-head")
def _minilm_grid() -> Figure:
    tokenizer, batch, attentions = _minilm_attentions(_review_texts(4, 20, 400, 8))
    example = 2
    n_real = int(batch["attention_mask"][example].sum())
    tokens = tokenizer.convert_ids_to_tokens(batch["input_ids"][example][:n_real])
    return viz.attention_grid(attentions, tokens, example=example, title="MiniLM: every layer and head")


@figure("02-minilm-attention-by-layer")
def _attention_by_layer() -> Figure:
    import string

    import torch

    tokenizer, batch, attentions = _minilm_attentions(_review_texts(8, 30, 2000, 64))
    ids, real = batch["input_ids"], batch["attention_mask"].bool()
    vocabulary = tokenizer.get_vocab()
    punctuation = torch.tensor([vocabulary[c] for c in string.punctuation if c in vocabulary])
    keys = {"[CLS]": ids == tokenizer.cls_token_id, "[SEP]": ids == tokenizer.sep_token_id,
            "punctuation": torch.isin(ids, punctuation)}

    def mean_over_queries(values: torch.Tensor, queries: torch.Tensor) -> float:  # values (B, H, Lq), queries (B, Lq)
        weights = queries[:, None, :].float().expand_as(values)
        return float((values * weights).sum() / weights.sum())

    series: dict[str, list[float]] = {kind: [] for kind in [*keys, "previous", "next"]}
    for w in attentions:  # (B, H, L, L)
        for kind, mask in keys.items():
            series[kind].append(mean_over_queries((w * mask[:, None, None, :]).sum(-1), real))
        series["previous"].append(mean_over_queries(w.diagonal(-1, dim1=-2, dim2=-1), real[:, 1:]))
        series["next"].append(mean_over_queries(w.diagonal(1, dim1=-2, dim2=-1), real[:, 1:]))
    layers = list(range(len(attentions)))
    return viz.line_chart({kind: (layers, values) for kind, values in series.items()},
                          title="Where MiniLM's attention goes, by layer", xlabel="layer",
                          ylabel="average share of attention")


@figure("02-attention-share-of-flops")
def _flops_share() -> Figure:
    from labkit import attention

    config = attention.EncoderConfig.from_hf(_minilm()[1].config)
    lengths = [16, 64, 128, 256, 512]
    shares = []
    for length in lengths:
        flops = attention.flops_per_token(config, length)
        shares.append(flops["attention scores + values"] / flops["total"])
    return viz.bar_chart([str(n) for n in lengths], shares, value_format="{:.1%}",
                         title="Share of FLOPs in QKᵀ and weights·V, by sequence length",
                         xlabel="share of all FLOPs per token")


@figure("02-bert-vs-gpt-masks")
def _bert_vs_gpt_02() -> Figure:
    import torch

    from labkit import attention

    tokenizer, _ = _minilm()
    words = tokenizer.convert_ids_to_tokens(tokenizer("the acting saves it")["input_ids"])
    n = len(words)
    return viz.attention_masks({"BERT (bidirectional)": torch.ones(n, n, dtype=torch.bool),
                                "GPT (causal)": attention.causal_mask(n)}, words,
                               title="Who may attend to whom (filled = allowed)")


@figure("03-tiny-bert-pretraining")
def _tiny_bert_pretraining() -> Figure:
    from labkit import pretraining

    log = {int(row["step"]): row for row in pretraining.load_training_log("tiny-bert")}
    return viz.pretraining_curves(list(log.values()), title="tiny-bert pretraining (held-out speeches)")


_WORDS_04 = ["the", "state", "of", "the", "union", "is", "strong"]


@figure("04-bidirectional-vs-causal")
def _bidirectional_vs_causal() -> Figure:
    import torch

    n = len(_WORDS_04)
    return viz.attention_masks({"BERT: bidirectional": torch.ones(n, n, dtype=torch.bool),
                                "GPT: causal": torch.tril(torch.ones(n, n, dtype=torch.bool))}, _WORDS_04,
                               title="who may attend to whom")


@figure("04-permutation-language-modelling")
def _permutation_masks() -> Figure:
    import torch

    n = len(_WORDS_04)
    order = torch.tensor([4, 2, 0, 1, 5, 6, 3])
    rank = torch.empty_like(order)
    rank[order] = torch.arange(n)
    no_self = ~torch.eye(n, dtype=torch.bool)
    return viz.attention_masks({"BERT: bidirectional": torch.ones(n, n, dtype=torch.bool) & no_self,
                                "GPT: causal (z = identity)": torch.tril(torch.ones(n, n, dtype=torch.bool)) & no_self,
                                "XLNet: permutation z": rank.unsqueeze(1) > rank.unsqueeze(0)}, _WORDS_04,
                               title="what each objective lets a predicted token see")
