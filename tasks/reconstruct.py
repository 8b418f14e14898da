"""Reconstruction-optimal variants of the MLP tasks: ``circle-reconstruct``, ``helix-reconstruct``,
``relu-reconstruct``.

Same data, ticket and planting as the base task, then :func:`plantseek.planted.reconstruct.make_reconstruction_optimal`
rewrites the non-ticket parameters so that the dense host computes the ticket's function (non-ticket units in
cancelling groups, non-ticket weights between ticket units zero). Option ``alpha`` (default 1, in (0, 1]): the
spread of the non-ticket weights relative to the host initialisation (1: drawn like it, the hardest for magnitude;
small: the ticket is the largest weights). ``docs/reconstruction-hosts.md`` explains the construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from plantseek.families.mlp import planting
from plantseek.nets.interface import Network
from plantseek.planted.reconstruct import check_alpha, make_reconstruction_optimal
from plantseek.planted.task import TASKS
from plantseek.tasks.circle import CircleOptions, CircleTask
from plantseek.tasks.helix import HelixOptions, HelixTask
from plantseek.tasks.relu import ReLUTask
from plantseek.planted.task import TaskOptions


class ReconstructPlanting:
    """Mixin: the base task's planting, then the reconstruction-optimal rewrite with the task's ``alpha``."""

    options: Any

    def plant_into(self, target: Any, arch: Network, host: dict[str, torch.Tensor],
                   generator: torch.Generator) -> planting.PlantedHost:
        planted = super().plant_into(target, arch, host, generator)  # type: ignore[misc]
        return make_reconstruction_optimal(planted, arch, generator, self.options.alpha)  # type: ignore[arg-type]


@dataclass(frozen=True)
class CircleReconstructOptions(CircleOptions):
    alpha: float = 1.0  # spread of the non-ticket weights relative to the host initialisation

    def __post_init__(self) -> None:
        super().__post_init__()
        check_alpha(self.alpha)


@dataclass(frozen=True)
class HelixReconstructOptions(HelixOptions):
    alpha: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_alpha(self.alpha)


@dataclass(frozen=True)
class ReconstructOptions(TaskOptions):
    alpha: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_alpha(self.alpha)


@TASKS.register("circle-reconstruct")
class CircleReconstructTask(ReconstructPlanting, CircleTask):
    name = "circle-reconstruct"
    Options = CircleReconstructOptions


@TASKS.register("helix-reconstruct")
class HelixReconstructTask(ReconstructPlanting, HelixTask):
    name = "helix-reconstruct"
    Options = HelixReconstructOptions


@TASKS.register("relu-reconstruct")
class ReLUReconstructTask(ReconstructPlanting, ReLUTask):
    name = "relu-reconstruct"
    Options = ReconstructOptions
