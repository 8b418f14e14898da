"""Circle: 4-class classification by the radius r = x1^2 + x2^2, boundaries at r = 0.2, 0.5, 0.7.

Label noise: with probability ``noise`` a label is replaced by an adjacent ring's class.

Ticket (float64), by depth L (layer widths from input to output):

* L = 3: 2 -> 2n -> 4. Piecewise-linear (PL) x^2 of each input on [-1, 1] (n knots per component).
* L = 4: 2 -> 4 -> 2n -> 4. First layer relu(+-x_i) (so |x_i| = sum of two units), PL of |x_i| on [0, c].
* L >= 5: 2 -> 4 -> 3 x (L-5) -> 2 -> 2n -> 4. After the |x| layer come L-5 *mirroring* layers: layer k folds
  the point across the line at angle pi/2^(k+1) of its current frame with 3 units relu(a.p), relu(n.p),
  relu(-n.p) (a along the line, n its normal), so the next frame is (a.p, |n.p|); folding keeps the radius and
  shrinks the second coordinate's range. A 2-unit layer then holds the two coordinates, the PL layer
  approximates x^2 of each, and the 4 logits are a_k * R + b_k with slopes a = 5, 10, 20, 40 and biases that
  put the crossings of consecutive logits at the class boundaries.

PL domains start at 0 (coordinates are non-negative) and end at min(coordinate bound, ``pl_end``): only r <= 0.7
decides a class, so the knots are spent where it matters; beyond the end the interpolant continues with its
last slope, which keeps R above the last boundary. Weight counts at width >= 20 with n = 10: 100, 124, 108,
119 for L = 3..6, then +9 per extra mirroring layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from plantseek.core.errors import ConfigError
from plantseek.planted.targets import PiecewiseLinear, TargetNetwork
from plantseek.planted.task import TASKS, Task, TaskOptions, check_positive_int

BOUNDARIES = (0.2, 0.5, 0.7)
SLOPES = (5.0, 10.0, 20.0, 40.0)


@dataclass(frozen=True)
class CircleOptions(TaskOptions):
    max_noise = 1.0
    noise_meaning = "the probability that a label flips"
    knots: int = 10  # PL knots per input component
    pl_end: float = 0.9  # end of the PL domain for non-negative coordinates (sqrt(0.7) = 0.837)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("knots", self.knots)
        if not self.pl_end > math.sqrt(BOUNDARIES[-1]):
            raise ConfigError(f"pl_end must exceed sqrt({BOUNDARIES[-1]}), got {self.pl_end!r}")


def logit_biases() -> np.ndarray:
    b = [0.0]
    for k, boundary in enumerate(BOUNDARIES, start=1):
        b.append(b[-1] - (SLOPES[k] - SLOPES[k - 1]) * boundary)
    return np.asarray(b)


@TASKS.register("circle")
class CircleTask(Task):
    name = "circle"
    in_features = 2
    out_features = 4
    kind = "classification"
    Options = CircleOptions

    def clean_labels(self, x: torch.Tensor) -> torch.Tensor:
        r = (x[:, :2] ** 2).sum(dim=1)
        return torch.bucketize(r, torch.tensor(BOUNDARIES, dtype=r.dtype), right=True)

    def add_noise(self, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        flip = torch.rand(y.shape, generator=generator, dtype=torch.float64) < self.options.noise
        up = torch.rand(y.shape, generator=generator, dtype=torch.float64) < 0.5
        step = torch.where(up, 1, -1)
        step = torch.where(y == 0, 1, torch.where(y == 3, -1, step))
        return torch.where(flip, y + step, y)

    def target(self, depth: int) -> TargetNetwork:
        self.check_depth(depth)
        n = self.options.knots
        weights: list[np.ndarray] = []
        biases: list[np.ndarray] = []

        def add(w, b):
            weights.append(np.asarray(w, dtype=np.float64))
            biases.append(np.asarray(b, dtype=np.float64))

        if depth == 3:
            coords = np.eye(2)  # the coordinates as linear maps of the previous layer (the input)
            domains = [(-1.0, 1.0), (-1.0, 1.0)]
        else:
            add([[1, 0], [-1, 0], [0, 1], [0, -1]], np.zeros(4))  # relu(+-x_i)
            coords = np.array([[1.0, 1, 0, 0], [0, 0, 1, 1]])  # |x1|, |x2|
            bounds = [1.0, 1.0]
            n_mirrors = max(0, depth - 5)
            for k in range(1, n_mirrors + 1):
                theta = math.pi / 2 ** (k + 1)
                a = np.array([math.cos(theta), math.sin(theta)])
                nrm = np.array([-math.sin(theta), math.cos(theta)])
                add(np.stack([a @ coords, nrm @ coords, -(nrm @ coords)]), np.zeros(3))
                coords = np.array([[1.0, 0, 0], [0, 1, 1]])
                bounds = [math.hypot(*bounds), math.hypot(*bounds) * math.sin(theta)]
            if depth >= 5:
                add(coords, np.zeros(2))  # hold the two coordinates
                coords = np.eye(2)
            domains = [(0.0, min(b, self.options.pl_end)) for b in bounds]

        blocks = [PiecewiseLinear.fit(lambda t: t * t, lo, hi, n) for lo, hi in domains]
        w_pl = np.concatenate([np.outer(blk.in_weights, coords[c]) for c, blk in enumerate(blocks)])
        b_pl = np.concatenate([blk.in_biases for blk in blocks])
        add(w_pl, b_pl)
        r_weights = np.concatenate([blk.out_weights for blk in blocks])
        r_bias = sum(blk.out_bias for blk in blocks)
        slopes = np.asarray(SLOPES)
        add(np.outer(slopes, r_weights), slopes * r_bias + logit_biases())
        return TargetNetwork(weights, biases, description=f"circle ticket, depth {depth}, {n} knots per component")
