"""Sanity ablations of a pruner's mask: the controls a method should beat.

A cell's ``ablation`` field (data, never parsed from a label) says which one it is:

* ``""``: the pruner's own mask on the planted host;
* ``"shuffled"``: the same mask with every layer's kept positions permuted at random (same per-layer counts),
  on the planted host;
* ``"reinit"``: the same mask on a re-initialised host of the same architecture (nothing planted); its strong
  metric is not defined (the host's weights are not the planted ones), only its weak metric.
"""

from __future__ import annotations

import torch

from plantseek.core import seeding
from plantseek.core.types import Mask
from plantseek.planted.instance import PlantedInstance
from plantseek.records.cells import CellConfig

ABLATIONS = ("shuffled", "reinit")


def ablate(mask: Mask, ablation: str, generator: torch.Generator) -> Mask:
    """The mask a cell evaluates. ``shuffled``: every layer's entries permuted at random (same per-layer
    counts); any other ablation: the mask itself (``reinit`` changes the host, not the mask)."""
    if ablation == "shuffled":
        out = {}
        for name, m in mask.items():
            flat = m.reshape(-1)
            out[name] = flat[torch.randperm(flat.numel(), generator=generator)].reshape(m.shape)
        return out
    return mask


def ablation_generator(cell: CellConfig) -> torch.Generator:
    """The seeded generator of a cell's ablation (one per (seed, pruner, density, ablation))."""
    return seeding.generator(cell.seed, "ablation", cell.pruner, cell.density, cell.ablation)


def reinitialised_host(instance: PlantedInstance, seed: int) -> dict[str, torch.Tensor]:
    """A fresh random host of the same architecture (nothing planted), for the ``reinit`` ablation."""

    return instance.arch.init(seeding.generator(seed, "reinit-host", *instance.arch.widths))


def host_for(cell: CellConfig, instance: PlantedInstance) -> dict[str, torch.Tensor]:
    """The initial weights a cell's mask is applied to: the planted host, or a re-initialised one."""
    return reinitialised_host(instance, cell.seed) if cell.ablation == "reinit" else instance.initial_state


def has_strong_metric(cell: CellConfig) -> bool:
    """Whether a cell's mask is scored as a strong ticket (not on a re-initialised host)."""
    return cell.ablation != "reinit"
