"""Running one cell group (all cells of one planted instance) as a pipeline of named steps.

:func:`run_group` is ``plant -> prune -> ablate -> train -> score -> record``; each step is a function of the
:class:`GroupRun` state, testable alone:

1. :func:`plant_step`: plant the seeded instance (the ground truth stays inside it) and measure the references:
   the planted ticket's and the dense host's strong metrics;
2. :func:`prune_step`: prune each (pruner, density) once (:mod:`plantseek.run.pruning`: fresh host copy, seeded
   generator, time limit, crash capture, exact mask validation; the multi-shot pruners jointly);
3. :func:`ablate_step`: each cell with a mask gets what it evaluates: the mask itself, or a sanity ablation of it
   (:mod:`plantseek.run.ablations`: a ``shuffled`` mask, or a ``reinit`` host);
4. :func:`train_step`: trains every (mask, host) as a **weak** ticket (default Adam lr 1e-3, 10 epochs, batch 32,
   the mask fixed), plus the dense host as a reference, all through one ``train_masks`` call; identical
   (mask, host) pairs train once. Where training starts is the cells' training protocol
   (:mod:`plantseek.train.training_protocols`): ``paper``, the masked initial network as is; ``calibrated``, the same
   network function with a readout fitted on the training split and balanced neuron scales;
5. :func:`score_step`: the **strong** metric of every mask on the planted host (initial weights, a readout fitted
   per mask on the training split, test split; batched), the weak metric of every trained network, recovery
   metrics against the planted ticket;
6. :func:`record_step`: one :class:`plantseek.records.cells.CellResult` per cell; a cell whose pruning failed is a
   *failed* cell carrying the one-line reason.

Seeds: the pruner's generator derives from (seed, pruner, density), an ablation's from (seed, pruner, density,
ablation); every network of an instance is trained with the same data order (seed "train"), so masks are
compared on equal footing.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from plantseek.core import seeding
from plantseek.core.errors import ConfigError, PlantseekError
from plantseek.core.types import Mask
from plantseek.planted.instance import PlantedInstance, plant
from plantseek.planted.secrets import key_fingerprint, load_key
from plantseek.planted.task import DataConfig
from plantseek.nets.masks import pack_mask, parameter_density, prunable_parameter_shapes
from plantseek.records.compute import compute_record
from plantseek.run.ablations import ablate, ablation_generator, has_strong_metric, host_for
from plantseek.run.isolation import isolation_summary
from plantseek.run.pruning import DEFAULT_PRUNE_TIMEOUT, PruneJob, prune_all
from plantseek.records.cells import CellConfig, CellResult, provenance
from plantseek.score.evaluation import model_metric, strong_metric, strong_scores_batched
from plantseek.score.attention_metrics import architecture_recovery
from plantseek.score.metrics import recovery_metrics
from plantseek.train.config import biases_prunable
from plantseek.train.loop import train_masks
from plantseek.train.training_protocols import TRAINING_PROTOCOLS


@dataclass
class Trainee:
    """A cell with a mask, as it is trained and scored: the (possibly ablated) mask and its host's weights."""

    cell: CellConfig
    job: PruneJob
    mask: Mask
    host: dict[str, torch.Tensor]
    planted_host: bool  # the host is the planted instance's (not a re-initialised one)


@dataclass
class CellScores:
    """What the score step measured for one trainee."""

    strong: float  # through the mask's fitted readout; NaN for a re-initialised host
    strong_planted_scales: float  # read out with the planted output scales (plantseek.score.evaluation)
    weak: float
    achieved_density: float
    recovery: dict[str, Any]


@dataclass
class GroupRun:
    """The state the steps pass along, one group (one instance) at a time."""

    cells: Sequence[CellConfig]
    instance: PlantedInstance
    ticket_metric: float
    dense_metric: float
    provenance: dict[str, Any]
    jobs: "OrderedDict[tuple[str, str], PruneJob]" = field(default_factory=OrderedDict)  # by (pruner, density)
    protocols: dict[str, str] = field(default_factory=dict)  # of every pruner that loaded
    trainees: list[Trainee] = field(default_factory=list)  # the cells with a mask, in cell order
    models: list[Any] = field(default_factory=list)  # one trained network per trainee
    dense_model: Any = None  # the dense host after the same training
    train_seconds: float = math.nan  # wall-clock of the train step, per network
    dense_weak_metric: float = math.nan
    scores: list[CellScores] = field(default_factory=list)  # one per trainee

    def job_of(self, cell: CellConfig) -> PruneJob:
        return self.jobs[(cell.pruner, cell.density)]


def instance_for(cell: CellConfig) -> PlantedInstance:
    """The planted instance of a cell (the same for every cell of its group). A hidden cell's instance is planted
    from the configured leaderboard key, which must be the one whose fingerprint the cell records."""
    key = None
    if cell.instances == "hidden":
        key = load_key()
        if key_fingerprint(key) != cell.key_fingerprint:
            raise ConfigError(f"the configured leaderboard key (fingerprint {key_fingerprint(key)}) is not the key "
                              f"of this hidden cell (fingerprint {cell.key_fingerprint})")
    return plant(cell.task, depth=cell.depth, width=cell.width, seed=cell.seed,
                 data=DataConfig(n_samples=cell.n_samples), key=key, **dict(cell.task_options))


def resolve_density(spec: str, instance: PlantedInstance, prunable_biases: bool = False) -> float:
    """A cell's density spec as a number: ``"ticket"`` is the planted ticket's density (with prunable biases, the
    fraction of weights and biases the ticket keeps: its weights and the biases it does not prune)."""
    if spec != "ticket":
        return float(spec)
    if not prunable_biases:
        return instance.ticket_density
    return parameter_density(instance.ticket, prunable_parameter_shapes(instance.arch, True))


def achieved_densities(mask: Mask, instance: PlantedInstance, prunable_biases: bool) -> tuple[float, float]:
    """``(density, weight density)`` of a mask: the fraction of prunable parameters kept (weights, and biases when
    they are prunable) and the fraction of weights kept (equal without prunable biases)."""
    weights = parameter_density(mask, instance.arch.weight_shapes())
    if not prunable_biases:
        return weights, weights
    return parameter_density(mask, prunable_parameter_shapes(instance.arch, True)), weights


def plant_step(cells: Sequence[CellConfig], prov: dict[str, Any]) -> GroupRun:
    """Plant the group's instance and measure the references (raises PlantseekError for a bad instance)."""
    instance = instance_for(cells[0])
    return GroupRun(cells=cells, instance=instance, ticket_metric=strong_metric(instance, instance.ticket),
                    dense_metric=strong_metric(instance, None), provenance=prov)


def prune_step(run: GroupRun, prune_timeout: float | None = DEFAULT_PRUNE_TIMEOUT) -> None:
    """Prune each (pruner, density) of the group once (its ablation cells reuse the mask)."""
    for c in run.cells:
        if (c.pruner, c.density) not in run.jobs:
            density = resolve_density(c.density, run.instance, biases_prunable(c.budget))
            run.jobs[(c.pruner, c.density)] = PruneJob(c, density)
    run.protocols = prune_all(run.jobs, run.instance, prune_timeout)
    run.provenance = {**run.provenance, "prune_isolation": isolation_summary()}


def ablate_step(run: GroupRun) -> None:
    """One trainee per cell whose pruning succeeded: its (ablated) mask on its host."""
    run.trainees = []
    for c in run.cells:
        job = run.job_of(c)
        if job.mask is None:
            continue
        mask = ablate(job.mask, c.ablation, ablation_generator(c))
        host = host_for(c, run.instance)
        run.trainees.append(Trainee(c, job, mask, host, planted_host=host is run.instance.initial_state))


@dataclass
class TrainPlan:
    """One instance's share of a training call: its distinct (mask, host) pairs as starts (each with its own
    generator), and which of them each trainee and, last, the dense host takes (``slot``)."""

    starts: list[dict[str, torch.Tensor]]
    masks: list[Mask]
    generators: list[torch.Generator]
    slot: list[int]


def train_plan(run: GroupRun) -> TrainPlan:
    """What :func:`train_step` trains for a group: every trainee and the dense host (last); identical
    (mask, host) pairs train to identical networks (same start, same data order), so each is listed once."""
    instance, first = run.instance, run.cells[0]
    train = instance.data.train
    dense_mask = {n: torch.ones(s, dtype=torch.bool) for n, s in instance.arch.weight_shapes().items()}
    masks = [t.mask for t in run.trainees] + [dense_mask]
    hosts = [t.host for t in run.trainees] + [instance.initial_state]
    planted = [t.planted_host for t in run.trainees] + [True]
    unique: dict[tuple, int] = {}
    slot = [unique.setdefault((tuple(m), pack_mask(m), p), len(unique)) for m, p in zip(masks, planted)]
    first_of = {i: k for k, i in reversed(list(enumerate(slot)))}
    todo = [first_of[i] for i in range(len(unique))]
    start = TRAINING_PROTOCOLS.get(first.training_protocol)
    starts = [start(hosts[k], masks[k], train.x, train.y, instance.task.kind, instance.arch) for k in todo]
    return TrainPlan(starts, [masks[k] for k in todo], [seeding.generator(first.seed, "train") for _ in todo], slot)


def take_trained(run: GroupRun, plan: TrainPlan, trained: Sequence[Any], seconds: float) -> None:
    """Hand the networks trained for ``plan`` (one per start) to the trainees and the dense host; ``seconds``:
    the wall-clock of the training, the same share for every network."""
    models = [trained[i] for i in plan.slot]
    run.train_seconds = seconds
    run.models, run.dense_model = models[:-1], models[-1]


def train_step(run: GroupRun, device: str | None = None) -> None:
    """Weak training of every trainee and of the dense host (last), in one ``train_masks`` call; identical
    (mask, host) pairs train to identical networks (same start, same data order), so each trains once."""
    instance = run.instance
    train = instance.data.train
    t0 = time.perf_counter()
    plan = train_plan(run)
    kwargs = {"device": device} if device else {}
    trained = train_masks(instance.arch, plan.starts, plan.masks, train.x, train.y, instance.task.loss,
                          run.cells[0].train, plan.generators, **kwargs)
    take_trained(run, plan, trained, (time.perf_counter() - t0) / len(plan.slot))


def score_step(run: GroupRun) -> None:
    """Strong metrics (batched, planted host only), weak metrics and recovery metrics of every trainee."""
    instance = run.instance
    run.dense_weak_metric = model_metric(instance, run.dense_model, None)
    strong = iter(strong_scores_batched(instance, [t.mask for t in run.trainees if has_strong_metric(t.cell)]))
    run.scores = []
    for t, model in zip(run.trainees, run.models):
        score = next(strong) if has_strong_metric(t.cell) else None
        prunable_biases = biases_prunable(t.cell.budget)
        density, weight_density = achieved_densities(t.mask, instance, prunable_biases)
        recovery = {**recovery_metrics(t.mask, instance.ticket, instance.arch.structure()),
                    **architecture_recovery(t.mask, instance.ticket, instance.arch)}
        run.scores.append(CellScores(
            strong=math.nan if score is None else score.metric,
            strong_planted_scales=math.nan if score is None else score.planted_scales,
            weak=model_metric(instance, model, t.mask), achieved_density=density,
            recovery={**recovery, "weight_density": weight_density} if prunable_biases else recovery))


def record_step(run: GroupRun) -> list[tuple[CellConfig, CellResult]]:
    """One result per cell, in cell order: scored cells ``ok``, the others ``failed`` with their reason."""
    task = run.instance.task
    common = dict(metric_name=task.metric_name, ticket_metric=run.ticket_metric, dense_metric=run.dense_metric,
                  dense_weak_metric=run.dense_weak_metric, higher_is_better=task.higher_is_better,
                  provenance=run.provenance)
    done: dict[str, CellResult] = {}
    for t, s in zip(run.trainees, run.scores):
        done[t.cell.cell_id] = CellResult(
            status="ok", density=t.job.density, achieved_density=s.achieved_density, strong_metric=s.strong,
            weak_metric=s.weak, prune_seconds=t.job.prune_seconds, train_seconds=run.train_seconds,
            protocol=run.protocols.get(t.cell.pruner, ""), metrics=_metrics(s), mask=pack_mask(t.mask),
            compute=_compute(run, t.cell), **common)
    out = []
    for c in run.cells:
        job = run.job_of(c)
        result = done.get(c.cell_id) or CellResult(
            status="failed", error=job.error, density=job.density, prune_seconds=job.prune_seconds,
            protocol=run.protocols.get(c.pruner, ""), compute=_compute(run, c), **common)
        out.append((c, result))
    return out


def _compute(run: GroupRun, cell: CellConfig) -> dict[str, float]:
    """The cell's compute record (:mod:`plantseek.records.compute`): what its pruner's worker counted, in FLOPs and in
    dense training runs of the cell's weak-training budget, and the parent's wall-clock of the prune request."""
    job, arch = run.job_of(cell), run.instance.arch
    return compute_record(job.counts, job.parent_seconds, arch.forward_flops(), len(run.instance.data.train.x),
                          cell.train.epochs, job.cpu_seconds, job.worker_seconds)


def _metrics(scores: CellScores) -> dict[str, Any]:
    """A cell's stored metrics: the recovery metrics, and the planted-scale strong metric where there is one."""
    if math.isnan(scores.strong_planted_scales):
        return scores.recovery
    return {**scores.recovery, "strong_metric_planted_scales": scores.strong_planted_scales}


def failed_instance(cells: Sequence[CellConfig], exc: PlantseekError,
                    prov: dict[str, Any]) -> list[tuple[CellConfig, CellResult]]:
    """Every cell of a group whose instance cannot be planted, failed with the reason."""
    return [(c, CellResult(status="failed", error=f"instance: {exc}", provenance=prov)) for c in cells]


def run_group(cells: Sequence[CellConfig], prune_timeout: float | None = DEFAULT_PRUNE_TIMEOUT,
              device: str | None = None) -> list[tuple[CellConfig, CellResult]]:
    """Run all cells of one instance through the steps; never raises for a failing pruner (its cells are
    marked failed) nor for an instance that cannot be planted (all cells failed)."""
    prov = provenance()
    try:
        run = plant_step(cells, prov)
    except PlantseekError as exc:
        return failed_instance(cells, exc, prov)
    prune_step(run, prune_timeout)
    ablate_step(run)
    train_step(run, device)
    score_step(run)
    return record_step(run)
