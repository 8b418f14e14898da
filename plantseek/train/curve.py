"""Training curves and the time to generalise (the grokking tasks' metric, ``docs/grokking-tickets.md``).

:func:`train_with_curve` is :func:`plantseek.train.loop.train_model` (the per-network reference path: same optimiser,
learning-rate schedule and data order from the network's own generator) with one addition: every ``every`` optimiser
steps (and at step 0, before any update, and after the last step) it calls ``evaluate(model)`` under ``no_grad`` with
the mask applied, and records ``(step, value)``. Evaluation draws nothing from the generator and changes no weight, so
the trained network is the one ``train_model`` returns, and the curve does not depend on how the test set is batched
(``evaluate`` sees the whole model). :func:`first_reaching` reads the time to generalise off a curve.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

from plantseek.train.config import TrainConfig, epoch_lr
from plantseek.train.loop import Module, batches, model_optimizer
from plantseek.families.mlp.network import Mask

Curve = list[tuple[int, float]]


def train_with_curve(model: Module, mask: Mask | None, x: torch.Tensor, y: torch.Tensor, loss_fn,
                     config: TrainConfig, generator: torch.Generator, evaluate: Callable[[Module], float],
                     every: int) -> Curve:
    """Train ``model`` in place as ``train_model`` does; the curve ``[(step, evaluate(model)), ...]`` at step 0, every
    ``every`` steps and after the last step (once)."""
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be an integer >= 1, got {every!r}")
    optimizer = model_optimizer(model, config)
    curve: Curve = []

    def record(step: int) -> None:
        model.eval()
        with torch.no_grad():
            curve.append((step, float(evaluate(model))))
        model.train()

    record(0)
    step = 0
    model.train()
    for epoch in range(config.epochs):
        for group in optimizer.param_groups:
            group["lr"] = epoch_lr(config, epoch)
        for idx in batches(x.shape[0], config.batch_size, generator):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx], mask), y[idx])
            loss.backward()
            optimizer.step()
            step += 1
            if step % every == 0:
                record(step)
    if curve[-1][0] != step:
        record(step)
    if mask is not None:
        with torch.no_grad():
            for name, p in model.prunable().items():
                p.mul_(mask[name].to(p.dtype))
    model.eval()
    return curve


def first_reaching(curve: Sequence[tuple[int, float]], threshold: float) -> float:
    """The first step of ``curve`` whose value is ``>= threshold``; NaN if none does (never generalised)."""
    for step, value in curve:
        if value >= threshold:
            return float(step)
    return math.nan
