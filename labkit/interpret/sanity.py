"""The model-randomisation sanity check of Adebayo et al. (2018): does the explanation depend on the model?

An explanation of a model should change when the model changes. The check destroys the trained model
step by step, from the top down (*cascading* randomisation), and asks how much each attribution moved:

* step 0 re-initialises nothing (the same model: the correlation must be 1);
* step 1 re-initialises the classification head, step 2 also the pooler, then the encoder layers from
  the last to the first, and finally the embeddings (:func:`randomisation_order`; one more block
  each step, on top of the earlier ones);
* after each step the attribution of every text is recomputed, for the **same target class** as on the
  trained model, and compared with the trained model's by Spearman's rank correlation
  (``scipy.stats.spearmanr``) over the text's own tokens (special tokens left out), on the signed scores
  and on their absolute values, as the paper reports both.

A method whose maps stay highly correlated once the weights are random is explaining the input (its
edges, its frequent words), not what the model learnt. Everything happens on a deep copy of the model,
with a seeded re-initialisation (the model's own ``_init_weights``, the initialisation of a freshly
built model); the caller's model, its gradients and the global random state are left untouched.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from labkit.interpret.agreement import SPECIAL_TOKENS, spearman_rho
from labkit.interpret.token_attribution import TokenAttribution

SanityExplainer = Callable[..., TokenAttribution]
"""``explain(model, text, target=None) -> TokenAttribution``: explains ``text`` with ``model`` (a copy), for
class ``target`` (``None``: the predicted class), e.g.
``lambda model, text, target: attribute(model, tokenizer, text, "gradient_x_input", target=target)``."""


def randomisation_order(model: Any) -> list[str]:
    """The blocks of a Hugging Face classifier from the top down, as dotted submodule names.

    The head's modules with weights (last defined first, e.g. ``classifier``), the base model's
    ``pooler`` if it has one, its encoder layers from the last to the first, then its ``embeddings``.
    For a BERT classifier with two layers: ``["classifier", "bert.pooler", "bert.encoder.layer.1",
    "bert.encoder.layer.0", "bert.embeddings"]``. Other layouts: pass your own ``blocks``.
    """
    import torch

    prefix = getattr(model, "base_model_prefix", "")
    base = getattr(model, prefix, None) if prefix else None
    if base is None:
        raise ValueError("cannot find the base model (model.base_model_prefix): pass blocks=[...] yourself")
    head = [name for name, child in model.named_children()
            if name != prefix and any(True for _ in child.parameters())]
    blocks = list(reversed(head))
    if getattr(base, "pooler", None) is not None:
        blocks.append(f"{prefix}.pooler")
    layers = [(name, module) for name, module in base.named_modules()
              if isinstance(module, torch.nn.ModuleList) and name.split(".")[-1] in ("layer", "layers")]
    if not layers:
        raise ValueError("cannot find the encoder's list of layers: pass blocks=[...] yourself")
    name, layer_list = layers[0]
    blocks += [f"{prefix}.{name}.{index}" for index in reversed(range(len(layer_list)))]
    if getattr(base, "embeddings", None) is not None:
        blocks.append(f"{prefix}.embeddings")
    return blocks


def reinitialise(model: Any, block: str, seed: int) -> None:
    """Re-initialise the submodule ``block`` of ``model`` in place, as a freshly built model would be.

    Uses the model's ``_init_weights`` on every submodule (Hugging Face models), else each submodule's
    ``reset_parameters``, under ``torch.manual_seed(seed)`` inside ``torch.random.fork_rng`` (the global
    random state is left as it was). Raises if no weight changed (the block would not be randomised).
    """
    import torch

    try:
        module = model.get_submodule(block)
    except AttributeError:
        raise ValueError(f"the model has no submodule {block!r}; its top-level blocks are "
                         f"{[name for name, _ in model.named_children()]}") from None
    before = [parameter.detach().clone() for parameter in module.parameters()]
    init = getattr(model, "_init_weights", None)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for submodule in module.modules():
            if init is not None:
                init(submodule)
            elif hasattr(submodule, "reset_parameters"):
                submodule.reset_parameters()
    changed = any(not torch.equal(old, new) for old, new in zip(before, module.parameters(), strict=True))
    if not changed:
        raise ValueError(f"re-initialising {block!r} changed none of its weights")


def _explain(explain: SanityExplainer, model: Any, text: str, target: int | None) -> TokenAttribution:
    """``explain(model, text, target=target)``, checked: a ``TokenAttribution`` for the asked target."""
    attribution = explain(model, text, target=target)
    if not isinstance(attribution, TokenAttribution):
        raise TypeError(f"explain must return a TokenAttribution, got {type(attribution).__name__}")
    if target is not None and attribution.target != target:
        raise ValueError(f"explain was asked for class {target} but explained class {attribution.target}: "
                         "pass target on to the attribution method")
    return attribution


def cascading_randomisation(model: Any, explain: SanityExplainer, texts: Sequence[str], *,
                            blocks: Sequence[str] | None = None, seed: int = 0,
                            special_tokens: Sequence[str] = SPECIAL_TOKENS) -> pd.DataFrame:
    """Adebayo et al.'s cascading check: correlation with the trained model's attributions as blocks are re-initialised.

    ``explain(model, text, target=None)`` computes one attribution (see :data:`SanityExplainer`);
    ``blocks`` default to :func:`randomisation_order`. Works on a deep copy of ``model``. Step ``s``
    re-initialises ``blocks[s - 1]`` (seed ``seed + s``) on top of the earlier ones. Returns a tidy
    table, one row per step and text: ``step``, ``block`` (the block re-initialised at that step,
    ``"none"`` at step 0), ``method``, ``text`` (index), ``target``, ``spearman`` and ``spearman_abs``
    (NaN when a map is constant over the text's tokens).
    """
    if isinstance(texts, str) or len(texts) == 0:
        raise ValueError("pass a non-empty list of texts")
    copied = copy.deepcopy(model)
    blocks = list(randomisation_order(copied) if blocks is None else blocks)
    originals = [_explain(explain, copied, text, None) for text in texts]
    rows = []
    for step, block in enumerate(["none", *blocks]):
        if step > 0:
            reinitialise(copied, block, seed + step)
        for index, (text, original) in enumerate(zip(texts, originals, strict=True)):
            now = _explain(explain, copied, text, original.target)
            if list(now.tokens) != list(original.tokens):
                raise ValueError(f"text {index} was tokenised differently after re-initialising {block!r}")
            rows.append({"step": step, "block": block, "method": original.method, "text": index,
                         "target": original.target,
                         "spearman": spearman_rho(original.scores, now.scores, original.tokens, special_tokens),
                         "spearman_abs": spearman_rho(original.scores, now.scores, original.tokens, special_tokens,
                                                      absolute=True)})
    return pd.DataFrame(rows)


def summarise_sanity(frame: pd.DataFrame) -> pd.DataFrame:
    """Per method and step: the mean and standard deviation over texts of both correlations (NaN left out)."""
    grouped = frame.groupby(["method", "step", "block"], sort=False)
    summary = grouped[["spearman", "spearman_abs"]].agg(["mean", "std", "count"])
    summary.columns = [f"{measure}_{statistic}" for measure, statistic in summary.columns]
    return summary.reset_index()
