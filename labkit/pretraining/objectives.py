"""The pretraining losses: MLM + NSP for BERT, next-token prediction for GPT.

Thin ``nn.Module`` wrappers around the ``transformers`` models, so Accelerate (and DDP) can wrap them.
:class:`BertPretrainingObjective` is fast: the vocabulary projection is computed only at the selected
positions (a ``(masked, vocab)`` matrix instead of ``(batch, seq, vocab)``), and attention runs
without a mask when a batch has no padding, so PyTorch's SDPA kernels take their fastest path.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from labkit.pretraining.masking import IGNORE_INDEX


class BertPretrainingObjective(nn.Module):
    """MLM + NSP loss of a ``BertForPreTraining``, with the vocabulary projection at masked positions only.

    Mathematically identical to ``BertForPreTraining(...)``'s own loss (mean cross-entropy over the
    positions whose label is not -100, plus NSP cross-entropy), but instead of projecting all
    ``batch * seq`` hidden states to ``vocab`` logits it gathers the ``masked ~ 0.15 * batch * seq``
    selected ones first.
    """

    def __init__(self, model: nn.Module, next_sentence_prediction: bool = True):
        super().__init__()
        self.model = model
        self.next_sentence_prediction = next_sentence_prediction

    def forward(
        self,
        input_ids: torch.Tensor,
        token_type_ids: torch.Tensor,
        attention_mask: torch.Tensor | None,
        labels: torch.Tensor,
        next_sentence_label: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """Inputs ``(batch, seq)`` (``attention_mask`` may be None when there is no padding), ``labels``
        ``(batch, seq)`` with -100 at unselected positions, ``next_sentence_label`` ``(batch,)``.

        Returns a dict: ``loss`` (MLM + NSP; MLM alone when built with ``next_sentence_prediction=False``),
        ``mlm_loss``, ``nsp_loss`` (scalars), ``mlm_logits`` ``(masked, vocab)``, ``mlm_labels``
        ``(masked,)`` and ``nsp_logits`` ``(batch, 2)``.
        """
        if attention_mask is not None and bool(attention_mask.all()):
            attention_mask = None  # no padding: let SDPA run without a mask
        outputs = self.model.bert(input_ids=input_ids, token_type_ids=token_type_ids, attention_mask=attention_mask)
        selected = labels != IGNORE_INDEX  # (batch, seq)
        hidden = outputs.last_hidden_state[selected]  # (masked, hidden)
        mlm_labels = labels[selected]  # (masked,)
        mlm_logits = self.model.cls.predictions(hidden)  # (masked, vocab)
        nsp_logits = self.model.cls.seq_relationship(outputs.pooler_output)  # (batch, 2)
        if mlm_labels.numel() == 0:
            mlm_loss = mlm_logits.sum() * 0.0
        else:
            mlm_loss = F.cross_entropy(mlm_logits.float(), mlm_labels)
        if self.next_sentence_prediction:
            nsp_loss = F.cross_entropy(nsp_logits.float(), next_sentence_label)
        else:  # MLM only: the NSP head is not trained (its loss is reported as 0)
            nsp_loss = torch.zeros((), dtype=mlm_loss.dtype, device=mlm_loss.device)
        return {
            "loss": mlm_loss + nsp_loss,
            "mlm_loss": mlm_loss,
            "nsp_loss": nsp_loss,
            "mlm_logits": mlm_logits,
            "mlm_labels": mlm_labels,
            "nsp_logits": nsp_logits,
        }


class CausalLMObjective(nn.Module):
    """Next-token cross-entropy of a causal LM (``GPT2LMHeadModel``) on packed blocks (no padding)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> dict[str, torch.Tensor]:
        """``input_ids`` ``(batch, seq)``; predicts token ``t+1`` from tokens ``<= t``; ``loss`` is the mean
        over the ``batch * (seq - 1)`` predictions. Also returns ``logits`` ``(batch, seq, vocab)``."""
        outputs = self.model(input_ids=input_ids)
        logits = outputs.logits
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)).float(), input_ids[:, 1:].reshape(-1))
        return {"loss": loss, "logits": logits}
