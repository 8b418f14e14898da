"""Circle: 4-class classification by the radius r = x1^2 + x2^2, boundaries at r = 0.2, 0.5, 0.7.

Label noise: with probability ``noise`` a label is replaced by an adjacent ring's class.

Ticket (float64), by depth L (layer widths from input to output):

* L = 3: 2 -> 2n -> 4. Piecewise-linear (PL) x^2 of each input on [-1, 1] (n knots per component).
* L = 4: 2 -> 4 -> 2n -> 4. First layer x_i + 1 (always active) and relu(-x_i); the PL layer squares
  |x_i| = (x_i + 1) + 2 relu(-x_i) - 1 on [0, c] (the reference has relu(+-x_i) and |x_i| as their sum: same
  neurons and weights per layer; the always-active unit lets planting give the PL knot offsets a host-sized shift).
* L >= 5: 2 -> 4 -> 2 -> 3 x (L-5) -> 2n -> 4. The |x| layer, a 2-unit layer holding |x1|, |x2|, then L-5
  *mirroring* layers: layer k folds the point across the line at angle pi/2^(k+1) of its current frame with 3
  units relu(a.p), relu(n.p), relu(-n.p) (a along the line, n its normal), so the next frame is (a.p, |n.p|);
  folding keeps the radius and shrinks the second coordinate's range. The last mirroring layer holds y' + B
  (always active) instead of relu(n.p). The PL layer approximates x^2 of each coordinate (L = 5: n units each;
  L >= 6: split between x' and |y'| as the reference, :func:`knot_split`), and the 4 logits are a_k * R + b_k
  with slopes a = 5, 10, 20, 40 and biases that put the crossings of consecutive logits at the class boundaries,
  minus ``READOUT_SHIFT * R`` in every logit (the class is unchanged; the readout's weights mix signs).

PL domains start at 0 (coordinates are non-negative) and end at min(coordinate bound, ``pl_end``): only r <= 0.7
decides a class, so the knots are spent where it matters; beyond the end the interpolant continues with its
last slope, which keeps R above the last boundary. Weight counts at width >= 20 with n = 10, as the paper's
reference: 100, 124, 108, 119 for L = 3..6, then +9 per extra mirroring layer from 126 at L = 7 (153 at L = 10).
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


#: the readout's common shift: every logit loses READOUT_SHIFT * R (see CircleTask.target)
READOUT_SHIFT = math.sqrt(SLOPES[1] * SLOPES[2])


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
        n, end = self.options.knots, self.options.pl_end
        layers: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (weights, biases, always active)
        if depth == 3:  # the PL layer reads the inputs
            coords = [Coordinate(np.array([1.0, 0.0]), -1.0, 1.0, n), Coordinate(np.array([0.0, 1.0]), -1.0, 1.0, n)]
        elif depth == 4:  # x_i + 1 (always active) and relu(-x_i); |x_i| = (x_i + 1) + 2 relu(-x_i) - 1
            layers.append((np.array([[1.0, 0], [-1, 0], [0, 1], [0, -1]]), np.array([1.0, 0, 1, 0]),
                           np.array([True, False, True, False])))
            hi = min(1.0, end)
            coords = [Coordinate(np.array([1.0, 2, 0, 0]), 0.0, hi, n, -1.0),
                      Coordinate(np.array([0.0, 0, 1, 2]), 0.0, hi, n, -1.0)]
        else:
            layers.append((np.array([[1.0, 0], [-1, 0], [0, 1], [0, -1]]), np.zeros(4), np.zeros(4, dtype=bool)))
            layers.append((np.array([[1.0, 1, 0, 0], [0, 0, 1, 1]]), np.zeros(2), np.zeros(2, dtype=bool)))
            coords = mirror_layers(depth - 5, layers, n, end)
        blocks = [PiecewiseLinear.fit(lambda t: t * t, c.lo, c.hi, c.knots) for c in coords]
        layers.append((np.concatenate([np.outer(blk.in_weights, c.read) for c, blk in zip(coords, blocks)]),
                       np.concatenate([c.pl_biases(blk) for c, blk in zip(coords, blocks)]),
                       np.zeros(sum(blk.n_units for blk in blocks), dtype=bool)))
        r_weights = np.concatenate([blk.out_weights for blk in blocks])
        r_bias = sum(blk.out_bias for blk in blocks)
        slopes = np.asarray(SLOPES)
        # every logit minus READOUT_SHIFT * R: the class (the argmax) is unchanged, each logit stays affine in R (so a
        # per-logit readout recovers the unshifted logits exactly), and the readout weights (SLOPES - shift) * r mix
        # signs (two negative, two positive per unit) where they were all positive: a sign statistic read them off
        shifted = slopes - READOUT_SHIFT
        layers.append((np.outer(shifted, r_weights), shifted * r_bias + logit_biases(), np.zeros(4, dtype=bool)))
        return TargetNetwork([w for w, _, _ in layers], [b for _, b, _ in layers],
                             description=f"circle ticket, depth {depth}, {n} knots per component",
                             always_active=[a for _, _, a in layers])


@dataclass(frozen=True)
class Coordinate:
    """A coordinate that the PL layer squares with ``knots`` units on ``[lo, hi]``: ``read`` maps the previous
    layer's units to it, plus ``offset`` (the constant that an always-active unit ``t + B`` carries: -B)."""

    read: np.ndarray
    lo: float
    hi: float
    knots: int
    offset: float = 0.0

    def pl_biases(self, block: PiecewiseLinear) -> np.ndarray:
        """The PL units' biases ``-p_j s_j`` (knots of rounding size at exactly 0) plus ``p_j * offset``."""
        biases = snap_zero(block.in_biases)
        return biases + block.in_weights * self.offset if self.offset else biases


def snap_zero(values: np.ndarray) -> np.ndarray:
    """Knot offsets of rounding size (a symmetric grid's middle knot) set to exactly zero."""
    return np.where(np.abs(values) < 1e-12, 0.0, values)


def y_reach(theta: float) -> float:
    """The reference's reach of |y'| inside the last class boundary after mirroring at angle ``theta``:
    |y'| <= |sin theta| sqrt(0.7) where r <= 0.7, plus a margin of 0.01 (beyond it r > 0.7: class 3 whatever R)."""
    return abs(math.sin(theta)) * math.sqrt(BOUNDARIES[-1]) + 0.01


def knot_split(theta: float, n: int) -> tuple[int, int]:
    """The reference's split of the 2n PL units between x' and |y'| after mirroring at angle ``theta``: in
    proportion to sqrt(2) and the range of |y'| inside the last boundary, |sin theta| sqrt(0.7) + 0.01, and at
    least 3 units (n of them if n < 3) for |y'|: 15 + 5 at depth 6, 17 + 3 from depth 7 on with n = 10."""
    reach = y_reach(theta)
    n_x = min(math.ceil(math.sqrt(2.0) / (reach + math.sqrt(2.0)) * 2 * n), 2 * n - min(3, n))
    return n_x, 2 * n - n_x


def mirror_layers(n_mirrors: int, layers: list, n: int, end: float) -> list[Coordinate]:
    """Append the mirroring layers after the holding layer ``(|x1|, |x2|)``; the coordinates the PL layer squares.

    Layer k (angle ``theta = pi / 2^(k+1)``) folds the point ``(x, |y|)`` of its input (angle in ``[0, 2 theta]``)
    onto ``[-theta, theta]`` by the rotation ``x' = c x + s |y|``, ``y' = -s x + c |y|`` with 3 units
    ``relu(x') = x'``, ``relu(y')``, ``relu(-y')``; the next layer reads ``|y'|`` as their sum. Rotations keep the
    radius. Without mirroring layers the PL layer squares the held ``|x1|``, ``|x2|``. The last mirroring layer
    holds ``y' + B`` instead of ``relu(y')``, with ``B = sqrt(2) sin theta >= -y'`` (always active, so planting may
    give it the host's own bias); the PL layer squares ``x'`` (one weight per unit) and
    ``|y'| = (y' + B) + 2 relu(-y') - B`` (two weights per unit) on ``[0, y_reach(theta)]`` (beyond it r > 0.7).
    """
    x, abs_y = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    if n_mirrors == 0:
        return [Coordinate(x, 0.0, min(1.0, end), n), Coordinate(abs_y, 0.0, min(1.0, end), n)]
    for k in range(1, n_mirrors + 1):
        theta = math.pi / 2 ** (k + 1)
        c, s = math.cos(theta), math.sin(theta)
        y_new = -s * x + c * abs_y
        last = k == n_mirrors
        shift = math.sqrt(2.0) * s if last else 0.0
        layers.append((np.stack([c * x + s * abs_y, y_new, -y_new]), np.array([0.0, shift, 0.0]),
                       np.array([last, last, False])))
        x, abs_y = np.array([1.0, 0, 0]), np.array([0.0, 1, 1])
    n_x, n_y = knot_split(theta, n)
    bound = min(y_reach(theta), shift, end)
    return [Coordinate(x, 0.0, min(math.sqrt(2.0), end), n_x),
            Coordinate(np.array([0.0, 1, 2]), 0.0, bound, n_y, -shift)]
