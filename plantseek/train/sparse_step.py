"""One optimiser step of K stacked sparse networks whose masks may change between steps (dynamic sparse training).

:func:`train_step` is the single place where the dynamic-sparse-training loop (:mod:`plantseek.prune.dynamic`)
spends a forward and backward pass and an optimiser update: a compute counter hooks in here, as it does in
:func:`plantseek.train.loop.train_masks` for fixed masks.

The networks' parameters are stacked ``(K, *shape)`` leaf tensors whose pruned weights are held at exactly zero,
so the forward pass needs no mask and the autograd gradient of a weight is the *dense* gradient (also at pruned
positions: RigL grows by it). Before the update the gradients of pruned weights are zeroed, and after it the
pruned weights are set to zero again (so an optimiser's momentum can never move them).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import torch

Params = dict[str, torch.Tensor]


def train_step(arch: Any, params: Params, masks: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
               idx: torch.Tensor, loss_fn: Callable, optimizer: torch.optim.Optimizer, *,
               dense_grads: bool = False) -> Params | None:
    """One step of the K networks on their batches ``x[idx[k]]``: the sum of the K mean losses (each network's
    gradient is its own), backward, masked update. Returns a copy of the dense weight gradients when
    ``dense_grads`` (for a mask update at this step), else None."""
    out = arch.forward_stacked(params, x[idx])
    loss = sum(loss_fn(out[k], y[idx[k]]) for k in range(idx.shape[0]))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grads = {n: params[n].grad.detach().clone() for n in masks} if dense_grads else None
    with torch.no_grad():
        for n, m in masks.items():
            params[n].grad.mul_(m)
        optimizer.step()
        for n, m in masks.items():
            params[n].mul_(m)
    return grads


__all__ = ["train_step"]
