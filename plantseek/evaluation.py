"""Evaluating masks and trained networks.

**Strong tickets** (a mask on the host's *initial* weights) are evaluated scale-correctly: planting multiplies
output k of the ticket by a tiny positive factor ``scales[k]`` (1e-5..1e-11), one per output, so the host's
readout divides output k by ``scales[k]`` before the loss or metric is taken. The exact planted mask then scores
exactly the target's own performance (up to float64 rounding), for regression and classification alike; raw
logits would not (each logit carries its own factor, so their argmax is meaningless). The same readout is
applied to every mask, so all strong tickets are judged on the same footing. Evaluation runs in float64.

**Weak tickets** (a mask whose weights were then trained) are evaluated on their raw outputs: training fits the
output scale itself.
"""

from __future__ import annotations

from typing import Sequence

import torch

from .instance import PlantedInstance
from .models import Mask, forward_state


def _split(instance: PlantedInstance, split: str):
    if split not in ("train", "val", "test"):
        raise ValueError(f"unknown split {split!r}")
    return getattr(instance.data, split)


@torch.no_grad()
def strong_outputs(instance: PlantedInstance, mask: Mask | None, x: torch.Tensor) -> torch.Tensor:
    """Scale-corrected float64 outputs of the host at its initial weights restricted to ``mask``."""
    return forward_state(instance.initial_state, x.double(), mask) / instance.scales


def strong_metric(instance: PlantedInstance, mask: Mask | None, split: str = "test") -> float:
    """Task metric of ``mask`` as a strong ticket (None = the dense host)."""
    s = _split(instance, split)
    return instance.task.metric(strong_outputs(instance, mask, s.x), s.y)


def strong_metrics(instance: PlantedInstance, masks: Sequence[Mask], split: str = "test") -> list[float]:
    return [strong_metric(instance, m, split) for m in masks]


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
