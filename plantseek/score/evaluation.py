"""Evaluating masks and trained networks.

**Strong tickets** (a mask on the host's *initial* weights) are evaluated scale-correctly: planting multiplies
output k of the ticket by a tiny positive factor ``scales[k]`` (1e-5..1e-11), one per output, so the host's
readout divides output k by ``scales[k]`` before the loss or metric is taken. The exact planted mask then scores
exactly the target's own performance (up to float64 rounding), for regression and classification alike; raw
logits would not (each logit carries its own factor, so their argmax is meaningless). The same readout is
applied to every mask, so all strong tickets are judged on the same footing. Evaluation runs in float64.

**Weak tickets** (a mask whose weights were then trained) are evaluated on their raw outputs: training fits the
output scale itself.

The host is reached through its architecture's network protocol (:mod:`plantseek.nets.protocol`): ``forward``
for one mask, ``forward_stacked`` for many.
"""

from __future__ import annotations

from typing import Sequence

import torch

from plantseek.planted.instance import PlantedInstance
from plantseek.prune.masks import Mask


def _split(instance: PlantedInstance, split: str):
    if split not in ("train", "val", "test"):
        raise ValueError(f"unknown split {split!r}")
    return getattr(instance.data, split)


@torch.no_grad()
def strong_outputs(instance: PlantedInstance, mask: Mask | None, x: torch.Tensor) -> torch.Tensor:
    """Scale-corrected float64 outputs of the host at its initial weights restricted to ``mask``."""
    return instance.arch.forward(instance.initial_state, x.double(), mask) / instance.scales


def strong_metric(instance: PlantedInstance, mask: Mask | None, split: str = "test") -> float:
    """Task metric of ``mask`` as a strong ticket (None = the dense host)."""
    s = _split(instance, split)
    return instance.task.metric(strong_outputs(instance, mask, s.x), s.y)


def ticket_metric(instance: PlantedInstance, split: str = "test") -> float:
    """The planted ticket's strong metric (the reference every method is compared with)."""
    return strong_metric(instance, instance.ticket, split)


def target_metric(instance: PlantedInstance, split: str = "test") -> float:
    """The target network's own metric (computed without the host)."""
    s = _split(instance, split)
    return instance.task.metric(torch.from_numpy(instance.target(s.x.numpy())), s.y)


@torch.no_grad()
def model_metric(instance: PlantedInstance, model: torch.nn.Module, mask: Mask | None = None,
                 split: str = "test") -> float:
    """Task metric of a (trained) model's raw outputs."""
    s = _split(instance, split)
    dtype = next(model.parameters()).dtype
    return instance.task.metric(model(s.x.to(dtype), mask).double(), s.y)


def _stacked_masks(masks: Sequence[Mask | None], name: str, shape) -> torch.Tensor | None:
    """(K, *shape) float64 0/1 stack of entry ``name`` of every mask (ones where a mask lacks it or is None),
    or None when no mask has the entry."""
    if not any(m is not None and name in m for m in masks):
        return None
    ones = torch.ones(shape, dtype=torch.float64)
    return torch.stack([m[name].double() if m is not None and name in m else ones for m in masks])


@torch.no_grad()
def strong_outputs_batched(instance: PlantedInstance, masks: Sequence[Mask | None], x: torch.Tensor) -> torch.Tensor:
    """Scale-corrected float64 outputs (K, n, out) of the host at its initial weights restricted to each mask:
    :func:`strong_outputs` for K masks in one pass (one batched product per layer)."""
    arch, k = instance.arch, len(masks)
    state = instance.initial_state
    params = {n: state[n].double().expand(k, *state[n].shape) for n in arch.parameter_shapes()}
    maskable = {**arch.prunable_shapes(), **arch.bias_shapes()}
    stacked = {n: m for n, shape in maskable.items() if (m := _stacked_masks(masks, n, shape)) is not None}
    h = arch.forward_stacked(params, x.double().unsqueeze(0).expand(k, *x.shape), stacked)
    return h / instance.scales


def strong_metrics_batched(instance: PlantedInstance, masks: Sequence[Mask | None], split: str = "test",
                           chunk: int | None = None) -> list[float]:
    """:func:`strong_metrics` (scale-corrected strong-ticket metric of every mask; None = dense host) evaluated
    for all masks of one instance in batched float64 passes of ``chunk`` masks (default: about 256 MiB each)."""
    s = _split(instance, split)
    masks = list(masks)
    if not masks:
        return []
    if chunk is None:
        widest = max(instance.arch.structure().groups.values())
        per_mask = 8 * (2 * instance.arch.n_prunable + 2 * len(s) * widest)
        chunk = max(1, (256 * 1024**2) // per_mask)
    out: list[float] = []
    for lo in range(0, len(masks), chunk):
        outputs = strong_outputs_batched(instance, masks[lo: lo + chunk], s.x)
        out += [instance.task.metric(o, s.y) for o in outputs]
    return out
