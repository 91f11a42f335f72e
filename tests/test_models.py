"""labkit.models: the offline registry loads MiniLM without network and fails fast and clearly."""

from __future__ import annotations

import socket
import time

import pytest
import torch

import labkit.models as models


@pytest.fixture(scope="module")
def minilm() -> models.LoadedModel:
    return models.load("minilm-l6", attn_implementation="eager")


def test_minilm_loads_offline_and_runs(minilm: models.LoadedModel) -> None:
    tokenizer, model = minilm
    assert model.config.num_hidden_layers == 6 and model.config.hidden_size == 384
    assert model.config.num_attention_heads == 12 and not model.training
    batch = tokenizer(["The film was wonderful.", "Dull."], padding=True, return_tensors="pt")
    with torch.no_grad():
        output = model(**batch, output_attentions=True)
    assert output.last_hidden_state.shape == (2, batch["input_ids"].shape[1], 384)
    assert len(output.attentions) == 6 and output.attentions[0].shape[1] == 12
    rows = output.attentions[0].sum(-1)
    assert torch.allclose(rows, torch.ones_like(rows), atol=1e-5)
    parameters = sum(p.numel() for p in model.parameters())
    assert 22_000_000 < parameters < 23_000_000


def test_minilm_sentence_embedding_is_meaningful(minilm: models.LoadedModel) -> None:
    """Mean-pooled MiniLM embeddings put paraphrases closer than unrelated sentences."""
    tokenizer, model = minilm
    sentences = ["A man is playing a guitar.", "Someone plays the guitar.", "The stock market fell sharply."]
    batch = tokenizer(sentences, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1)
    embeddings = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    similarity = embeddings @ embeddings.T
    assert similarity[0, 1] > similarity[0, 2] + 0.3


def test_classification_head_is_added() -> None:
    _, model = models.load("minilm-l6", task="sequence-classification", num_labels=3)
    assert model.classifier.out_features == 3


def test_unknown_name_fails_at_once_and_lists_names() -> None:
    start = time.perf_counter()
    with pytest.raises(models.ModelNotAvailableError) as error:
        models.load("bert-large-whatever")
    assert time.perf_counter() - start < 5
    for name in models.REGISTRY:
        assert name in str(error.value)


def test_hub_id_offline_fails_with_the_registered_names() -> None:
    with pytest.raises(models.ModelNotAvailableError, match="offline") as error:
        models.load("google-bert/bert-base-uncased")
    assert "minilm-l6" in str(error.value)


def test_hub_probe_never_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def hang(*args: object, **kwargs: object) -> None:
        time.sleep(5)  # longer than the probe waits; then fail as a real connect timeout would
        raise OSError("timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.perf_counter()
    assert models.hub_reachable(timeout=0.3) is False
    assert time.perf_counter() - start < 3

    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    assert models.hub_reachable(timeout=0.3) is False


def test_missing_checkpoint_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    (tmp_path / "MANIFEST.json").write_text("{}")
    monkeypatch.setenv("LABKIT_DATA_DIR", str(tmp_path))
    with pytest.raises(models.ModelNotAvailableError, match="labkit pretrain"):
        models.load("tiny-bert")
    assert "tiny-bert" not in models.available()


def test_bad_task_and_attention_arguments() -> None:
    with pytest.raises(ValueError, match="no masked-LM head"):
        models.load("minilm-l6", task="masked-lm")
    with pytest.raises(ValueError, match="unknown task"):
        models.load("minilm-l6", task="translation")
    with pytest.raises(ValueError, match="attn_implementation"):
        models.load("minilm-l6", attn_implementation="flash")
    with pytest.raises(models.ModelNotAvailableError, match="non-empty"):
        models.resolve("")


def test_local_folder_is_accepted(tmp_path) -> None:
    assert models.resolve(str(tmp_path)) == str(tmp_path)


def test_registry_description_lists_every_name() -> None:
    text = models.describe_registry()
    assert all(name in text for name in models.REGISTRY)
    assert "minilm-l6" in models.available()
