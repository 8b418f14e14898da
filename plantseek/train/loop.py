"""Training masked networks: the per-network reference path.

``train_masks`` takes a *list* of masks for one architecture and trains each from the same initial weights
with the mask fixed (pruned weights stay exactly zero in the forward pass and get no update). The batched
engine (``plantseek.train.batched``) trains such a list as one stacked model and matches this path numerically (bit for
bit on the full-size host where the kernels allow it; to float rounding for networks compacted to their live units,
``plantseek.train.compact``).

Data order: in every epoch the training set is permuted with ``torch.randperm(n, generator=g)`` from the
network's own generator and cut into consecutive batches of ``batch_size`` (the last one may be smaller).

Adam comes in two implementations of torch's (``TrainConfig.adam_kernel``), equal up to an ulp per step:

* ``"fused"`` (default): ``torch.optim.Adam(fused=True)`` over one flat copy of all the network's parameters
  whose length is padded to a multiple of ``FLAT_ALIGN`` elements. The fused CPU kernel runs a vectorised loop
  over whole vectors and a scalar loop over the remainder of each tensor, and the two round differently (the
  vector loop uses fused multiply-adds). With the padding every element takes the vector loop, whose result
  depends on nothing but the element's own values: so the batched engine, running the same kernel over one
  flat buffer of K networks, gives bit for bit the same numbers. One pass over memory per step instead of
  eight: the optimiser stops dominating a step.
* ``"single-tensor"``: ``torch.optim.Adam``'s default CPU implementation (one torch operation after the other,
  per parameter tensor), as the paper's reference code used it.

Training is chaotic: the two drift apart over a run like two seeds of the same protocol would; neither is
more correct. A cell's ``adam_kernel`` is part of its configuration.

Any architecture of the network protocol (:mod:`plantseek.nets.interface`) trains here through the module its
``build`` returns; the batched engine serves the MLP (:class:`plantseek.families.mlp.network.Architecture`), the
stacked engine (:mod:`plantseek.train.stacked`) every other architecture.
"""

from __future__ import annotations

from typing import Sequence

import torch

from plantseek.core.errors import ConfigError
from plantseek.core.progress import tick
from plantseek.train.config import TrainConfig, epoch_lr
from plantseek.train.engine import active_engine, stacks
from plantseek.train.flat_optimizers import padded_length
from plantseek.families.mlp.network import Architecture, Mask
from plantseek.nets.interface import Network

Module = torch.nn.Module  # any module built by a network's ``build`` (see plantseek.nets.interface)


def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimiser of ``config`` over ``params`` (Adam with the per-tensor single-tensor kernel here; the
    flat fused variant is :class:`FlatOptimizer`)."""
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


class FlatOptimizer:
    """``torch.optim.Adam(fused=True)`` over one flat, padded copy of a module's parameters.

    The module's parameters become views into the flat buffer (so the optimiser's in-place update is the
    module's update); after each backward pass :meth:`step` gathers the parameters' gradients into the flat
    gradient buffer (the padding keeps zero gradients and stays zero) and runs one fused step.
    """

    def __init__(self, module: torch.nn.Module, config: TrainConfig) -> None:
        self.params = [p for p in module.parameters()]
        n = sum(p.numel() for p in self.params)
        first = self.params[0]
        self.flat = torch.nn.Parameter(torch.zeros(padded_length(n), dtype=first.dtype, device=first.device))
        self.flat.grad = torch.zeros_like(self.flat)
        self.grad_views = []
        offset = 0
        with torch.no_grad():
            for p in self.params:
                view = self.flat[offset: offset + p.numel()].view_as(p)
                view.copy_(p)
                p.data = view  # the module now reads and writes the flat buffer
                self.grad_views.append(self.flat.grad[offset: offset + p.numel()].view_as(p))
                offset += p.numel()
        self.optimizer = torch.optim.Adam([self.flat], lr=config.lr, weight_decay=config.weight_decay, fused=True)
        self.param_groups = self.optimizer.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        with torch.no_grad():
            for p, view in zip(self.params, self.grad_views):
                if p.grad is None:
                    view.zero_()
                else:
                    view.copy_(p.grad)
        self.optimizer.step()


def model_optimizer(model: torch.nn.Module, config: TrainConfig):
    """The optimiser ``train_model`` uses for ``model`` under ``config``."""
    if config.fused_adam:
        return FlatOptimizer(model, config)
    return make_optimizer(model.parameters(), config)


def batches(n: int, batch_size: int, generator: torch.Generator):
    perm = torch.randperm(n, generator=generator)
    for start in range(0, n, batch_size):
        yield perm[start : start + batch_size]


def train_model(model: Module, mask: Mask | None, x: torch.Tensor, y: torch.Tensor, loss_fn,
                config: TrainConfig, generator: torch.Generator) -> Module:
    """Train ``model`` in place with ``mask`` fixed; returns it with pruned weights set to exactly zero."""
    optimizer = model_optimizer(model, config)
    model.train()
    for epoch in range(config.epochs):
        for group in optimizer.param_groups:
            group["lr"] = epoch_lr(config, epoch)
        for idx in batches(x.shape[0], config.batch_size, generator):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx], mask), y[idx])
            loss.backward()
            optimizer.step()
        tick("train")
    if mask is not None:
        with torch.no_grad():
            for name, p in model.prunable().items():
                p.mul_(mask[name].to(p.dtype))
    model.eval()
    return model


def train_masks(arch: Network, initial_state: dict[str, torch.Tensor] | Sequence[dict[str, torch.Tensor]],
                masks: Sequence[Mask],
                x: torch.Tensor | Sequence[torch.Tensor], y: torch.Tensor | Sequence[torch.Tensor], loss_fn,
                config: TrainConfig,
                generators: Sequence[torch.Generator], dtype: torch.dtype = torch.float32, *,
                engine: str = "batched", device: str | torch.device | None = None,
                chunk: int | None = None) -> list[Module]:
    """Train one fresh copy of the initial network per mask; returns the trained modules (CPU, eval mode).

    ``initial_state``: one state for all masks, or a list with one state per mask; ``x``, ``y``: one training
    set for all masks, or lists with one per mask (networks of different instances trained together).

    ``engine="batched"`` (default) trains all masks at once as one stacked model (:mod:`plantseek.train.batched`, on
    ``device``: None = CUDA when available, else the CPU; ``chunk`` = networks stacked at once, default by
    memory); ``engine="loop"`` is the per-network reference path, one ``train_model`` after the other, on the
    CPU. Both give the same networks up to floating-point rounding and consume the generators alike. An
    architecture other than the MLP trains stacked (:mod:`plantseek.train.stacked`, engine 3 and later), or on the
    per-network path (through ``arch.build``) under an earlier engine.
    """
    if len(generators) != len(masks):
        raise ValueError("need one generator per mask")
    if engine == "batched" and isinstance(arch, Architecture):
        from plantseek.train.batched import train_masks_batched

        states = train_masks_batched(arch, initial_state, masks, x, y, loss_fn, config, generators,
                                     dtype=dtype, device=device, chunk=chunk)
        return [arch.build(s, dtype).eval() for s in states]
    if engine not in ("batched", "loop"):
        raise ConfigError(f"engine must be 'batched' or 'loop', got {engine!r}")
    if engine == "batched" and stacks(active_engine()):
        from plantseek.train.stacked import train_masks_stacked

        states = train_masks_stacked(arch, initial_state, masks, x, y, loss_fn, config, generators, dtype=dtype,
                                     chunk=chunk, device=device)
        return [arch.build(s, dtype).eval() for s in states]
    k = len(masks)
    states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state] * k
    xs = list(x) if isinstance(x, (list, tuple)) else [x] * k
    ys = list(y) if isinstance(y, (list, tuple)) else [y] * k
    if len(states) != k or len(xs) != k or len(ys) != k:
        raise ConfigError("need one initial state and training set per mask, or one for all")
    return [train_model(arch.build(st, dtype), m, xi.to(dtype), yi if not yi.is_floating_point() else yi.to(dtype),
                        loss_fn, config, g)
            for st, m, xi, yi, g in zip(states, masks, xs, ys, generators)]
