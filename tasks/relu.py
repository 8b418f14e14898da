"""ReLU regression: y = relu(x1) + noise. Ticket: a path of weight 1 with zero biases (depth - 1 weights)."""

from __future__ import annotations

import numpy as np
import torch

from plantseek.planted.targets import TargetNetwork
from plantseek.planted.task import TASKS, Task


@TASKS.register("relu")
class ReLUTask(Task):
    name = "relu"
    in_features = 1
    out_features = 1
    kind = "regression"

    def clean_labels(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x[:, :1])

    def add_noise(self, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return y + self.options.noise * torch.randn(y.shape, generator=generator, dtype=y.dtype)

    def target(self, depth: int) -> TargetNetwork:
        self.check_depth(depth)
        layers = depth - 1
        return TargetNetwork(
            weights=[np.ones((1, 1)) for _ in range(layers)],
            biases=[np.zeros(1) for _ in range(layers)],
            description=f"path of {layers} unit weights, zero biases",
        )
