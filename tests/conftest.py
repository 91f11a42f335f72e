"""Fixtures shared by labkit's tests: a separable toy task and a tiny local BERT checkpoint."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from datasets import ClassLabel, Dataset, DatasetDict

from labkit.models import load

POSITIVE = ["good", "great", "excellent", "superb", "lovely"]
NEGATIVE = ["bad", "awful", "terrible", "dreadful", "poor"]
FILLER = ["the", "film", "plot", "was", "a", "story", "actors", "and", "of", "music", "scenes", "it"]


def toy_sentiment(seed: int = 0, sizes: tuple[int, int, int] = (240, 60, 60)) -> DatasetDict:
    """A separable task: the label is whether the one sentiment word in the text is positive."""
    rng = random.Random(seed)

    def make(n: int) -> Dataset:
        texts, labels = [], []
        for i in range(n):
            label = i % 2
            words = rng.sample(FILLER, 5)
            words.insert(rng.randrange(6), rng.choice(POSITIVE if label else NEGATIVE))
            texts.append(" ".join(words))
            labels.append(label)
        return Dataset.from_dict({"text": texts, "label": labels}).cast_column(
            "label", ClassLabel(names=["negative", "positive"]))

    return DatasetDict({"train": make(sizes[0]), "validation": make(sizes[1]), "test": make(sizes[2])})


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, hidden-32 BERT with MiniLM's tokenizer, saved as a local checkpoint folder."""
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-bert-test")
    tokenizer, _ = load("minilm-l6")
    torch.manual_seed(1234)  # not the seed fine_tune uses, so a random initialisation differs from it
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
