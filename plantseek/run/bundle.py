"""The conductor: a bundle of cell groups (one planted instance each) run through the steps of
:mod:`plantseek.run.group`; a single group is a bundle of one (:func:`run_group`).

:func:`bundle_groups` bundles a grid's groups that share a weak-training setting (:func:`batch_key`, up to
``max_batch`` networks); :func:`run_bundle` runs one bundle: per group ``plant -> prune -> ablate``, then the
trainees of all groups whose networks train alike (same architecture and loss) in ONE ``train_masks`` call, then
per group ``score -> record``. The batched engine computes every network exactly as alone, so a bundle's cells
are bit-identical to its groups run one by one (``tests/run/test_batch.py``). A group that cannot be planted
fails all its cells; a failing pruner fails its own cells; nothing raises for either.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

from plantseek.core.errors import PlantseekError
from plantseek.records.cells import CellConfig, provenance
from plantseek.run.group import (Ablated, Planted, Pruned, Results, Trained, ablate_step, failed_instance, plant_step,
                                 prune_step, record_step, score_step, train_step)
from plantseek.run.isolation.pruning import DEFAULT_PRUNE_TIMEOUT
from plantseek.run.posttraining import prune_trained, pruned_networks, train_dense


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


def training_signature(planted: Planted) -> tuple:
    """Groups whose networks train alike (architecture, loss) share a training call."""
    task = planted.instance.task
    return (planted.instance.arch, task.kind, getattr(type(task), "loss", None))


@dataclass(frozen=True)
class Prepared:
    """A group's outputs up to its training: ``plant -> prune -> ablate``."""

    planted: Planted
    pruned: Pruned
    ablated: Ablated
    trained: Trained | None = None  # a post-training group's networks (trained before pruning, not after)


def prepare(cells: Sequence[CellConfig], prov: dict, prune_timeout: float | None,
            device: str | None = None) -> Prepared | Results:
    """A group's ``plant -> prune -> ablate`` (post-training: ``plant -> train dense -> prune``,
    :mod:`plantseek.run.posttraining`); or, for an instance that cannot be planted, its failed cells."""
    try:
        planted = plant_step(cells, prov)
    except PlantseekError as exc:
        return failed_instance(cells, exc, prov)
    if cells[0].post_training:
        dense, seconds = train_dense(planted, device)
        pruned = prune_trained(planted, dense, prune_timeout)
        ablated = ablate_step(planted, pruned)
        return Prepared(planted, pruned, ablated, pruned_networks(planted, ablated, dense, seconds))
    pruned = prune_step(planted, prune_timeout)
    return Prepared(planted, pruned, ablate_step(planted, pruned))


def run_bundle(groups: Sequence[Sequence[CellConfig]], prune_timeout: float | None = DEFAULT_PRUNE_TIMEOUT,
               device: str | None = None) -> Results:
    """Run a bundle of groups (of one :func:`batch_key`): the results of every cell, group after group, in cell
    order. A bundle of several groups trains every network on its own instance's data (``own_data``); a single
    group passes its training split once."""
    if len({batch_key(g[0]) for g in groups}) > 1:
        raise ValueError("run_bundle: the groups do not share a batch key")
    prov = provenance()
    prepared = [prepare(cells, prov, prune_timeout, device) for cells in groups]
    by_signature: "OrderedDict[tuple, list[int]]" = OrderedDict()  # group positions, per training signature
    trained: dict[int, Trained] = {}
    for i, p in enumerate(prepared):
        if isinstance(p, Prepared) and p.trained is not None:
            trained[i] = p.trained  # post-training: nothing trains after pruning
        elif isinstance(p, Prepared):
            by_signature.setdefault(training_signature(p.planted), []).append(i)
    for members in by_signature.values():
        together = [(prepared[i].planted, prepared[i].ablated) for i in members]
        trained.update(zip(members, train_step(together, device, own_data=len(groups) > 1)))
    out: Results = []
    for i, p in enumerate(prepared):
        if isinstance(p, Prepared):
            scored = score_step(p.planted, p.ablated, trained[i])
            p = record_step(p.planted, p.pruned, p.ablated, trained[i], scored)
        out += p
    return out


def run_group(cells: Sequence[CellConfig], prune_timeout: float | None = DEFAULT_PRUNE_TIMEOUT,
              device: str | None = None) -> Results:
    """Run all cells of one instance: a bundle of one group."""
    return run_bundle([cells], prune_timeout, device)
