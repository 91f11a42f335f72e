"""labkit.finetune.fine_tune runs the standard recipe: fed the same batches, Hugging Face's Trainer agrees.

The two loops draw their batches differently (Trainer through accelerate's seedable sampler, fine_tune
through a PyTorch generator), so here Trainer is given fine_tune's training loader; everything else is
the stock Trainer with the same settings. Its per-epoch training and validation losses must then equal
fine_tune's history, and a Trainer whose warm-up differs must not (the comparison can fail).

The checkpoint has no dropout, like the kit's tiny-bert: Trainer's evaluation loader draws a seed from
PyTorch's global generator, which dropout also draws from, so with dropout the two runs would part after
the first validation check for a reason that has nothing to do with the recipe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from datasets import DatasetDict

from labkit import finetune
from labkit.models import load
from labkit.reproducibility import seed_everything
from tests.conftest import toy_sentiment

BATCH = 16
SETTINGS = dict(epochs=4, batch_size=BATCH, learning_rate=1e-2, weight_decay=0.0, warmup_fraction=0.2, max_length=16)


@pytest.fixture(scope="module")
def no_dropout_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, hidden-32 BERT without dropout, with MiniLM's tokenizer, saved as a local checkpoint folder."""
    from transformers import BertConfig, BertModel

    folder = tmp_path_factory.mktemp("no-dropout-bert")
    tokenizer, _ = load("minilm-l6")
    torch.manual_seed(1234)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0)
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def data() -> DatasetDict:
    # 250 = 15 x 16 + 10: a last, shorter batch. With an exact multiple of the batch size, fine_tune's loop
    # runs PyTorch's RandomSampler to its end (one more permutation drawn) and Trainer's does not, so from
    # the second epoch on the two would see different orders.
    return toy_sentiment(sizes=(250, 40, 40))


@pytest.fixture(scope="module")
def ours(no_dropout_model_dir: Path, data: DatasetDict) -> pd.DataFrame:
    """fine_tune's per-epoch history with SETTINGS."""
    return fine_tune_history(no_dropout_model_dir, data)


def fine_tune_history(folder: Path, data: DatasetDict, **changes: Any) -> pd.DataFrame:
    settings = SETTINGS | changes
    result = finetune.fine_tune(str(folder), data, patience=settings["epochs"] + 1, seed=0, progress=False, **settings)
    return result.history[["train_loss", "validation_loss"]]


def trainer_history(folder: Path, data: DatasetDict, output_dir: Path, decay_every_weight: bool = False,
                    **changes: Any) -> pd.DataFrame:
    """The stock Trainer with fine_tune's settings, fed fine_tune's training batches; one row per epoch.

    ``decay_every_weight=True`` also makes it decay biases and LayerNorm weights, as fine_tune does.
    """
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        PrinterCallback,
        Trainer,
        TrainingArguments,
    )
    from transformers.utils import logging as transformers_logging

    settings = SETTINGS | changes
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenised = data.map(lambda batch: tokenizer(batch["text"], truncation=True, max_length=settings["max_length"]),
                         batched=True, remove_columns=["text"])
    seed_everything(0)  # as fine_tune does before loading: the same new head
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2)
    finally:
        transformers_logging.set_verbosity(verbosity)
    arguments = TrainingArguments(
        output_dir=str(output_dir), num_train_epochs=settings["epochs"], per_device_train_batch_size=BATCH,
        per_device_eval_batch_size=2 * BATCH, learning_rate=settings["learning_rate"], lr_scheduler_type="linear",
        warmup_steps=settings["warmup_fraction"], weight_decay=settings["weight_decay"], optim="adamw_torch",
        max_grad_norm=1.0, eval_strategy="epoch", logging_strategy="epoch", save_strategy="no", report_to="none",
        disable_tqdm=True, use_cpu=True, seed=0, data_seed=0)

    class FineTuneOrderTrainer(Trainer):
        def get_train_dataloader(self) -> Any:
            return torch.utils.data.DataLoader(self.train_dataset, batch_size=BATCH, shuffle=True,
                                               generator=torch.Generator().manual_seed(0),
                                               collate_fn=self.data_collator)

        def get_decay_parameter_names(self, model: torch.nn.Module) -> list[str]:
            if decay_every_weight:
                return [name for name, _ in model.named_parameters()]
            return super().get_decay_parameter_names(model)

    trainer = FineTuneOrderTrainer(model=model, args=arguments, train_dataset=tokenised["train"],
                                   eval_dataset=tokenised["validation"],
                                   data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer)
    trainer.remove_callback(PrinterCallback)
    trainer.train()
    log = trainer.state.log_history
    return pd.DataFrame({"train_loss": [entry["loss"] for entry in log if "loss" in entry],
                         "validation_loss": [entry["eval_loss"] for entry in log if "eval_loss" in entry]})


def test_trainer_fed_the_same_batches_reproduces_fine_tune(no_dropout_model_dir: Path, data: DatasetDict,
                                                            ours: pd.DataFrame, tmp_path: Path) -> None:
    theirs = trainer_history(no_dropout_model_dir, data, tmp_path)
    assert len(ours) == len(theirs) == SETTINGS["epochs"]
    assert ours["train_loss"].iloc[-1] < ours["train_loss"].iloc[0] - 0.5  # it learned: the match is not trivial
    np.testing.assert_allclose(theirs.to_numpy(), ours.to_numpy(), rtol=0, atol=1e-5)


def test_a_different_warmup_is_detected(no_dropout_model_dir: Path, data: DatasetDict, ours: pd.DataFrame,
                                         tmp_path: Path) -> None:
    theirs = trainer_history(no_dropout_model_dir, data, tmp_path, warmup_fraction=0.0)
    assert np.abs(theirs.to_numpy() - ours.to_numpy()).max() > 1e-3


def test_weight_decay_differs_only_in_what_it_exempts(no_dropout_model_dir: Path, data: DatasetDict,
                                                      tmp_path: Path) -> None:
    # Trainer exempts biases and LayerNorm weights from weight decay; fine_tune decays every weight. At
    # fine_tune's default decay the runs then differ, but far less than a change of recipe does, and not
    # at all once Trainer decays every weight too.
    decayed = fine_tune_history(no_dropout_model_dir, data, weight_decay=0.01)
    exempting = trainer_history(no_dropout_model_dir, data, tmp_path / "exempting", weight_decay=0.01)
    gap = np.abs(exempting.to_numpy() - decayed.to_numpy()).max()
    assert 1e-5 < gap < 1e-3
    every_weight = trainer_history(no_dropout_model_dir, data, tmp_path / "every", weight_decay=0.01,
                                   decay_every_weight=True)
    np.testing.assert_allclose(every_weight.to_numpy(), decayed.to_numpy(), rtol=0, atol=1e-5)
