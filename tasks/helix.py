"""Helix: regression 1 -> 3. t = 5pi + 3pi x; f = (t cos t, t sin t, t) / (8 pi), plus Gaussian noise.

Ticket (float64), by depth L:

* L = 3: 1 -> n -> 3, piecewise-linear (PL) units on x in [-1, 1] (n knots, default 30).
* L = 4: 1 -> 1 -> n -> 3, first unit z = relu(x + 1) in [0, 2], PL units on z.
* L >= 5: 1 -> 1 -> n -> 3 -> 3 x (L-5) -> 3: the PL layer's outputs are shifted by c_k >= 0 so that they are
  non-negative (g_k = f_k + c_k), identity layers of 3 units carry them, and the output layer subtracts c_k.

f3 is linear, so its slope changes are zero up to rounding (~1e-15): those are not ticket weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from plantseek.planted.targets import PiecewiseLinear, TargetNetwork
from plantseek.planted.task import TASKS, Task, TaskOptions, check_positive_int


def helix(x):
    t = 5 * math.pi + 3 * math.pi * np.asarray(x, dtype=np.float64)
    return np.stack([t * np.cos(t), t * np.sin(t), t], axis=-1) / (8 * math.pi)


@dataclass(frozen=True)
class HelixOptions(TaskOptions):
    knots: int = 30

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("knots", self.knots)


@TASKS.register("helix")
class HelixTask(Task):
    name = "helix"
    in_features = 1
    out_features = 3
    kind = "regression"
    Options = HelixOptions

    def clean_labels(self, x: torch.Tensor) -> torch.Tensor:
        t = 5 * math.pi + 3 * math.pi * x[:, 0]
        return torch.stack([t * torch.cos(t), t * torch.sin(t), t], dim=1) / (8 * math.pi)

    def add_noise(self, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return y + self.options.noise * torch.randn(y.shape, generator=generator, dtype=y.dtype)

    def target(self, depth: int) -> TargetNetwork:
        self.check_depth(depth)
        n = self.options.knots
        weights: list[np.ndarray] = []
        biases: list[np.ndarray] = []
        if depth == 3:
            lo, hi, shift = -1.0, 1.0, 0.0
        else:
            weights.append(np.ones((1, 1)))
            biases.append(np.ones(1))  # z = relu(x + 1)
            lo, hi, shift = 0.0, 2.0, -1.0
        blocks = [PiecewiseLinear.fit(lambda z, k=k: helix(z + shift)[k], lo, hi, n) for k in range(3)]
        weights.append(blocks[0].in_weights[:, None].copy())
        biases.append(blocks[0].in_biases.copy())
        out_w = np.stack([blk.out_weights for blk in blocks])
        out_b = np.array([blk.out_bias for blk in blocks])
        if depth <= 4:
            weights.append(out_w)
            biases.append(out_b)
        else:
            grid = np.linspace(lo, hi, n + 1)
            lowest = helix(grid + shift).min(axis=0)
            offset = np.maximum(0.0, -lowest) + 0.1  # g_k = f_k + c_k stays positive on the domain
            weights.append(out_w)
            biases.append(out_b + offset)
            for _ in range(depth - 5):
                weights.append(np.eye(3))
                biases.append(np.zeros(3))
            weights.append(np.eye(3))
            biases.append(-offset)
        return TargetNetwork(weights, biases, description=f"helix ticket, depth {depth}, {n} knots")
