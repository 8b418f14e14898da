"""The time to generalise of a group's masks (tasks whose :meth:`~plantseek.planted.task.Task.generalisation` is not
None: the grokking tasks, ``docs/grokking-tickets.md``).

Each distinct (mask, host) of the group, the planted ticket and the dense host are trained once more on the
per-network reference path with a test-accuracy curve (:func:`plantseek.train.curve.train_with_curve`: the cell's
training protocol's start, its training configuration, the group's data order ``seeding.generator(seed, "train")``,
float32), and the first evaluated step at which the test accuracy reaches the task's threshold is recorded in each
cell's metrics:

* ``steps_to_generalise``: the cell's mask (``None`` where it never reaches the threshold);
* ``generalised``: 1.0 if it does, else 0.0;
* ``curve_final_accuracy``: the curve's last test accuracy (the weak metric of the batched engine, up to the rounding
  by which the two training paths differ);
* ``steps_to_generalise_ticket`` and ``steps_to_generalise_dense``: the planted ticket's and the dense host's, the same
  in every cell of the group (the references a cell is compared with);
* ``curve_steps``: the number of optimiser steps of the run (the censoring point of a mask that never generalises).

The curve uses the test split (the weak metric's); nothing of it reaches a pruner.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from plantseek.core import seeding
from plantseek.core.types import Mask
from plantseek.nets.masks import pack_mask
from plantseek.planted.instance import PlantedInstance
from plantseek.records.cells import CellConfig
from plantseek.train.curve import first_reaching, train_with_curve
from plantseek.train.training_protocols import TRAINING_PROTOCOLS


def mask_curve(instance: PlantedInstance, cell: CellConfig, mask: Mask, host: dict[str, torch.Tensor],
               every: int) -> list[tuple[int, float]]:
    """The test-accuracy curve of ``mask`` on ``host`` weakly trained as ``cell``'s masks are."""
    train, test, task, arch = instance.data.train, instance.data.test, instance.task, instance.arch
    start = TRAINING_PROTOCOLS.get(cell.training_protocol)(host, mask, train.x, train.y, task.kind, arch)
    model = arch.build(start, torch.float32)
    x_test = test.x.float()

    def evaluate(m: torch.nn.Module) -> float:
        return task.metric(m(x_test, mask).double(), test.y)

    y = train.y if not train.y.is_floating_point() else train.y.float()
    return train_with_curve(model, mask, train.x.float(), y, task.loss, cell.train,
                            seeding.generator(cell.seed, "train"), evaluate, every)


#: The metrics a training run produces (like the weak metric): ``plantseek verify`` recomputes recovery metrics from
#: the stored mask without training, so it leaves these as stored.
GENERALISATION_KEYS = ("steps_to_generalise", "generalised", "curve_final_accuracy", "curve_steps",
                       "steps_to_generalise_ticket", "steps_to_generalise_dense")


def _step(value: float) -> float | None:
    return None if math.isnan(value) else value


def generalisation_metrics(instance: PlantedInstance, cell: CellConfig,
                           trainees: list[tuple[Mask, dict[str, torch.Tensor], bool]]) -> list[dict[str, Any]]:
    """One metrics dict per trainee ``(mask, host, planted_host)`` of a group whose first cell is ``cell`` (empty
    dicts where the task has no time to generalise)."""
    spec = instance.task.generalisation()
    if spec is None:
        return [{} for _ in trainees]
    threshold, every = spec
    cache: dict[tuple, list[tuple[int, float]]] = {}

    def curve(mask: Mask, host: dict[str, torch.Tensor], planted_host: bool) -> list[tuple[int, float]]:
        key = (tuple(mask), pack_mask(mask), planted_host)
        if key not in cache:
            cache[key] = mask_curve(instance, cell, mask, host, every)
        return cache[key]

    dense = {n: torch.ones(s, dtype=torch.bool) for n, s in instance.arch.weight_shapes().items()}
    reference = {
        "steps_to_generalise_ticket": _step(first_reaching(curve(instance.ticket, instance.initial_state, True),
                                                           threshold)),
        "steps_to_generalise_dense": _step(first_reaching(curve(dense, instance.initial_state, True), threshold)),
    }
    out = []
    for mask, host, planted_host in trainees:
        c = curve(mask, host, planted_host)
        step = first_reaching(c, threshold)
        out.append({"steps_to_generalise": _step(step), "generalised": 0.0 if math.isnan(step) else 1.0,
                    "curve_final_accuracy": c[-1][1], "curve_steps": float(c[-1][0]), **reference})
    return out
