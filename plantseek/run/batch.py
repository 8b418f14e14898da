"""Running a batch of cell groups: several instances' networks trained as one batched model.

A grid's groups (one planted instance each, :mod:`plantseek.run.group`) that share a weak-training setting are
bundled (:func:`bundle_groups`, up to ``max_batch`` networks) and run by :func:`run_batch` as one stage:

1. per group, ``plant -> prune -> ablate`` exactly as :func:`plantseek.run.group.run_group` (each instance planted
   once, its prune calls in their own sandboxed workers, per instance and pruner as before);
2. the trainees of every group whose network trains the same way (same architecture and loss: every seed of a
   task, every task of the same shape) are trained by ONE ``train_masks`` call, each network with its own
   instance's training split, start, mask, data order (its group's generator) and optimiser state; the batched
   engine computes every network exactly as alone, so the cells are bit-identical to the per-instance path
   (``tests/run/test_batch.py``);
3. per group, ``score -> record``.

A group that cannot be planted fails all its cells, as in ``run_group``; a failing pruner fails its own cells.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Sequence

from plantseek.core.errors import PlantseekError
from plantseek.run.group import (GroupRun, ablate_step, failed_instance, plant_step, prune_step, record_step,
                                 score_step, take_trained, train_plan)
from plantseek.run.isolation.pruning import DEFAULT_PRUNE_TIMEOUT
from plantseek.records.cells import CellConfig, CellResult, provenance
from plantseek.train.loop import train_masks

Results = list[tuple[CellConfig, CellResult]]


def batch_key(cell: CellConfig) -> tuple:
    """Groups with equal keys may share a batch: the same host size, data size, weak-training configuration,
    protocol and pruning budget (the task and the seed may differ; the architecture is checked once planted)."""
    return (cell.depth, cell.width, cell.n_samples, cell.train, cell.training_protocol, cell.budget)


def networks_of(group: Sequence[CellConfig]) -> int:
    """An upper bound of the networks a group trains: one per cell and the dense host."""
    return len(group) + 1


def bundle_groups(groups: Sequence[Sequence[CellConfig]], max_batch: int) -> list[list[Sequence[CellConfig]]]:
    """The groups in bundles of equal :func:`batch_key`, each of at most ``max_batch`` networks (a group larger
    than that alone), groups in their given order within a bundle and bundles in order of their first group."""
    open_: "OrderedDict[tuple, list[Sequence[CellConfig]]]" = OrderedDict()
    sizes: dict[tuple, int] = {}
    out: list[list[Sequence[CellConfig]]] = []
    for g in groups:
        key, n = batch_key(g[0]), networks_of(g)
        if key in open_ and sizes[key] + n > max_batch:
            out.append(open_.pop(key))
        if key not in open_:
            open_[key], sizes[key] = [], 0
        open_[key].append(g)
        sizes[key] += n
    return out + list(open_.values())


def _training_signature(run: GroupRun) -> tuple:
    """Runs whose networks train alike (architecture, loss) share a training call."""
    task = run.instance.task
    return (run.instance.arch, task.kind, getattr(type(task), "loss", None))


def train_together(runs: Sequence[GroupRun], device: str | None = None) -> None:
    """The train step of several groups of one training signature in one ``train_masks`` call: every network
    with its own instance's training split and its group's generator (as :func:`plantseek.run.group.train_step`
    for each group alone)."""
    t0 = time.perf_counter()
    plans = [train_plan(r) for r in runs]
    xs = [r.instance.data.train.x for r, p in zip(runs, plans) for _ in p.masks]
    ys = [r.instance.data.train.y for r, p in zip(runs, plans) for _ in p.masks]
    first = runs[0]
    kwargs = {"device": device} if device else {}
    trained = train_masks(first.instance.arch, [s for p in plans for s in p.starts],
                          [m for p in plans for m in p.masks], xs, ys, first.instance.task.loss,
                          first.cells[0].train, [g for p in plans for g in p.generators], **kwargs)
    seconds = (time.perf_counter() - t0) / sum(len(p.slot) for p in plans)
    offset = 0
    for run, plan in zip(runs, plans):
        take_trained(run, plan, trained[offset: offset + len(plan.masks)], seconds)
        offset += len(plan.masks)


def run_batch(groups: Sequence[Sequence[CellConfig]], prune_timeout: float | None = DEFAULT_PRUNE_TIMEOUT,
              device: str | None = None) -> Results:
    """Run several groups (of one :func:`batch_key`) with their weak training batched across instances; the
    results of every cell, group after group, in cell order: those of ``run_group`` on each group."""
    if len({batch_key(g[0]) for g in groups}) > 1:
        raise ValueError("run_batch: the groups do not share a batch key")
    prov = provenance()
    runs: list[GroupRun | Results] = []
    for cells in groups:
        try:
            run = plant_step(cells, prov)
        except PlantseekError as exc:
            runs.append(failed_instance(cells, exc, prov))
            continue
        prune_step(run, prune_timeout)
        ablate_step(run)
        runs.append(run)
    by_signature: "OrderedDict[tuple, list[GroupRun]]" = OrderedDict()
    for run in runs:
        if isinstance(run, GroupRun):
            by_signature.setdefault(_training_signature(run), []).append(run)
    for together in by_signature.values():
        train_together(together, device)
    out: Results = []
    for run in runs:
        if isinstance(run, GroupRun):
            score_step(run)
            run = record_step(run)
        out += run
    return out
