"""Bars: grey ``image_size x image_size`` images of Gaussian pixel noise plus one short bar; the class: its orientation.

**Data** (drawn on the fly from the instance's seed, vectorised): class ``c`` uniform in ``0 .. n_classes - 1``,
orientation ``theta_c = pi c / n_classes``; the bar is ``bar_length`` (odd) pixels, one per step ``t = -m .. m``
(``m = bar_length // 2``) along its dominant axis: ``(cy - round(t tan theta_c), cx + t)`` for mostly horizontal bars,
``(cy - t, cx + round(t cot theta_c))`` otherwise (round half to even), its centre uniform
among the positions where the whole bar fits; each pixel is ``N(0, noise^2)`` (``noise`` = the standard deviation of
the pixel noise), plus 1 on the bar. Orientations whose rasterised bars coincide (too short a bar for too many
classes) are a one-line error.

**Host** (``depth`` = input + ``depth - 2`` conv layers + output; ``width`` channels per conv layer; max pooling):
a ``bar_length`` square convolution (zero padding ``m``, the map keeps its side), then, at depth >= 4, a 2 x 2 pooling
(for even sides) and ``depth - 3`` 3 x 3 convolutions (padding 1); the last conv layer pools its whole map (global
max), and a linear head reads the channels.

**Ticket** (``n_classes`` channels per conv layer, every bias nonzero):

* layer 0, one *line detector* per class: kernel weights from ``1 - LINE_SPREAD`` to ``1 + LINE_SPREAD`` (sum
  ``bar_length``, :func:`line_weights`) on the ``bar_length`` offsets of the class's rasterised bar, bias
  ``DETECTOR_BIAS``; at noise 0 the detector of the true class reaches ``bar_length - 1`` at the bar's centre and
  every other detector stays lower by at least the smallest weight (distinct rasterised bars of equal length overlap
  in at most ``bar_length - 1`` pixels), so the network is exact there;
* each 3 x 3 layer *holds* its channel: weight 1 at the kernel's centre of the same channel, bias ``HOLD_BIAS`` > 0
  (a held channel is non-negative, so ``relu(h + HOLD_BIAS) = h + HOLD_BIAS``; the constant passes the max pool);
* the head: logit ``c`` = pooled channel ``c`` + ``-HOLD_BIAS * (depth - 3) - 1/4`` (one shared nonzero offset).

**Planting factors**: host-matched (:mod:`plantseek.planted.factors`): each ticket channel's factor is chosen so that
the planted entries take the host layer's own magnitudes; the detector weights differ along the bar, so no two
planted entries share a float32 magnitude.

Ticket weights: ``n_classes * (bar_length + depth - 2)`` (28 at the defaults: 4 classes, bars of 5, depth 4); the
default host (16 x 16, width 32, depth 4) has 10,144 prunable weights: ticket density 0.28 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from plantseek.core.errors import ConfigError
from plantseek.families.conv.network import ConvArchitecture, ConvLayer
from plantseek.families.mlp.network import bias_name, weight_name
from plantseek.families.conv.planting import ConvTarget
from plantseek.families.conv.task import ConvTask
from plantseek.planted.task import TASKS, Split, TaskOptions, check_positive_int

DETECTOR_BIAS = -1.0
HOLD_BIAS = 0.5
#: the line detectors' weights run from 1 - LINE_SPREAD to 1 + LINE_SPREAD along the bar (sum: the bar's length)
LINE_SPREAD = 0.4
MAX_IMAGE_SIZE = 256


@dataclass(frozen=True)
class BarsOptions(TaskOptions):
    noise_meaning = "the standard deviation of Gaussian pixel noise"
    noise: float = 0.4
    image_size: int = 16
    bar_length: int = 5
    n_classes: int = 4

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("image_size", "bar_length", "n_classes"):
            check_positive_int(name, getattr(self, name))
        if self.bar_length < 3 or self.bar_length % 2 == 0:
            raise ConfigError(f"bar_length must be an odd integer >= 3, got {self.bar_length!r}")
        if not self.bar_length <= self.image_size <= MAX_IMAGE_SIZE:
            raise ConfigError(f"image_size must be an integer from bar_length ({self.bar_length}) to "
                              f"{MAX_IMAGE_SIZE}, got {self.image_size!r}")
        if self.n_classes < 2:
            raise ConfigError(f"n_classes must be an integer >= 2, got {self.n_classes!r}")
        patterns = {tuple(sorted(zip(*bar_offsets(self.bar_length, self.n_classes)[c]))) for c in range(self.n_classes)}
        if len(patterns) < self.n_classes:
            raise ConfigError(f"bars of length {self.bar_length} cannot tell {self.n_classes} orientations apart "
                              "(their rasterised bars coincide): use longer bars or fewer classes")


def bar_offsets(length: int, n_classes: int) -> np.ndarray:
    """``(n_classes, 2, length)`` integer offsets (rows ``dy``, columns ``dx``) of each class's bar from its centre:
    one pixel per step ``t = -m .. m`` along the bar's dominant axis, the other coordinate rounded (half to even)."""
    t = np.arange(length) - length // 2
    out = np.empty((n_classes, 2, length), dtype=np.int64)
    for c in range(n_classes):
        theta = np.pi * c / n_classes
        cos, sin = np.cos(theta), np.sin(theta)
        if abs(cos) >= abs(sin):  # mostly horizontal: x = t, y = -t tan(theta)
            out[c] = np.stack([-np.rint(t * sin / cos), t])
        else:  # mostly vertical: y = -t, x = t cot(theta)
            out[c] = np.stack([-t, np.rint(t * cos / sin)])
    return out


def line_weights(o: BarsOptions) -> torch.Tensor:
    """``(n_classes, bar_length)`` weights of the line detectors along their bars: ``1 - LINE_SPREAD .. 1 +
    LINE_SPREAD`` in equal steps, rotated by one step per class. Each detector sums to the bar's length, so the true
    class's detector reaches it on its bar and another's, covering at most ``bar_length - 1`` of the bar's pixels, stays
    at least the smallest weight lower (exact at noise 0). Equal weights would be planted as equal magnitudes (one
    factor per channel, one input channel): a float32 repeat that a pruner reads off."""
    base = torch.linspace(1 - LINE_SPREAD, 1 + LINE_SPREAD, o.bar_length, dtype=torch.float64)
    return torch.stack([torch.roll(base, c) for c in range(o.n_classes)])


@TASKS.register("bars")
class BarsTask(ConvTask):
    name = "bars"
    out_features = 4  # n_classes (an instance's own value is set from its options)
    kind = "classification"
    Options = BarsOptions

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.out_features = self.options.n_classes

    def geometry(self, depth: int, width: int) -> ConvArchitecture:
        o = self.options
        side, pad = o.image_size, o.bar_length // 2
        if depth == 3:
            return ConvArchitecture(1, side, (ConvLayer(width, o.bar_length, 1, pad, side),), o.n_classes)
        pool = 2 if side % 2 == 0 else 1
        holds = [ConvLayer(width, 3, 1, 1, 1) for _ in range(depth - 4)]
        last = ConvLayer(width, 3, 1, 1, side // pool)
        return ConvArchitecture(1, side, (ConvLayer(width, o.bar_length, 1, pad, pool), *holds, last), o.n_classes)

    def target(self, depth: int) -> ConvTarget:
        self.check_depth(depth)
        o = self.options
        arch = self.geometry(depth, o.n_classes)
        params = {n: torch.zeros(s, dtype=torch.float64) for n, s in arch.parameter_shapes().items()}
        m, classes = o.bar_length // 2, torch.arange(o.n_classes)
        offsets = torch.from_numpy(bar_offsets(o.bar_length, o.n_classes))
        params[weight_name(0)][classes[:, None], 0, m + offsets[:, 0], m + offsets[:, 1]] = line_weights(o)
        params[bias_name(0)].fill_(DETECTOR_BIAS)
        for l in range(1, depth - 2):
            params[weight_name(l)][classes, classes, 1, 1] = 1.0
            params[bias_name(l)].fill_(HOLD_BIAS)
        head = depth - 2
        params[weight_name(head)][classes, classes, 0, 0] = 1.0
        params[bias_name(head)].fill_(-HOLD_BIAS * (depth - 3) - 0.25)
        return ConvTarget(arch, params, f"bars ticket, depth {depth}: {o.n_classes} line detectors of "
                                        f"{o.bar_length} pixels, held, global max pool, identity read-out")

    def sample(self, n: int, generator: torch.Generator) -> Split:
        o = self.options
        m, side = o.bar_length // 2, o.image_size
        y = torch.randint(0, o.n_classes, (n,), generator=generator)
        cy = torch.randint(m, side - m, (n,), generator=generator)
        cx = torch.randint(m, side - m, (n,), generator=generator)
        x = o.noise * torch.randn(n, 1, side, side, generator=generator, dtype=torch.float64)
        offsets = torch.from_numpy(bar_offsets(o.bar_length, o.n_classes))[y]  # (n, 2, length)
        rows, cols = cy[:, None] + offsets[:, 0], cx[:, None] + offsets[:, 1]
        x[torch.arange(n)[:, None], 0, rows, cols] += 1.0
        return Split(x, y)
