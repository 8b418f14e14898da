"""Iterative hard thresholding of the layer-wise ℓ0-constrained reconstruction (the objective of ALPS: Meng et al.
2024, "ALPS: Improved Optimization for Highly Sparse One-Shot Pruning for Large Language Models"; IHT: Blumensath &
Davies 2009, "Iterative hard thresholding for compressed sensing").

Rule: per layer, ``min ‖X W'ᵀ − X Wᵀ‖²`` subject to ``‖W'‖₀ ≤ k`` (``k``: the layer's uniform count), i.e.
``tr((W' − W) H (W' − W)ᵀ)`` with ``H = XᵀX`` + 1 % dampening; projected gradient steps
``W' ← top_k(W' − η·2(W' − W)H)`` with ``η = 1 / (2 λ_max(H))`` (the top ``k`` entries by magnitude over the whole
layer), ``iterations = 200``, started from the ``k`` largest ``|W_ij|·sqrt(H_jj)`` (Wanda's score); the best iterate's
support is kept and every row is then set to the exact least-squares reconstruction on it
(:func:`plantseek.prune.posttraining.obs_update`, ALPS' final step). Layers in order, each on the inputs of the network
pruned and updated so far.

Changes for small networks: plain IHT with a fixed step instead of ALPS' ADMM with a penalty schedule and
preconditioned conjugate gradients (the layers here are small enough for dense solves).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.layer_reconstruction import LayerwisePruner
from plantseek.prune.posttraining import hessian, obs_update, select_layer


def reconstruction_error(w_new: torch.Tensor, w: torch.Tensor, h: torch.Tensor) -> float:
    d = w_new - w
    return float((d @ h * d).sum())


def iht_layer(w: torch.Tensor, x: torch.Tensor, k: int, iterations: int = 200,
              damping: float = 0.01) -> tuple[torch.Tensor, torch.Tensor]:
    """One layer: (keep, updated weight)."""
    h = hessian(x, damping)
    step = 1.0 / (2 * float(torch.linalg.eigvalsh(h).max()))
    keep = select_layer(w.abs() * h.diagonal().sqrt()[None, :], k)
    cur = w * keep
    best, best_err = keep, reconstruction_error(cur, w, h)
    for _ in range(iterations):
        z = cur - step * 2 * (cur - w) @ h
        keep = select_layer(z.abs(), k)
        cur = z * keep
        err = reconstruction_error(cur, w, h)
        if err < best_err:
            best, best_err = keep, err
    new = torch.stack([obs_update(w[i], h, best[i]) for i in range(w.shape[0])])
    return best, new


@dataclass
class IHTReconstruction(LayerwisePruner):
    """IHT on the layer-wise reconstruction, then least squares on the support."""

    name: str = "iht-reconstruction"
    description: str = "iterative hard thresholding of the layer-wise ℓ0-constrained reconstruction (200 steps), " \
                       "then least squares on the support (ALPS' objective)"
    iterations: int = 200

    def prune_layer(self, name, w, x, k):
        return iht_layer(w, x, k, self.iterations)


PRUNERS.register("iht-reconstruction", declared(IHTReconstruction, tags={"post-training"}, rank=6))
