"""Digits: the paper's fourth experiment CPU-sized, a trained sparse CNN planted back into a random CNN host.

**Target** (:mod:`plantseek.tasks.digits_target`, shipped as ``tasks/data/digits_target.npz``): a CNN of 32, 64, 128
channels (3 x 3 convolutions, 2 x 2 max pooling after the first two, a linear head) trained on scikit-learn's 8 x 8
digits, pruned to density 0.01 with ``synflow-multishot`` and trained as a weak ticket: 976 weights, test accuracy
0.967 (the dense network: 0.983). Its biases are all nonzero, so planting touches no host bias it would zero.

**Host** (``depth`` must be 5: input, three conv layers, output): the target's geometry with ``width``, ``2 width``
and ``4 width`` channels (the target's channel ratios; ``width`` = the first conv layer's channels, at least the
target's 32; ``width / 32`` is the host's width multiplier: 32 = the paper's setting, a host of the target's own
size), He-initialised from the instance's seed; the target is planted by :mod:`plantseek.families.conv.planting`.

**Data**: the real digits in the target's fixed split (:func:`plantseek.tasks.digits_target.digits_split`): the test
split is always its 360 test images, so the planted ticket's scale-correct strong accuracy is the target's own; the
training split is its first ``min(n_train, 1437)`` training images (``n_train`` from the instance's
:class:`DataConfig`; the default 10,000 samples take all 1,437); the validation split is empty. ``noise`` (default 0)
is the standard deviation of Gaussian pixel noise added to the training images only (drawn from the instance's data
stream; the test images stay clean). Metric: accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plantseek.core.errors import ConfigError
from plantseek.families.conv.network import ConvArchitecture
from plantseek.families.conv.planting import ConvTarget
from plantseek.families.conv.task import ConvTask
from plantseek.planted.task import TASKS, DataConfig, DataSplits, Split, TaskOptions
from plantseek.tasks import digits_target as stored

DEPTH = len(stored.TARGET_CHANNELS) + 2


@dataclass(frozen=True)
class DigitsOptions(TaskOptions):
    noise_meaning = "the standard deviation of Gaussian pixel noise on the training images"
    noise: float = 0.0


@TASKS.register("digits")
class DigitsTask(ConvTask):
    name = "digits"
    out_features = stored.N_CLASSES
    kind = "classification"
    min_depth = DEPTH
    Options = DigitsOptions

    def check_depth(self, depth: int) -> None:
        if isinstance(depth, bool) or not isinstance(depth, int) or depth != DEPTH:
            raise ConfigError(f"depth must be {DEPTH} for task 'digits' (the trained target's depth: input, "
                              f"{DEPTH - 2} conv layers, output), got {depth!r}")

    def geometry(self, depth: int, width: int) -> ConvArchitecture:
        base = stored.TARGET_CHANNELS[0]
        return stored.geometry(tuple(width * c // base for c in stored.TARGET_CHANNELS))

    def target(self, depth: int) -> ConvTarget:
        self.check_depth(depth)
        return stored.load_target()

    def sample(self, n: int, generator: torch.Generator) -> Split:
        raise ConfigError("task 'digits' has a fixed data set: its splits come from make_data, not from sampling")

    def make_data(self, config: DataConfig, generator: torch.Generator) -> DataSplits:
        (x, y), (x_test, y_test) = stored.digits_split()
        n = min(config.n_train, x.shape[0])
        x, y = x[:n], y[:n]
        if self.options.noise > 0:
            x = x + self.options.noise * torch.randn(x.shape, generator=generator, dtype=torch.float64)
        empty = Split(x[:0].clone(), y[:0].clone())
        return DataSplits(train=Split(x, y), val=empty, test=Split(x_test, y_test))
