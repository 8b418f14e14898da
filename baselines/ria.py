"""RIA (Zhang et al. 2024, "Plug-and-Play: An Efficient Post-training Pruning Method for Large Language Models",
ICLR 2024): relative importance and activations.

Rule: ``RI_ij = |W_ij| / Σ_k |W_ik| + |W_ij| / Σ_k |W_kj|`` (the weight relative to its output row and to its input
column), score ``RI_ij · (‖X_j‖₂)^a`` with ``a = 0.5`` (the paper's choice), compared per output row as in the
reference code's unstructured setting; no weight update; layers in order, each on the inputs of the network pruned
so far. Changes for small networks: the exact-count rounding of :func:`plantseek.prune.posttraining.select_rows`; a
row or column of zero weights contributes 0 (not 0/0). The channel permutation is for N:M patterns only (not used).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.layer_reconstruction import LayerwisePruner
from plantseek.prune.posttraining import input_norms, select_rows


def ria_scores(w: torch.Tensor, x: torch.Tensor, a: float = 0.5) -> torch.Tensor:
    """Relative importance times activation norm to the power ``a``."""
    m = w.abs()
    rows = m.sum(1, keepdim=True)
    cols = m.sum(0, keepdim=True)
    ri = torch.where(rows > 0, m / rows.clamp_min(1e-300), 0.0) + torch.where(cols > 0, m / cols.clamp_min(1e-300), 0.0)
    return ri * input_norms(x)[None, :].pow(a)


@dataclass
class RIA(LayerwisePruner):
    """Relative importance × ‖X_j‖^0.5 per output row."""

    name: str = "ria"
    description: str = "relative importance × ‖X_j‖₂^0.5, compared per output row (Zhang et al. 2024)"
    a: float = 0.5

    def prune_layer(self, name, w, x, k):
        return select_rows(ria_scores(w, x, self.a), k), None


PRUNERS.register("ria", declared(RIA, tags={"post-training"}, rank=4))
