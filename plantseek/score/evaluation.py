"""Evaluating masks and trained networks.

**Strong tickets** (a mask on the host's *initial* weights) are read out through a readout fitted for each mask
on the training split (:mod:`plantseek.score.strong_readout`: per output, least-squares scale and offset for regression,
minimum cross-entropy scale and offset for classification). Planting multiplies output k of the ticket by a tiny
positive factor ``scales[k]`` (1e-3..1e-11), so raw outputs are meaningless (raw logits each carry their own
factor); the fitted readout recovers the factor for the exact ticket, which then scores the target network's own
performance, and gives every other mask the best readout of what it computes: a collapsed (constant) network
scores the best constant predictor. Evaluation runs in float64.

The **planted-scale readout** (output k divided by the planted ``scales[k]``, the same for every mask) is kept as
a second number (:func:`planted_scale_metric`, stored per cell in ``metrics["strong_metric_planted_scales"]``): it
is exact for the planted ticket (tests of planting use it) and misleading for every other mask (regression MSEs
of 1e3..1e12).

**Weak tickets** (a mask whose weights were then trained) are evaluated on their raw outputs: training fits the
output scale itself.

The host is reached through its architecture's network protocol (:mod:`plantseek.nets.interface`): ``forward``
for one mask, ``forward_stacked`` for many.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from plantseek.planted.instance import PlantedInstance
from plantseek.nets.masks import Mask
from plantseek.score.strong_readout import fit_readout


def _split(instance: PlantedInstance, split: str):
    if split not in ("train", "val", "test"):
        raise ValueError(f"unknown split {split!r}")
    return getattr(instance.data, split)


@torch.no_grad()
def strong_outputs(instance: PlantedInstance, mask: Mask | None, x: torch.Tensor) -> torch.Tensor:
    """Planted-scale float64 outputs of the host at its initial weights restricted to ``mask``: raw outputs
    divided by the planted per-output factors."""
    return raw_outputs(instance, mask, x) / instance.scales


@torch.no_grad()
def raw_outputs(instance: PlantedInstance, mask: Mask | None, x: torch.Tensor) -> torch.Tensor:
    """Raw float64 outputs of the host at its initial weights restricted to ``mask``."""
    return instance.arch.forward(instance.initial_state, x.double(), mask)


def strong_metric(instance: PlantedInstance, mask: Mask | None, split: str = "test") -> float:
    """Task metric of ``mask`` as a strong ticket (None = the dense host), through its readout fitted on the
    training split (:mod:`plantseek.score.strong_readout`)."""
    s, train = _split(instance, split), instance.data.train
    readout = fit_readout(raw_outputs(instance, mask, train.x), train.y, instance.task.kind)
    return instance.task.metric(readout(raw_outputs(instance, mask, s.x)), s.y)


def planted_scale_metric(instance: PlantedInstance, mask: Mask | None, split: str = "test") -> float:
    """Task metric of ``mask`` read out with the planted per-output factors (exact for the planted ticket)."""
    s = _split(instance, split)
    return instance.task.metric(strong_outputs(instance, mask, s.x), s.y)


def ticket_metric(instance: PlantedInstance, split: str = "test") -> float:
    """The planted ticket's strong metric through its fitted readout (the reference every method is compared
    with, read out as every mask is)."""
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
def raw_outputs_batched(instance: PlantedInstance, masks: Sequence[Mask | None], x: torch.Tensor) -> torch.Tensor:
    """Raw float64 outputs (K, n, out) of the host at its initial weights restricted to each mask:
    :func:`raw_outputs` for K masks in one pass (the architecture's stacked forward)."""
    arch, k = instance.arch, len(masks)
    state = instance.initial_state
    params = {n: state[n].double().expand(k, *state[n].shape) for n in arch.parameter_shapes()}
    maskable = {**arch.prunable_shapes(), **arch.bias_shapes()}
    stacked = {n: m for n, shape in maskable.items() if (m := _stacked_masks(masks, n, shape)) is not None}
    return arch.forward_stacked(params, x.double().unsqueeze(0).expand(k, *x.shape), stacked)


def strong_outputs_batched(instance: PlantedInstance, masks: Sequence[Mask | None], x: torch.Tensor) -> torch.Tensor:
    """Planted-scale float64 outputs (K, n, out): :func:`strong_outputs` for K masks in one pass."""
    return raw_outputs_batched(instance, masks, x) / instance.scales


def paper_readout(z: torch.Tensor, kind: str) -> torch.Tensor:
    """The paper's edge-popup model's outputs from raw outputs ``z`` (..., outputs): a softmax after every output.
    Classification reads the class from the raw logits (a softmax keeps their order); a regression output is the
    softmax itself (one output: always 1), which no regression ticket survives. The reproduction's
    ``paper-readout`` variant (``docs/reproducing-the-paper.md``), never the cell's strong metric."""
    return torch.softmax(z, dim=-1) if kind == "regression" else z


@dataclass(frozen=True)
class StrongScore:
    """A mask's strong-ticket metric through its fitted readout, through the planted factors, and through the
    paper's readout (:func:`paper_readout`)."""

    metric: float
    planted_scales: float
    paper_readout: float = float("nan")


def strong_scores_batched(instance: PlantedInstance, masks: Sequence[Mask | None], split: str = "test",
                          chunk: int | None = None) -> list[StrongScore]:
    """The strong scores of every mask of one instance (None = the dense host), in batched float64 passes of
    ``chunk`` masks (default: about 256 MiB of outputs and parameters each)."""
    s, train, task = _split(instance, split), instance.data.train, instance.task
    masks = list(masks)
    if chunk is None:
        widest = max(instance.arch.structure().groups.values())
        per_mask = 8 * (2 * instance.arch.n_prunable + 2 * (len(s) + len(train)) * widest)
        chunk = max(1, (256 * 1024**2) // per_mask)
    out: list[StrongScore] = []
    for lo in range(0, len(masks), chunk):
        part = masks[lo: lo + chunk]
        fitted_on, evaluated = raw_outputs_batched(instance, part, train.x), raw_outputs_batched(instance, part, s.x)
        for z_train, z in zip(fitted_on, evaluated):
            readout = fit_readout(z_train, train.y, task.kind)
            out.append(StrongScore(task.metric(readout(z), s.y), task.metric(z / instance.scales, s.y),
                                   task.metric(paper_readout(z, task.kind), s.y)))
    return out


def strong_metrics_batched(instance: PlantedInstance, masks: Sequence[Mask | None], split: str = "test",
                           chunk: int | None = None) -> list[float]:
    """:func:`strong_metric` of every mask (through its fitted readout), batched: see
    :func:`strong_scores_batched`."""
    return [score.metric for score in strong_scores_batched(instance, masks, split, chunk)]
