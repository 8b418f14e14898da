"""Transfer ("Robust Tickets Can Transfer Better"): two related planted tasks that share a sub-circuit, the same
planted lower layers, and differ in their head; a ticket found on task A is scored on task B
(:mod:`plantseek.score.transfer`). Construction and measurements: ``docs/transfer.md``.

One task, ``transfer``, with the option ``head`` (``"a"`` or ``"b"``): inputs ``x`` uniform on ``[-1, 1]^inputs``; a
*trunk* of ``features`` ReLU features ``h_k = relu(w_k . x + b_k)`` (drawn once from a generator fixed by the options,
``|b_k| < |w_k|_1`` so every feature switches inside the domain), held by ``depth - 3`` layers of weight 1; the label is
``v_head . h`` plus Gaussian noise ``noise`` (regression, MSE), ``v_a`` and ``v_b`` two independent draws.

The instances of ``head="a"`` and ``head="b"`` with the same seed, depth and width are planted from the same random
streams (the stream names hold the task's name, not its options) with the paper's least-squares factors (each layer's
factors depend on that layer and the ones below only): their host, trunk placement and trunk weights are bit for bit
the same, and the hosts differ in the output layer alone (tested). Ticket: the trunk (``features inputs`` weights
in the first layer, ``features`` per holding layer) plus the head's ``features`` read-out weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from plantseek.core.errors import ConfigError
from plantseek.planted.targets import TargetNetwork
from plantseek.planted.task import TASKS, Task, TaskOptions, check_positive_int

HEADS = ("a", "b")


@dataclass(frozen=True)
class TransferOptions(TaskOptions):
    head: str = "a"
    inputs: int = 2
    features: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.head not in HEADS:
            raise ConfigError(f"head must be one of {', '.join(HEADS)}, got {self.head!r}")
        check_positive_int("inputs", self.inputs)
        check_positive_int("features", self.features)


def trunk(o: TransferOptions) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """``(W, b, {head: v})``: the shared features and both heads, from a generator fixed by ``inputs``, ``features``."""
    rng = np.random.default_rng([o.inputs, o.features, 28])
    w = rng.normal(0.0, 1.0, size=(o.features, o.inputs))
    b = rng.uniform(-0.8, 0.8, size=o.features) * np.abs(w).sum(axis=1)
    heads = {h: rng.normal(0.0, 1.0, size=o.features) for h in HEADS}
    return w, b, heads


@TASKS.register("transfer")
class TransferTask(Task):
    name = "transfer"
    in_features = 2
    out_features = 1
    kind = "regression"
    Options = TransferOptions

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.in_features = self.options.inputs

    def clean_labels(self, x: torch.Tensor) -> torch.Tensor:
        w, b, heads = trunk(self.options)
        h = np.maximum(x.numpy() @ w.T + b, 0.0)
        return torch.from_numpy(h @ heads[self.options.head])[:, None]

    def add_noise(self, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return y + self.options.noise * torch.randn(y.shape, generator=generator, dtype=y.dtype)

    def shared_layers(self, depth: int) -> int:
        """The number of weight layers (from the input) that both heads share: the trunk."""
        return depth - 2

    def target(self, depth: int) -> TargetNetwork:
        self.check_depth(depth)
        w, b, heads = trunk(self.options)
        k = self.options.features
        layers = [(w, b)] + [(np.eye(k), np.zeros(k)) for _ in range(depth - 3)]
        layers.append((heads[self.options.head][None, :], np.zeros(1)))
        return TargetNetwork([w for w, _ in layers], [b for _, b in layers], factors="least-squares",
                             description=f"transfer ticket, depth {depth}: {k} shared features, head "
                                         f"{self.options.head}")
