"""LoRA fine-tuning: what trains, what is saved, and that a saved adapter gives back the same model."""

from __future__ import annotations

import pytest
import torch

from labkit import finetune, models
from labkit.errors import ConfigError, MissingFileError
from labkit.reproducibility import seed_everything
from labkit.selection.candidates import Candidate, parse_candidate
from labkit.selection.running import same_run


def _tiny_bert_classifier() -> tuple[object, torch.nn.Module]:
    seed_everything(0)
    return models.load("tiny-bert", task="sequence-classification", num_labels=2)


def test_only_the_low_rank_matrices_and_the_head_train() -> None:
    _, model = _tiny_bert_classifier()
    hidden, layers = model.config.hidden_size, model.config.num_hidden_layers
    wrapped = finetune.add_lora(model, finetune.LoraSettings(rank=4))
    trainable = sum(p.numel() for p in wrapped.parameters() if p.requires_grad)
    # per layer, query and value each get A (4 x hidden) and B (hidden x 4); the head is hidden x 2 + 2
    expected = layers * 2 * (4 * hidden + hidden * 4) + hidden * 2 + 2
    assert trainable == expected
    pretrained_query = [parameter for name, parameter in wrapped.named_parameters()
                        if "layer.0.attention.self.query.base_layer" in name]
    assert pretrained_query and not any(parameter.requires_grad for parameter in pretrained_query)


def test_a_new_adapter_leaves_the_model_unchanged_until_it_trains() -> None:
    tokenizer, model = _tiny_bert_classifier()
    batch = tokenizer(["a fine film", "dull"], return_tensors="pt", padding=True)
    with torch.no_grad():
        before = model(**batch).logits.clone()
        wrapped = finetune.add_lora(model)
        wrapped.eval()
        after = wrapped(**batch).logits
    torch.testing.assert_close(after, before)  # B starts at zero: B A x = 0


def test_a_saved_adapter_loads_back_to_the_same_predictions(tmp_path) -> None:
    tokenizer, model = _tiny_bert_classifier()
    wrapped = finetune.add_lora(model)
    with torch.no_grad():  # move the adapter away from zero, as training would
        for name, parameter in wrapped.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.5)
    wrapped.eval()
    texts = ["a fine film", "a dull, long mess"]
    expected = finetune.predict_proba(wrapped, tokenizer, texts)
    finetune.save_adapter(wrapped, tmp_path / "adapter")
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    _, fresh = _tiny_bert_classifier()
    loaded = finetune.load_with_adapter(fresh, tmp_path / "adapter")
    assert not finetune.lora.is_lora_model(loaded)  # merged: a plain transformers model again
    got = finetune.predict_proba(loaded, tokenizer, texts)
    assert abs(got - expected).max() < 1e-5
    assert abs(finetune.predict_proba(finetune.merged_copy(wrapped), tokenizer, texts) - expected).max() < 1e-5


def test_bad_lora_settings_and_specs_are_clear_errors(tmp_path) -> None:
    with pytest.raises(ConfigError, match="rank"):
        finetune.LoraSettings(rank=0)
    _, model = _tiny_bert_classifier()
    with pytest.raises(ConfigError, match="not in this model"):
        finetune.add_lora(model, finetune.LoraSettings(target_modules=("q_proj",)))
    with pytest.raises(ConfigError, match="no other option"):
        parse_candidate("minilm-l6:lora:random")
    with pytest.raises(MissingFileError, match="adapter_config.json"):
        finetune.load_with_adapter(model, tmp_path)
    assert parse_candidate("minilm-l6:lora") == Candidate("minilm-l6", lora=True)
    assert parse_candidate("minilm-l6:lora").name == "minilm-l6-lora"


def test_a_lora_candidate_has_its_own_recipe_and_old_run_keys_still_match() -> None:
    assert parse_candidate("minilm-l6:lora").recipe() == finetune.LORA_RECIPES["minilm-l6"]
    assert parse_candidate("minilm-l6:lora").recipe() != parse_candidate("minilm-l6").recipe()
    key = {"candidate": {"model": "tiny-bert", "initialisation": "pretrained", "freeze": False, "lora": False},
           "seed": 0, "train_limit": None, "recipe": {"epochs": 6}}
    saved_before_lora_existed = {**key, "candidate": {"model": "tiny-bert", "initialisation": "pretrained",
                                                      "freeze": False}}
    assert same_run(saved_before_lora_existed, key)
    assert not same_run(saved_before_lora_existed, {**key, "candidate": {**key["candidate"], "lora": True}})
