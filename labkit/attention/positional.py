"""Positional encodings: the fixed sinusoids of "Attention Is All You Need" and learned position vectors.

Both modules add to their input and keep its shape, ``(batch, seq_len, d_model)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def sinusoidal_positional_encoding(length: int, d_model: int, base: float = 10000.0) -> Tensor:
    """The fixed encoding of "Attention Is All You Need".

    ``PE[pos, 2i] = sin(pos / base^(2i/d_model))`` and ``PE[pos, 2i+1] = cos(pos / base^(2i/d_model))``.

    Returns:
        float tensor of shape ``(length, d_model)``.
    """
    if length < 1 or d_model < 2 or d_model % 2:
        raise ValueError(f"need length >= 1 and an even d_model >= 2, got length={length}, d_model={d_model}")
    positions = torch.arange(length, dtype=torch.float32)[:, None]  # (length, 1)
    frequencies = base ** (-torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)  # (d_model / 2,)
    angles = positions * frequencies  # (length, d_model / 2)
    encoding = torch.empty(length, d_model)
    encoding[:, 0::2] = torch.sin(angles)
    encoding[:, 1::2] = torch.cos(angles)
    return encoding


def _check_input(x: Tensor, d_model: int, max_length: int) -> None:
    if x.dim() != 3 or x.shape[-1] != d_model or x.shape[1] > max_length:
        raise ValueError(
            f"expected input of shape (batch, seq_len <= {max_length}, d_model={d_model}), got {tuple(x.shape)}"
        )


class SinusoidalPositionalEncoding(nn.Module):
    """Adds :func:`sinusoidal_positional_encoding` to its input: ``(batch, seq_len, d_model)`` -> same shape.

    Nothing is learned; it works for any ``seq_len <= max_length``.
    """

    def __init__(self, d_model: int, max_length: int = 512) -> None:
        super().__init__()
        self.d_model = d_model
        self.max_length = max_length
        self.register_buffer("encoding", sinusoidal_positional_encoding(max_length, d_model), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        _check_input(x, self.d_model, self.max_length)
        return x + self.encoding[: x.shape[1]]


class LearnedPositionalEncoding(nn.Module):
    """A learned vector per position (BERT's and GPT-2's choice): ``(batch, seq_len, d_model)`` -> same shape."""

    def __init__(self, d_model: int, max_length: int = 512) -> None:
        super().__init__()
        self.d_model = d_model
        self.max_length = max_length
        self.embedding = nn.Embedding(max_length, d_model)

    def forward(self, x: Tensor) -> Tensor:
        _check_input(x, self.d_model, self.max_length)
        positions = torch.arange(x.shape[1], device=x.device)
        return x + self.embedding(positions)
