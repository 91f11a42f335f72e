"""labkit.models: the offline registry loads MiniLM without network and fails fast and clearly."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest
import torch

import labkit.models as models
from labkit.paths import data_dir


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


# --- loading for another task: expected differences are quiet, real ones are reported -----------------


@pytest.fixture
def transformers_log(monkeypatch: pytest.MonkeyPatch):
    """Every record transformers logs at WARNING or above (its default verbosity), whatever its handlers do."""
    import logging

    from transformers.utils import logging as transformers_logging

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_warning()
    handler = Keep(level=logging.WARNING)
    root = logging.getLogger("transformers")
    root.addHandler(handler)
    yield records
    root.removeHandler(handler)
    transformers_logging.set_verbosity(verbosity)


@pytest.mark.parametrize(("name", "task", "kwargs"), [
    ("tiny-bert", "masked-lm", {}),                            # the NSP head and pooler are not used
    ("tiny-bert", "base", {}),                                 # neither pretraining head is used
    ("tiny-bert", "sequence-classification", {"num_labels": 2}),  # a new classifier head starts random
    ("minilm-l6", "sequence-classification", {"num_labels": 3}),
    ("tiny-gpt", "sequence-classification", {"num_labels": 2}),
])
def test_expected_head_change_loads_without_a_report(name: str, task: str, kwargs: dict, transformers_log: list,
                                                    capfd: pytest.CaptureFixture[str]) -> None:
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        models.load(name, task=task, **kwargs)
    out, err = capfd.readouterr()
    messages = [record.getMessage() for record in transformers_log]
    assert not any("LOAD REPORT" in m or "UNEXPECTED" in m or "MISSING" in m for m in messages), messages
    assert "LOAD REPORT" not in out + err and "UNEXPECTED" not in out + err, out + err
    assert not [w for w in caught if issubclass(w.category, models.CheckpointMismatchWarning)]


def _tiny_bert_copy(tmp_path, drop: tuple[str, ...] = (), add: dict | None = None, config_changes: dict | None = None):
    """A copy of the tiny-bert checkpoint folder with weights dropped or added, or its config changed."""
    import json
    import shutil

    from safetensors.torch import load_file, save_file

    source = models.REGISTRY["tiny-bert"].path()
    target = tmp_path / "edited-tiny-bert"
    shutil.copytree(source, target)
    weights = load_file(source / "model.safetensors")
    for key in drop:
        assert key in weights, key
        del weights[key]
    weights.update(add or {})
    save_file(weights, target / "model.safetensors", metadata={"format": "pt"})
    if config_changes:
        config = json.loads((target / "config.json").read_text())
        config.update(config_changes)
        (target / "config.json").write_text(json.dumps(config))
    return target


def test_a_missing_encoder_weight_is_still_reported(tmp_path) -> None:
    folder = _tiny_bert_copy(tmp_path, drop=("bert.encoder.layer.0.attention.self.query.weight",))
    with pytest.warns(models.CheckpointMismatchWarning, match=r"missing.*layer\.0\.attention\.self\.query\.weight"):
        models.load(str(folder), task="masked-lm")
    # the same gap is a real problem for a classifier too; its new head alone is not
    with pytest.warns(models.CheckpointMismatchWarning) as caught:
        models.load(str(folder), task="sequence-classification", num_labels=2)
    message = str(caught[0].message)
    assert "query.weight" in message and "classifier" not in message and "seq_relationship" not in message


def test_a_missing_mlm_head_is_reported(tmp_path) -> None:
    """A checkpoint without its MLM head would give fill-mask junk: that is not an expected difference."""
    folder = _tiny_bert_copy(tmp_path, drop=("cls.predictions.transform.dense.weight",))
    with pytest.warns(models.CheckpointMismatchWarning, match="cls.predictions.transform.dense.weight"):
        models.load(str(folder), task="masked-lm")


def test_a_weight_the_model_cannot_place_is_reported(tmp_path) -> None:
    extra = {"bert.encoder.layer.2.output.dense.weight": torch.zeros(128, 512, dtype=torch.float16)}
    folder = _tiny_bert_copy(tmp_path, add=extra)
    with pytest.warns(models.CheckpointMismatchWarning, match=r"no place for.*layer\.2\.output\.dense\.weight"):
        models.load(str(folder), task="masked-lm")


def test_a_failed_load_shows_transformers_report(tmp_path, transformers_log: list) -> None:
    folder = _tiny_bert_copy(tmp_path, config_changes={"intermediate_size": 256})
    with pytest.raises(RuntimeError, match="ignore_mismatched_sizes"):
        models.load(str(folder), task="masked-lm")
    report = "\n".join(record.getMessage() for record in transformers_log)
    assert "LOAD REPORT" in report and "MISMATCH" in report and "intermediate.dense.weight" in report


def test_output_loading_info_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="loading info"):
        models.load("tiny-bert", task="masked-lm", output_loading_info=True)


# --- licences ------------------------------------------------------------------------------------------


def test_registry_licences() -> None:
    assert {name: models.licence(name) for name in models.REGISTRY} == {
        "minilm-l6": "Apache-2.0", "tiny-bert": "Apache-2.0", "tiny-bert-movies": "Apache-2.0",
        "tiny-gpt": "Apache-2.0", "tiny-bert-sentiment": "Apache-2.0", "minilm-l6-sentiment": "Apache-2.0",
        "minilm-l6-sentiment-lora": "Apache-2.0"}
    assert "public domain" in models.licence("tiny-bert", detail=True)
    assert "all-MiniLM-L6-v2" in models.licence("minilm-l6-sentiment", detail=True)
    assert "all-MiniLM-L6-v2" in models.licence("minilm-l6-sentiment-lora", detail=True)
    assert "public domain" in models.licence("tiny-gpt", detail=True)
    assert "vaderSentiment (MIT)" in models.licence("tiny-bert-movies", detail=True)
    assert "all-MiniLM-L6-v2" in models.licence("minilm-l6", detail=True)
    assert "licence: Apache-2.0" in models.describe_registry()


def test_minilm_licence_agrees_with_its_model_card() -> None:
    """The registry's entry for MiniLM is what the shipped model card says (read here independently)."""
    card = (models.REGISTRY["minilm-l6"].path() / "README.md").read_text()
    front_matter = card.split("---")[1]
    assert "license: apache-2.0" in front_matter
    assert models.licence("minilm-l6").lower() == "apache-2.0"
    assert models.licence(str(models.REGISTRY["minilm-l6"].path())) == "apache-2.0"


def test_licence_of_folders_hub_ids_and_unknown_names(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "README.md").write_text("---\nlanguage: en\nlicense: mit\n---\n# a model\n")
    assert models.licence(str(tmp_path)) == "mit"
    bare = tmp_path / "no-card"
    bare.mkdir()
    assert models.licence(str(bare)).startswith("unknown")

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("licence() must not touch the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    hub = models.licence("google-bert/bert-base-uncased")
    assert hub.startswith("unknown") and "google-bert/bert-base-uncased" in hub
    with pytest.raises(models.ModelNotAvailableError, match="unknown model name"):
        models.licence("bert-large-whatever")
    with pytest.raises(models.ModelNotAvailableError, match="non-empty"):
        models.licence("")


def test_licence_is_read_from_the_front_matter_only(tmp_path) -> None:
    (tmp_path / "README.md").write_text("# a model\n\nlicense: mit\n")   # prose, not a model card's metadata
    assert models.licence(str(tmp_path)).startswith("unknown")


def test_a_shape_mismatch_let_through_is_still_reported(tmp_path) -> None:
    folder = _tiny_bert_copy(tmp_path, config_changes={"intermediate_size": 256})
    with pytest.warns(models.CheckpointMismatchWarning, match=r"wrong shape.*intermediate\.dense\.weight"):
        models.load(str(folder), task="masked-lm", ignore_mismatched_sizes=True)


@pytest.mark.parametrize(("name", "shipped_run", "most_changed"), [
    ("tiny-bert-sentiment", "tiny-bert", 0),
    ("minilm-l6-sentiment-lora", "minilm-l6-lora", 0),
    ("minilm-l6-sentiment", "minilm-l6", 0),  # stored in float16: probabilities move by < 0.002, no prediction
])
def test_a_shipped_sentiment_classifier_reproduces_its_recorded_test_predictions(name: str, shipped_run: str,
                                                                                 most_changed: int) -> None:
    """Each shipped classifier is the model of a run shipped in finetune-sentiment: the same test predictions.

    ``most_changed`` is how many of the 1,057 predictions may differ (0 for all three, float16 storage included).
    """
    import json

    import pandas as pd

    from labkit import finetune
    from labkit.selection import builtin_task

    tokenizer, model = models.load(name, task="sequence-classification")
    training = json.loads((models.REGISTRY[name].path() / "training.json").read_text())
    assert model.config.id2label == dict(enumerate(training["label_names"]))
    task = builtin_task("sentiment")
    probabilities = finetune.predict_proba(model, tokenizer, list(task.dataset["test"]["text"]),
                                           max_length=training["settings"]["max_length"])
    shipped = pd.read_parquet(data_dir() / "results" / "finetune-sentiment" / shipped_run / "predictions.parquet")
    changed = int((probabilities.argmax(axis=1) != shipped["prediction"].to_numpy()).sum())
    assert changed <= most_changed
    labels = np.asarray(task.dataset["test"]["label"])
    assert abs((probabilities.argmax(axis=1) == labels).mean() - training["accuracy"]) <= most_changed / len(labels)
