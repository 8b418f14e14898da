"""The steps of a post-training cell group (``CellConfig.calibration_size > 0``; :mod:`plantseek.prune.posttraining`).

``plant -> train dense -> prune -> score`` instead of ``plant -> prune -> train -> score``:

* :func:`train_dense`: the dense host trained once per group, exactly as the group's dense reference of every other
  protocol (the cell's training protocol's start, its training configuration, the instance's ``"train"`` stream);
  every pruner of the group sees this one trained network;
* :func:`prune_trained`: every (pruner, density, calibration size, calibration seed) pruned once in prune workers that
  receive the trained weights and the job's calibration set (training split only) and never the ticket;
* :func:`pruned_networks`: the masked (and, where the pruner returned them, updated) trained networks, as the
  :class:`plantseek.run.group.Trained` the score step reads: no retraining; their test metric is the cell's
  ``weak_metric``, the dense trained network's is ``dense_weak_metric``;

What a post-training cell stores beside its recovery metrics: :func:`plantseek.run.group.posttraining_metrics`.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from plantseek.core import seeding
from plantseek.nets.interface import network_parameters
from plantseek.run.group import Ablated, Planted, Pruned, Trained, resolve_density
from plantseek.run.isolation.pruning import PruneJob, job_key, prune_all
from plantseek.run.isolation.workers import isolation_summary
from plantseek.train.config import biases_prunable
from plantseek.train.loop import train_masks
from plantseek.train.training_protocols import TRAINING_PROTOCOLS


def train_dense(planted: Planted, device: str | None = None) -> tuple[Any, float]:
    """The group's densely trained host (float32 module, CPU) and the seconds its training took."""
    instance, first = planted.instance, planted.cells[0]
    train = instance.data.train
    dense = {n: torch.ones(s, dtype=torch.bool) for n, s in instance.arch.weight_shapes().items()}
    start = TRAINING_PROTOCOLS.get(first.training_protocol)(instance.initial_state, dense, train.x, train.y,
                                                            instance.task.kind, instance.arch)
    t0 = time.perf_counter()
    kwargs = {"device": device} if device else {}
    [model] = train_masks(instance.arch, [start], [dense], train.x, train.y, instance.task.loss, first.train,
                          [seeding.generator(first.seed, "train")], **kwargs)
    return model, time.perf_counter() - t0


def trained_state(model: Any) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in network_parameters(model).items()}


def prune_trained(planted: Planted, dense: Any, prune_timeout: float | None) -> Pruned:
    """Prune every job of a post-training group on the trained network (one job per :func:`job_key`)."""
    jobs: dict[tuple, PruneJob] = {}
    for c in planted.cells:
        if job_key(c) not in jobs:
            jobs[job_key(c)] = PruneJob(c, resolve_density(c.density, planted.instance, biases_prunable(c.budget)))
    protocols = prune_all(jobs, planted.instance, prune_timeout, trained_state=trained_state(dense))
    return Pruned(jobs, protocols, {**planted.provenance, "prune_isolation": isolation_summary()})


def pruned_networks(planted: Planted, ablated: Ablated, dense: Any, seconds: float) -> Trained:
    """The masked trained networks of the group (updated weights where a pruner returned them), without training;
    the score step multiplies each by its mask."""
    base = trained_state(dense)
    arch = planted.instance.arch
    models = []
    for t in ablated.trainees:
        state = {**base, **{n: w.to(base[n].dtype) for n, w in (t.job.weights or {}).items()}}
        models.append(arch.build(state, torch.float32).eval())
    return Trained(tuple(models), dense, seconds)

