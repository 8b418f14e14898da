"""Cubist Spiral: Zhang & Papyan's 2-D binary task (ICML 2024, code ``stephenqz/sparsest``), two interleaved
polygonal spirals.

**Geometry** (:func:`spiral_vertices`, :func:`cubist_spiral`), as the reference's ``CubistSpiral.py``: 17 angles
``theta = linspace(pi, 5 pi, 17) + 0.4 pi`` (the reference's phase ``1.6 / 8 * 2 pi``), radius ``r = 10 theta + pi``;
spiral A's vertices are the points ``r (cos theta, sin theta)`` moved by +15 along the radial direction, spiral B's by
-15; both are shifted so that their common minimum is 0. Points lie evenly spaced on the 16 segments of each spiral
(``int(len_i / total * n / 2)`` per segment, endpoints included), so the data set is deterministic; x is standardised
per coordinate (mean 0, unbiased std 1, over all points of both spirals); label 0 = spiral A, 1 = spiral B. Loss:
BCE with logits on the one output; metric: accuracy (logit > 0 means class 1).

**Splits**: the reference trains and measures on all points; here a seeded random ``test_fraction`` of them is held
out (:meth:`CubistSpiralTask.make_data`), and the search reports both accuracies (training points, as the
reference, and held-out points).

**Ticket**: the MLP family, depth 5 (2 -> d1 -> d2 -> d3 -> 1 with biases; the host is width 16). The planted
ticket is the sparsest trained mask the exhaustive search (:mod:`plantseek.optimum`) found, with its trained
weights, shipped as ``tasks/data/cubist_spiral_target.npz`` by ``python -m plantseek optimum ... --ticket-out``.
Until the full search finds a sparse mask at 95 %, the shipped file is the reduced search's best DENSE 3-7-7 network
(``python -m plantseek.optimum.ticket``; 96.26 % train accuracy, docs/optimum.md); without a file the task can
sample data but has no ticket (a clear error).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from plantseek.core.errors import ConfigError
from plantseek.planted.targets import TargetNetwork
from plantseek.planted.task import TASKS, DataConfig, DataSplits, Split, Task, TaskOptions

N_VERTICES = 17
OFFSET = 15.0
PHASE = 1.6 / 8 * 2 * math.pi
DEPTH = 5
TICKET_FILE = Path(__file__).parent / "data" / "cubist_spiral_target.npz"


def spiral_angles() -> np.ndarray:
    return np.linspace(math.pi, 5 * math.pi, N_VERTICES) + PHASE


def spiral_vertices() -> tuple[np.ndarray, np.ndarray]:
    """The two spirals' vertices (17 x 2 each, float64): radius ``10 theta + pi`` moved by +-15 radially."""
    theta = spiral_angles()
    radial = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    centre = (10 * theta + math.pi)[:, None] * radial
    a, b = centre + OFFSET * radial, centre - OFFSET * radial
    shift = np.minimum(a.min(axis=0), b.min(axis=0))
    return a - shift, b - shift


def segment_points(vertices: np.ndarray, n: int) -> np.ndarray:
    """About ``n / 2`` points evenly spaced on the polygon's segments, in proportion to their lengths."""
    lengths = np.linalg.norm(np.diff(vertices, axis=0), axis=1)
    prob = lengths / lengths.sum()
    parts = []
    for i in range(len(vertices) - 1):
        t = np.linspace(0.0, 1.0, int(prob[i] * n / 2))[:, None]
        parts.append(t * vertices[i] + (1 - t) * vertices[i + 1])
    return np.concatenate(parts)


def cubist_spiral(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All points (float64, standardised) and labels (float64, shape ``(m, 1)``; 0 = spiral A, 1 = spiral B)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 4 * (N_VERTICES - 1):
        raise ConfigError(f"the Cubist Spiral needs an integer number of points >= {4 * (N_VERTICES - 1)}, got {n!r}")
    a, b = spiral_vertices()
    xa, xb = segment_points(a, n), segment_points(b, n)
    x = torch.from_numpy(np.concatenate([xa, xb]))
    x = (x - x.mean(dim=0, keepdim=True)) / x.std(dim=0, keepdim=True)
    y = torch.cat([torch.zeros(len(xa)), torch.ones(len(xb))]).to(torch.float64).unsqueeze(1)
    return x, y


def split(x: torch.Tensor, y: torch.Tensor, test_fraction: float,
          generator: torch.Generator) -> tuple[Split, Split]:
    """A seeded random held-out split: (train, test)."""
    perm = torch.randperm(x.shape[0], generator=generator)
    n_test = int(round(x.shape[0] * test_fraction))
    te, tr = perm[:n_test], perm[n_test:]
    return Split(x[tr], y[tr]), Split(x[te], y[te])


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float(((logits > 0).to(y.dtype) == y).to(torch.float64).mean())


@TASKS.register("cubist-spiral")
class CubistSpiralTask(Task):
    name = "cubist-spiral"
    in_features = 2
    out_features = 1
    kind = "classification"
    min_depth = DEPTH
    Options = TaskOptions

    def check_depth(self, depth: int) -> None:
        if isinstance(depth, bool) or not isinstance(depth, int) or depth != DEPTH:
            raise ConfigError(f"depth must be {DEPTH} for task 'cubist-spiral' (2 -> d1 -> d2 -> d3 -> 1), "
                              f"got {depth!r}")

    def target(self, depth: int) -> TargetNetwork:
        self.check_depth(depth)
        if not TICKET_FILE.is_file():
            raise ConfigError(f"task 'cubist-spiral' has no planted ticket yet: {TICKET_FILE.name} is missing "
                              f"(write it with python -m plantseek optimum --ticket-out)")
        with np.load(TICKET_FILE) as f:
            n = int(f["n_layers"])
            weights = [f[f"w{i}"] for i in range(n)]
            biases = [f[f"b{i}"] for i in range(n)]
            note = str(f["description"])
        return TargetNetwork(weights, biases, description=note)

    def sample(self, n: int, generator: torch.Generator) -> Split:
        raise ConfigError("task 'cubist-spiral' has a fixed point set: its splits come from make_data")

    def make_data(self, config: DataConfig, generator: torch.Generator) -> DataSplits:
        x, y = cubist_spiral(config.n_samples)
        train, test = split(x, y, config.test_fraction, generator)
        return DataSplits(train=train, val=Split(x[:0].clone(), y[:0].clone()), test=test)

    def loss(self, output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.binary_cross_entropy_with_logits(output, y.to(output.dtype))

    def metric(self, output: torch.Tensor, y: torch.Tensor) -> float:
        return accuracy(output, y)

    @property
    def metric_name(self) -> str:
        return "accuracy"
