"""Feature importance for a text classifier: how much each input token pushed one class's logit.

``attribute(model, tokenizer, text, method)`` explains one prediction with one of three methods and
returns a :class:`~labkit.interpret.token_attribution.TokenAttribution` (one score per input token).
The function explained is always the *logit* of the target class (before the softmax), so scores are
in logit units and do not saturate the way probabilities do near 0 or 1.

* ``"gradient_x_input"``: the gradient of the logit with respect to each token's word embedding,
  times that embedding, summed over the embedding dimensions. One forward and one backward pass: a
  first-order guess of what removing the token (setting its embedding to zero) would do.
* ``"integrated_gradients"`` (Sundararajan et al., 2017): the same product, but with the gradient
  averaged along a straight line from a *baseline* input to the real one, and with
  ``input - baseline`` in place of ``input``. The baseline here keeps ``[CLS]`` and ``[SEP]`` and
  replaces every other token by ``[PAD]``. The scores then add up to
  ``f(input) - f(baseline)`` (*completeness*), up to the error of the numerical integration, which is
  measured and reported.
* ``"occlusion"``: replace one token at a time by a named token (``[PAD]`` by default, or ``[MASK]``)
  and record how much the logit drops. Special tokens are not occluded: their score is 0.

The gradient methods work on the *word embeddings*, the output of ``model.get_input_embeddings()``,
before BERT adds its position and token-type embeddings. The model is run with
``inputs_embeds=word_embeddings``: BERT then adds the position and token-type embeddings itself, exactly
as it does for ``input_ids``. Gradients are taken with ``torch.autograd.grad`` with respect to the
embeddings only, so nothing is left in the model parameters' ``.grad``.
"""

from __future__ import annotations

import inspect
import operator
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from labkit.errors import ConfigError, LabkitError
from labkit.interpret.token_attribution import TokenAttribution

if TYPE_CHECKING:  # pragma: no cover
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

__all__ = ["METHODS", "IncompleteAttributionError", "IncompleteAttributionWarning", "attribute",
           "attribute_many"]

QUADRATURES = ("gausslegendre", "riemann_trapezoid")


class IncompleteAttributionWarning(UserWarning):
    """Integrated gradients' scores miss ``f(input) - f(baseline)`` by more than the tolerance asked for."""


class IncompleteAttributionError(LabkitError, ValueError):
    """Raised instead of the warning when ``if_incomplete="raise"``."""


@dataclass(frozen=True)
class EncodedText:
    """One text as the model gets it: ``input_ids`` ``(1, seq)``, the other model inputs, the special tokens."""

    input_ids: torch.Tensor  # (1, seq)
    other_inputs: dict[str, torch.Tensor]  # attention_mask, token_type_ids...: each (1, seq)
    special: torch.Tensor  # (seq,) bool: True at [CLS], [SEP] and the other special tokens

    def other_inputs_for(self, batch: int) -> dict[str, torch.Tensor]:
        """The other inputs repeated for a batch of ``batch`` copies of the text: each ``(batch, seq)``."""
        return {name: value.expand(batch, -1) for name, value in self.other_inputs.items()}


def encode(tokenizer: PreTrainedTokenizerBase, text: str, max_length: int, device: torch.device) -> EncodedText:
    """Tokenise one text (no padding, truncated at ``max_length``) and mark its special tokens."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"text must be a non-empty string, got {text!r}")
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 3:
        raise ConfigError(f"max_length must be an integer of at least 3 ([CLS], one token, [SEP]), got {max_length!r}")
    encoding = tokenizer(text, truncation=True, max_length=max_length, return_special_tokens_mask=True,
                         return_tensors="pt")
    special = encoding.pop("special_tokens_mask")[0].bool().to(device)
    if bool(special.all()):
        raise ConfigError(f"text {text!r} has no token other than the special ones: nothing to attribute")
    input_ids = encoding.pop("input_ids").to(device)
    return EncodedText(input_ids, {name: value.to(device) for name, value in encoding.items()}, special)


@contextmanager
def evaluation_mode(model: PreTrainedModel) -> Iterator[None]:
    """Run the model in eval mode (dropout off) and give it back in the mode it came in."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def word_embeddings(model: PreTrainedModel, input_ids: torch.Tensor) -> torch.Tensor:
    """The word embeddings of ``input_ids`` ``(batch, seq)``: ``(batch, seq, hidden)``, detached from the graph."""
    with torch.no_grad():
        return model.get_input_embeddings()(input_ids)


def logits_from_word_embeddings(model: PreTrainedModel, embeddings: torch.Tensor, text: EncodedText) -> torch.Tensor:
    """The model's logits ``(batch, classes)`` for word embeddings ``(batch, seq, hidden)`` of the text.

    The model adds position and token-type embeddings itself, as it does when given ``input_ids``.
    """
    return model(inputs_embeds=embeddings, **text.other_inputs_for(len(embeddings))).logits


def logits_from_ids(model: PreTrainedModel, input_ids: torch.Tensor, text: EncodedText) -> torch.Tensor:
    """The model's logits ``(batch, classes)`` for token ids ``(batch, seq)``, without gradients."""
    with torch.no_grad():
        return model(input_ids=input_ids, **text.other_inputs_for(len(input_ids))).logits


def token_id(tokenizer: PreTrainedTokenizerBase, token: str, role: str) -> int:
    """The id of ``token`` in the tokenizer's vocabulary, or a clear error if it has none."""
    if not isinstance(token, str):
        raise ConfigError(f"{role} must be a token string such as '[PAD]' or '[MASK]', got {token!r}")
    identifier = tokenizer.convert_tokens_to_ids(token)
    if identifier is None or (identifier == tokenizer.unk_token_id and token != tokenizer.unk_token):
        raise ConfigError(f"{role} {token!r} is not in the tokenizer's vocabulary; special tokens it has: "
                          f"{tokenizer.all_special_tokens}")
    return int(identifier)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return value


# --- the three methods: each returns (scores (seq,), details) -----------------------------------


def gradient_x_input(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, text: EncodedText,
                     target: int) -> tuple[torch.Tensor, dict[str, Any]]:
    """Gradient × input on the word embeddings: ``sum_d  d logit / d e[i, d]  ×  e[i, d]`` for token ``i``."""
    embeddings = word_embeddings(model, text.input_ids).requires_grad_(True)  # (1, seq, hidden)
    logit = logits_from_word_embeddings(model, embeddings, text)[0, target]
    (gradient,) = torch.autograd.grad(logit, embeddings)  # (1, seq, hidden)
    return (gradient * embeddings).sum(dim=-1)[0].detach(), {}


def quadrature_points(steps: int, quadrature: str) -> tuple[np.ndarray, np.ndarray]:
    """Points ``alphas`` in [0, 1] and weights so that ``∫₀¹ g(α) dα ≈ Σ weights · g(alphas)``: each ``(steps,)``.

    ``"gausslegendre"`` (captum's default): Gauss-Legendre nodes and weights moved from [-1, 1] to
    [0, 1]; exact for polynomials of degree up to ``2 * steps - 1``. ``"riemann_trapezoid"``: the
    trapezoid rule, ``steps`` evenly spaced points including both ends (a spacing of ``1 / (steps - 1)``),
    the two end points with half weight; the weights sum to one. (captum 0.9.0's ``"riemann_trapezoid"``
    uses the same points but a spacing of ``1 / steps``, so its weights sum to ``(steps - 1) / steps``
    and its scores are ours times that factor.)
    """
    if quadrature == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return (nodes + 1) / 2, weights / 2
    if quadrature == "riemann_trapezoid":
        if steps < 2:
            raise ConfigError("the trapezoid rule needs at least 2 steps")
        weights = np.full(steps, 1 / (steps - 1))
        weights[[0, -1]] /= 2
        return np.linspace(0, 1, steps), weights
    raise ConfigError(f"unknown quadrature {quadrature!r}: choose one of {QUADRATURES}")


def integrated_gradients(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, text: EncodedText,
                         target: int, *, steps: int = 50, quadrature: str = "gausslegendre",
                         baseline_token: str = "[PAD]", internal_batch_size: int = 25,
                         tolerance: float | None = None, if_incomplete: str = "warn") -> tuple[torch.Tensor, dict]:
    """Integrated gradients on the word embeddings, from a baseline of ``[CLS]`` + ``baseline_token``… + ``[SEP]``.

    ``score[i] = Σ_d (x - x')[i, d] · ∫₀¹ ∂f/∂e[i, d] at e = x' + α (x - x') dα``, with ``x`` the
    text's word embeddings, ``x'`` the baseline's and ``f`` the target logit; the integral is computed
    with ``steps`` points of ``quadrature`` (see :func:`quadrature_points`), ``internal_batch_size``
    points per forward pass. The baseline keeps the special tokens and the attention mask (its
    ``[PAD]`` tokens are attended to: they stand for "no word here", they are not padding).
    ``details`` reports ``f_input``, ``f_baseline`` and the completeness gap
    ``sum(scores) - (f_input - f_baseline)``; with a ``tolerance`` (in logit units), a larger gap
    warns (``if_incomplete="warn"``) or raises (``"raise"``). The options are keyword-only, the
    same names as ``attribute``'s ``**options``.
    """
    steps = _positive_int(steps, "steps")
    internal_batch_size = _positive_int(internal_batch_size, "internal_batch_size")
    if if_incomplete not in ("warn", "raise"):
        raise ConfigError(f"if_incomplete must be 'warn' or 'raise', got {if_incomplete!r}")
    alphas, weights = quadrature_points(steps, quadrature)
    baseline_ids = torch.where(text.special, text.input_ids, token_id(tokenizer, baseline_token, "baseline_token"))
    inputs = word_embeddings(model, text.input_ids)  # (1, seq, hidden)
    baseline = word_embeddings(model, baseline_ids)  # (1, seq, hidden)
    integral = torch.zeros_like(inputs)  # Σ_k weight_k · gradient at alpha_k
    for start in range(0, steps, internal_batch_size):
        alpha = torch.tensor(alphas[start:start + internal_batch_size], dtype=inputs.dtype, device=inputs.device)
        weight = torch.tensor(weights[start:start + internal_batch_size], dtype=inputs.dtype, device=inputs.device)
        path = (baseline + alpha[:, None, None] * (inputs - baseline)).requires_grad_(True)  # (chunk, seq, hidden)
        logits = logits_from_word_embeddings(model, path, text)[:, target]  # (chunk,)
        # each point's logit depends on its own row only, so the gradient of the sum gives every row's gradient
        (gradients,) = torch.autograd.grad(logits.sum(), path)
        integral += (weight[:, None, None] * gradients).sum(dim=0, keepdim=True)
    scores = ((inputs - baseline) * integral).sum(dim=-1)[0]
    with torch.no_grad():
        both_ends = logits_from_word_embeddings(model, torch.cat([inputs, baseline]), text)  # (2, classes)
        f_input, f_baseline = both_ends[:, target].tolist()
    gap = float(scores.double().sum()) - (f_input - f_baseline)
    details = {"baseline_tokens": tokenizer.convert_ids_to_tokens(baseline_ids[0].tolist()),
               "baseline_token": baseline_token, "steps": steps, "quadrature": quadrature,
               "f_input": f_input, "f_baseline": f_baseline, "completeness_gap": gap, "tolerance": tolerance}
    if tolerance is not None and abs(gap) > tolerance:
        message = (f"integrated gradients' scores sum to f(input) - f(baseline) = {f_input - f_baseline:.6g} "
                   f"only within {gap:+.3g}, beyond the tolerance {tolerance:g}: use more steps")
        if if_incomplete == "raise":
            raise IncompleteAttributionError(message)
        warnings.warn(message, IncompleteAttributionWarning, stacklevel=3)
    return scores.detach(), details


def occlusion(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, text: EncodedText, target: int, *,
              replacement: str = "[PAD]", batch_size: int = 32) -> tuple[torch.Tensor, dict[str, Any]]:
    """Occlusion: ``score[i] = logit(text) - logit(text with token i replaced by `replacement`)``.

    Only the non-special tokens are occluded, one at a time; ``[CLS]``, ``[SEP]`` and the other special
    tokens keep a score of 0. The occluded copies run ``batch_size`` at a time.
    """
    batch_size = _positive_int(batch_size, "batch_size")
    replacement_id = token_id(tokenizer, replacement, "replacement")
    positions = (~text.special).nonzero().flatten()  # the tokens to occlude, in order
    copies = text.input_ids.repeat(len(positions), 1)  # (n, seq): copy k has token positions[k] replaced
    copies[torch.arange(len(positions)), positions] = replacement_id
    original = logits_from_ids(model, text.input_ids, text)[0, target]
    occluded = torch.cat([logits_from_ids(model, copies[start:start + batch_size], text)[:, target]
                          for start in range(0, len(copies), batch_size)])
    scores = torch.zeros(text.input_ids.shape[1], dtype=original.dtype, device=original.device)
    scores[positions] = original - occluded
    return scores, {"replacement": replacement, "replacement_id": replacement_id,
                    "special_tokens": "not occluded, score 0"}


METHODS: dict[str, Callable[..., tuple[torch.Tensor, dict[str, Any]]]] = {
    "gradient_x_input": gradient_x_input,
    "integrated_gradients": integrated_gradients,
    "occlusion": occlusion,
}


def _options_of(method: str) -> set[str]:
    """The keyword-only options a method takes."""
    parameters = inspect.signature(METHODS[method]).parameters.values()
    return {parameter.name for parameter in parameters if parameter.kind is inspect.Parameter.KEYWORD_ONLY}


def _check_method_and_options(method: str, options: dict[str, Any]) -> None:
    if method not in METHODS:
        raise ConfigError(f"unknown attribution method {method!r}: choose one of {sorted(METHODS)}")
    unknown = set(options) - _options_of(method) - {"max_length"}
    if unknown:
        raise ConfigError(f"method {method!r} takes no option {sorted(unknown)}; its options: "
                          f"{sorted(_options_of(method) | {'max_length'})}")


def _check_target(target: Any, classes: int) -> int:
    try:
        if isinstance(target, bool):
            raise TypeError
        target = operator.index(target)
    except TypeError:
        raise ConfigError(f"target must be a class index (an integer), got {target!r}") from None
    if not 0 <= target < classes:
        raise ConfigError(f"target {target} out of range: the model has {classes} classes (0 to {classes - 1})")
    return target


def attribute(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, text: str, method: str,
              target: int | None = None, **options: Any) -> TokenAttribution:
    """Explain the model's logit for class ``target`` on ``text`` with one score per input token.

    ``method`` is ``"gradient_x_input"``, ``"integrated_gradients"`` or ``"occlusion"`` (see the module
    docstring). ``target`` is the class explained: the predicted class when ``None``. ``options``:
    ``max_length`` (default 128, longer texts are truncated) for every method, and the method's own
    keyword options: ``steps``, ``quadrature``, ``baseline_token``, ``internal_batch_size``,
    ``tolerance``, ``if_incomplete`` for integrated gradients; ``replacement``, ``batch_size`` for
    occlusion.

    Returns a ``TokenAttribution``: ``tokens`` exactly ``tokenizer.convert_ids_to_tokens`` of the encoded
    text, ``scores`` a numpy ``(seq,)`` array in logit units, ``target``, ``probabilities`` (the softmax
    of the model's logits, ``(classes,)``), the ``input_ids`` and the method's ``details``.
    """
    _check_method_and_options(method, options)
    device = next(model.parameters()).device
    text_encoded = encode(tokenizer, text, options.pop("max_length", 128), device)
    with evaluation_mode(model), torch.enable_grad():
        logits = logits_from_ids(model, text_encoded.input_ids, text_encoded)[0]  # (classes,)
        target = int(logits.argmax()) if target is None else _check_target(target, len(logits))
        scores, details = METHODS[method](model, tokenizer, text_encoded, target, **options)
    input_ids = text_encoded.input_ids[0].tolist()
    return TokenAttribution(tokens=tokenizer.convert_ids_to_tokens(input_ids),
                            scores=scores.double().cpu().numpy(), target=target,
                            probabilities=torch.softmax(logits.double(), dim=-1).cpu().numpy(),
                            method=method, input_ids=input_ids, details=details)


def attribute_many(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], method: str,
                   targets: Sequence[int | None] | None = None, **options: Any) -> list[TokenAttribution]:
    """:func:`attribute` for each text in turn (each one unpadded, so padding cannot change a score).

    ``targets``: one class per text (``None`` for the predicted one), or ``None`` for the predicted
    class of every text. ``options`` as for :func:`attribute`.
    """
    if isinstance(texts, str):
        raise ConfigError("texts must be a list of strings; for one text use attribute()")
    texts = list(texts)
    targets = [None] * len(texts) if targets is None else list(targets)
    if len(targets) != len(texts):
        raise ConfigError(f"{len(texts)} texts but {len(targets)} targets: give one target per text")
    _check_method_and_options(method, options)
    return [attribute(model, tokenizer, text, method, target, **options)
            for text, target in zip(texts, targets, strict=True)]
