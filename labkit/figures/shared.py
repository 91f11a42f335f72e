"""Data several figures use, loaded once: shipped results, MiniLM, tiny-bert-sentiment, review texts."""

from __future__ import annotations

import functools
from pathlib import Path


@functools.cache
def _results(task: str):
    from labkit import selection
    from labkit.paths import data_dir

    return selection.load_results(data_dir() / "results" / f"finetune-{task}")


def _results_dir(name: str) -> Path:
    from labkit.paths import data_dir

    return data_dir() / "results" / name


@functools.cache
def _minilm():
    from labkit.models import load

    return load("minilm-l6", task="base", attn_implementation="eager")


@functools.cache
def _tiny_bert_sentiment():
    from labkit.models import load

    return load("tiny-bert-sentiment", task="sequence-classification", attn_implementation="eager")


def _minilm_attentions(texts: list[str]):
    """MiniLM's tokenised batch of ``texts`` and its attention weights, one ``(batch, heads, seq, seq)`` per layer."""
    import torch

    tokenizer, model = _minilm()
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        return tokenizer, batch, model(**batch, output_attentions=True).attentions


def _review_texts(low: int, high: int, limit: int, count: int) -> list[str]:
    from labkit.data import load_sentiment

    texts = load_sentiment()["train"]["text"][:limit]
    return [text for text in texts if low <= len(text.split()) <= high][:count]


@functools.cache
def _movie_test_texts() -> tuple[str, ...]:
    from labkit.data import load_sentiment

    return tuple(load_sentiment("movies")["test"]["text"])
