"""Found-in-random tasks: the target is a mask over the host's random weights (SubsetSum; ``docs/found-in-random.md``).

* ``relu-subsetsum``: ReLU's data (y = relu(x1) + noise); target: a path of ``L`` unit weights, zero biases.
* ``abs-subsetsum``: y = |x1| - 0.5 |x2| + noise (2 inputs); target: 2 -> 4 (relu(+-x1), relu(+-x2)) -> 4 x (L - 2)
  identity layers -> 1, zero biases.

A host of depth ``2 L + 1`` holds a target of ``L`` layers: each target layer is two host layers
(:mod:`plantseek.planted.subsetsum`). Options: ``candidates`` (random units per target input, half of each sign;
more: a smaller error and a sparser ticket in a wider host), ``epsilon`` (the largest subset-sum error allowed, in
target units), ``copies`` (edge-disjoint tickets, each computing the target: the multiple-ticket setting).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from plantseek.core.errors import ConfigError
from plantseek.planted import subsetsum
from plantseek.families.mlp.network import Architecture
from plantseek.nets.interface import Network
from plantseek.planted.matching import PlantedHost
from plantseek.planted.targets import TargetNetwork
from plantseek.planted.task import TASKS, Task, TaskOptions, check_positive_int


@dataclass(frozen=True)
class SubsetSumOptions(TaskOptions):
    candidates: int = 32  # random units per target input (half with a positive, half with a negative weight)
    epsilon: float = 0.01  # the largest subset-sum error allowed per target weight, in target units
    copies: int = 1  # edge-disjoint planted tickets

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("candidates", self.candidates)
        check_positive_int("copies", self.copies)
        if self.candidates % 2 or not 2 <= self.candidates <= 2 * subsetsum.MAX_HALF:
            raise ConfigError(f"candidates must be an even integer in [2, {2 * subsetsum.MAX_HALF}], "
                              f"got {self.candidates!r}")
        e = self.epsilon
        if isinstance(e, bool) or not isinstance(e, (int, float)) or not (math.isfinite(e) and 0 < e <= 1):
            raise ConfigError(f"epsilon must be a number in (0, 1], got {e!r}")


class SubsetSumTask(Task):
    """A task whose ticket is found in the random host (no host weight changed); a host of depth 2 L + 1."""

    min_depth = 5
    Options = SubsetSumOptions

    @property
    def plan(self) -> subsetsum.SubsetSumPlan:
        o = self.options
        return subsetsum.SubsetSumPlan(o.candidates, o.epsilon, o.copies)

    def check_depth(self, depth: int) -> None:
        super().check_depth(depth)
        if depth % 2 == 0:
            raise ConfigError(f"depth must be odd for task {self.name!r} (each target layer is two host layers), "
                              f"got {depth!r}")

    def target_layers(self, layers: int) -> TargetNetwork:
        raise NotImplementedError

    def target(self, depth: int) -> TargetNetwork:
        self.check_depth(depth)
        return self.target_layers((depth - 1) // 2)

    def check_fits(self, depth: int, width: int) -> None:
        subsetsum.check_fits(self.target(depth), Architecture.mlp(self.in_features, self.out_features, depth, width),
                             self.plan)

    def host_architecture(self, depth: int, width: int) -> Network:
        return Architecture.mlp(self.in_features, self.out_features, depth, width)

    def plant_into(self, target: Any, arch: Network, host: dict[str, torch.Tensor],
                   generator: torch.Generator) -> PlantedHost:
        assert isinstance(arch, Architecture)
        return subsetsum.plant_subsetsum(target, arch, host, generator, self.plan)

    def add_noise(self, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return y + self.options.noise * torch.randn(y.shape, generator=generator, dtype=y.dtype)


@TASKS.register("relu-subsetsum")
class ReLUSubsetSumTask(SubsetSumTask):
    name = "relu-subsetsum"
    in_features = 1
    out_features = 1
    kind = "regression"

    def clean_labels(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x[:, :1])

    def target_layers(self, layers: int) -> TargetNetwork:
        return TargetNetwork([np.ones((1, 1)) for _ in range(layers)], [np.zeros(1) for _ in range(layers)],
                             description=f"path of {layers} unit weights, zero biases", factors="least-squares")


#: abs-subsetsum's readout: y = |x1| - 0.5 |x2|
ABS_READOUT = np.array([[1.0, 1.0, -0.5, -0.5]])


@TASKS.register("abs-subsetsum")
class AbsSubsetSumTask(SubsetSumTask):
    name = "abs-subsetsum"
    in_features = 2
    out_features = 1
    kind = "regression"

    def clean_labels(self, x: torch.Tensor) -> torch.Tensor:
        return (x[:, :1].abs() - 0.5 * x[:, 1:2].abs()).to(x.dtype)

    def target_layers(self, layers: int) -> TargetNetwork:
        first = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
        weights = [first, *[np.eye(4) for _ in range(layers - 2)], ABS_READOUT.copy()]
        return TargetNetwork(weights, [np.zeros(w.shape[0]) for w in weights],
                             description=f"relu(+-x1), relu(+-x2), {layers - 2} identity layer(s), readout "
                             "|x1| - 0.5 |x2|; zero biases", factors="least-squares")


