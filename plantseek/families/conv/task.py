"""The base of convolutional tasks: image inputs, a convolutional host
(:mod:`plantseek.families.conv.network`) and conv planting.

A subclass sets ``kind``, ``out_features`` and implements :meth:`ConvTask.geometry` (the host's conv layers for a
depth and width, and the image side and channels), :meth:`ConvTask.target` (a :class:`ConvTarget` of that geometry)
and :meth:`ConvTask.sample` (seeded, vectorised images ``(n, C, H, W)`` and labels). Everything else (data splits,
loss, metric, instance files) is the :class:`plantseek.planted.task.Task` machinery; ``depth`` counts the input, the
conv layers and the output (an MLP's convention: ``depth - 2`` conv layers), ``width`` is the host's channels per conv
layer.
"""

from __future__ import annotations

from typing import Any

import torch

from plantseek.families.conv.network import ConvArchitecture
from plantseek.nets.interface import bias_name, weight_name
from plantseek.families.conv.planting import ConvTarget, check_conv_fits, plant_conv_target
from plantseek.planted.matching import PlantedHost
from plantseek.planted.task import Split, Task


class ConvTask(Task):
    """A task whose host is a :class:`ConvArchitecture` (see the module docstring)."""

    family = "conv"

    in_features = 1  # input channels (the CLI's "in -> out" listing)

    def geometry(self, depth: int, width: int) -> ConvArchitecture:
        raise NotImplementedError

    def target(self, depth: int) -> ConvTarget:
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator) -> Split:
        raise NotImplementedError

    def host_architecture(self, depth: int, width: int) -> ConvArchitecture:
        self.check_depth(depth)
        return self.geometry(depth, width)

    def check_fits(self, depth: int, width: int) -> None:
        check_conv_fits(self.target(depth), self.host_architecture(depth, width))

    def plant_into(self, target: Any, arch: Any, host: dict[str, torch.Tensor],
                   generator: torch.Generator) -> PlantedHost:
        return plant_conv_target(target, arch, host, generator)

    def saved_target(self, saved: dict[str, Any], depth: int) -> ConvTarget:
        target = self.target(depth)
        params = {}
        for l, (w, b) in enumerate(zip(saved["weights"], saved["biases"])):
            params[weight_name(l)], params[bias_name(l)] = w, b
        return ConvTarget(target.arch, params, saved["description"], factors=target.factors)
