"""Graph convolution (Kipf & Welling 2017) and the two-layer TextGCN, in plain PyTorch.

One layer is ``H' = Ã H W`` (plus an optional bias): every node's new vector is the
degree-weighted sum of its neighbours' (and its own) vectors, times a weight matrix shared by all
nodes. TextGCN (Yao et al. 2019) stacks two, with one-hot ("featureless") inputs ``X = I``:

    Z = softmax(Ã · dropout(ReLU(Ã W0)) · W1)

so ``W0`` ``(n_nodes, hidden)`` is one learnt vector per node, and the first layer mixes each node's
vector with its neighbours'. ``Ã`` is a torch sparse tensor; it is never made dense.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn
from torch.nn import functional

from labkit.errors import ConfigError


def to_torch_sparse(matrix: sp.spmatrix) -> torch.Tensor:
    """A scipy sparse matrix as a torch sparse CSR float32 tensor of the same shape (no dense copy)."""
    if not sp.issparse(matrix):
        raise ConfigError(f"expected a scipy.sparse matrix, got {type(matrix).__name__}")
    csr = sp.csr_matrix(matrix, dtype=np.float32)
    csr.sort_indices()
    with warnings.catch_warnings():  # "sparse CSR support is in beta": this module uses only what is stable
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(torch.from_numpy(csr.indptr.astype(np.int64)),
                                       torch.from_numpy(csr.indices.astype(np.int64)),
                                       torch.from_numpy(csr.data), size=csr.shape, check_invariants=False)


def _csr_times_dense(adjacency: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """Sparse CSR ``(N, M)`` times dense ``(M, d)``, row by row as a weighted sum of feature rows.

    ``embedding_bag`` (mode ``"sum"`` with per-entry weights) computes exactly ``Σ_j A_ij X[j]`` for every
    row ``i``, and on a CPU it is several times faster than ``torch.sparse.mm`` on these graphs.
    """
    return functional.embedding_bag(adjacency.col_indices(), features, adjacency.crow_indices(), mode="sum",
                                    per_sample_weights=adjacency.values(), include_last_offset=True)


class _SymmetricSparseProduct(torch.autograd.Function):
    """``Ã @ X`` for a constant symmetric sparse ``Ã``: the gradient wrt ``X`` is ``Ã.T @ G = Ã @ G``."""

    @staticmethod
    def forward(ctx, adjacency: torch.Tensor, features: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        ctx.adjacency = adjacency
        return _csr_times_dense(adjacency, features)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[None, torch.Tensor]:  # noqa: ANN001
        return None, _csr_times_dense(ctx.adjacency, grad.contiguous())


def propagate(adjacency: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """``Ã @ features``: ``(N, N)`` sparse, symmetric, times ``(N, d)`` dense -> ``(N, d)``."""
    if adjacency.shape[1] != features.shape[0]:
        raise ConfigError(f"the adjacency is {tuple(adjacency.shape)} but the features have "
                          f"{features.shape[0]} rows: one row per node is needed")
    if adjacency.layout == torch.strided:
        return adjacency @ features
    if adjacency.layout != torch.sparse_csr:
        adjacency = adjacency.to_sparse_csr()
    return _SymmetricSparseProduct.apply(adjacency, features)


class GraphConvolution(nn.Module):
    """One GCN layer: ``Ã X W (+ b)``; ``X`` ``(N, in_features)`` or None for one-hot features ``X = I``.

    ``weight`` is ``(in_features, out_features)``, Glorot-uniform initialised (as the paper's code).
    The adjacency passed to ``forward`` must be the *normalised* one (``normalize_adjacency``) and
    symmetric (the backward pass uses ``Ã.T = Ã``).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = False) -> None:
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ConfigError(f"a layer needs at least one input and one output feature, got "
                              f"{in_features} -> {out_features}")
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        nn.init.xavier_uniform_(self.weight)

    def forward(self, adjacency: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        """``(N, N)`` adjacency and ``(N, in_features)`` features (or None: ``X = I``) -> ``(N, out_features)``."""
        if features is None:
            if adjacency.shape[0] != self.weight.shape[0]:
                raise ConfigError(f"one-hot features need one weight row per node: the graph has "
                                  f"{adjacency.shape[0]} nodes, the layer {self.weight.shape[0]} rows")
            support = self.weight  # I @ W
        else:
            if features.shape[-1] != self.weight.shape[0]:
                raise ConfigError(f"features have {features.shape[-1]} columns; the layer expects "
                                  f"{self.weight.shape[0]}")
            support = features @ self.weight
        output = propagate(adjacency, support)
        return output if self.bias is None else output + self.bias


class TextGCN(nn.Module):
    """Two GCN layers on one-hot node features: ``Ã · dropout(ReLU(Ã W0)) · W1`` -> logits ``(N, n_classes)``.

    The paper's settings: ``hidden=200``, ``dropout=0.5`` (on the hidden layer; dropout on one-hot
    inputs does nothing), no bias.
    """

    def __init__(self, n_nodes: int, n_classes: int, hidden: int = 200, dropout: float = 0.5) -> None:
        super().__init__()
        if n_classes < 2:
            raise ConfigError(f"a classifier needs at least two classes, got {n_classes}")
        self.first = GraphConvolution(n_nodes, hidden)
        self.second = GraphConvolution(hidden, n_classes)
        self.dropout = nn.Dropout(dropout)

    def hidden(self, adjacency: torch.Tensor) -> torch.Tensor:
        """The first layer, ``ReLU(Ã W0)`` ``(N, hidden)``: the same in training and evaluation."""
        return torch.relu(self.first(adjacency))

    def classify(self, adjacency: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """The second layer on given hidden vectors: ``Ã · dropout(hidden) · W1`` ``(N, n_classes)``."""
        return self.second(adjacency, self.dropout(hidden))

    def forward(self, adjacency: torch.Tensor) -> torch.Tensor:
        return self.classify(adjacency, self.hidden(adjacency))
