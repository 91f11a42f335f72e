"""Held-out metrics of a pretraining run: MLM accuracy and perplexity, NSP accuracy, GPT perplexity.

These are what the training loop logs every ``eval_every`` steps and what ``training.json`` records
for the trained and the untrained network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from labkit.devices import model_device, move_to_device
from labkit.pretraining.objectives import BertPretrainingObjective, CausalLMObjective


@torch.no_grad()
def evaluate_bert(model: nn.Module, batches: Sequence[dict[str, torch.Tensor]],
                  next_sentence_prediction: bool = True) -> dict[str, float]:
    """Held-out MLM accuracy, MLM perplexity (exp of the mean masked-token cross-entropy) and NSP accuracy
    (NSP only when ``next_sentence_prediction``: an MLM-only run has no sentence pairs to score)."""
    objective = BertPretrainingObjective(model, next_sentence_prediction)
    was_training = model.training
    model.eval()
    device = model_device(model)
    total_nll = correct = masked = nsp_correct = nsp_total = 0.0
    for batch in batches:
        batch = move_to_device(batch, device)
        out = objective(**batch)
        total_nll += F.cross_entropy(out["mlm_logits"].float(), out["mlm_labels"], reduction="sum").item()
        correct += (out["mlm_logits"].argmax(-1) == out["mlm_labels"]).sum().item()
        masked += out["mlm_labels"].numel()
        nsp_correct += (out["nsp_logits"].argmax(-1) == batch["next_sentence_label"]).sum().item()
        nsp_total += batch["next_sentence_label"].numel()
    model.train(was_training)
    metrics = {"mlm_accuracy": correct / max(masked, 1), "mlm_perplexity": math.exp(total_nll / max(masked, 1)),
               "masked_tokens": int(masked)}
    if next_sentence_prediction:
        metrics.update({"nsp_accuracy": nsp_correct / max(nsp_total, 1), "nsp_pairs": int(nsp_total)})
    return metrics


@torch.no_grad()
def evaluate_gpt(model: nn.Module, batches: Sequence[dict[str, torch.Tensor]],
                 rows_at_once: int = 8) -> dict[str, float]:
    """Held-out next-token perplexity and accuracy of a causal LM (batches of ``input_ids`` ``(batch, seq)``).

    Each batch is run ``rows_at_once`` sequences at a time: the logits are ``(rows, seq, vocab)`` floats, and a
    whole batch of 32 blocks of 128 tokens over 8,192 pieces would hold about 400 MB of them and their copies.
    """
    objective = CausalLMObjective(model)
    was_training = model.training
    model.eval()
    device = model_device(model)
    total_nll = correct = count = 0.0
    for batch in batches:
        for input_ids in batch["input_ids"].to(device).split(rows_at_once):
            logits = objective(input_ids)["logits"][:, :-1].float()  # (rows, seq - 1, vocab)
            targets = input_ids[:, 1:]
            total_nll += F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                                         reduction="sum").item()
            correct += (logits.argmax(-1) == targets).sum().item()
            count += targets.numel()
    model.train(was_training)
    return {
        "perplexity": math.exp(total_nll / max(count, 1)),
        "next_token_accuracy": correct / max(count, 1),
        "tokens": int(count),
    }
