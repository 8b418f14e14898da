"""SparseGPT (Frantar & Alistarh 2023, "SparseGPT: Massive Language Models Can Be Accurately Pruned in One-Shot",
ICML 2023): OBS pruning with the calibration Hessian, and its weight update.

Rule: per layer, ``H = XᵀX + λ·mean(diag XᵀX)·I`` with ``λ = 0.01`` (the paper's dampening); the OBS saliency
``w_ij² / [H⁻¹]_jj`` chooses the pruned weights (uniform layer density, compared over the whole layer as the
reference's mask selection over a block of columns); every row is then updated to the optimal reconstruction with
its pruned set fixed, ``w' = w − H⁻¹[:, S] (H⁻¹[S, S])⁻¹ w_S`` (:func:`plantseek.prune.posttraining.obs_update`).
Layers in order from the input, each on the inputs of the network pruned and updated so far.

Changes for small networks: no lazy batches and one mask-selection block (a layer has at most a few hundred inputs);
the update is the exact OBS solution of the row with the final mask, where the reference processes columns in order
and freezes the columns already passed (an approximation that the small size makes unnecessary).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.layer_reconstruction import LayerwisePruner
from plantseek.prune.posttraining import hessian, obs_update, select_layer


def sparsegpt_layer(w: torch.Tensor, x: torch.Tensor, k: int,
                    damping: float = 0.01) -> tuple[torch.Tensor, torch.Tensor]:
    """One layer: (keep, updated weight)."""
    h = hessian(x, damping)
    hinv = torch.linalg.inv(h)
    keep = select_layer(w.pow(2) / hinv.diagonal()[None, :], k)
    new = torch.stack([obs_update(w[i], h, keep[i]) for i in range(w.shape[0])])
    return keep, new


@dataclass
class SparseGPT(LayerwisePruner):
    """OBS saliency w²/[H⁻¹]_jj per layer, then the optimal row update."""

    name: str = "sparsegpt"
    description: str = "OBS saliency w²/[H⁻¹]_jj with H = XᵀX + 1% damping, and the OBS weight update (Frantar & " \
                       "Alistarh 2023)"
    damping: float = 0.01

    def prune_layer(self, name, w, x, k):
        return sparsegpt_layer(w, x, k, self.damping)


PRUNERS.register("sparsegpt", declared(SparseGPT, tags={"post-training"}, rank=3))
