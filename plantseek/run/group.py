"""One cell group's steps (all cells of one planted instance), each a function from typed, frozen step outputs
to the next; :func:`plantseek.run.bundle.run_bundle` conducts them for one group or a bundle of groups.

* :func:`plant_step` -> :class:`Planted`: the seeded instance and its references (ticket and dense strong metrics);
* :func:`prune_step` -> :class:`Pruned`: each (pruner, density) pruned once, in prune workers
  (:mod:`plantseek.run.isolation.pruning`);
* :func:`ablate_step` -> :class:`Ablated`: each cell with a mask, its (ablated) mask on its host
  (:mod:`plantseek.run.ablations`);
* :func:`train_step` -> one :class:`Trained` per group: weak training of every distinct (mask, host) and of the
  dense host, several groups of one training signature in one ``train_masks`` call;
* :func:`score_step` -> :class:`Scored`: strong, weak and recovery metrics of every trainee;
* :func:`record_step`: one :class:`plantseek.records.cells.CellResult` per cell, failed cells with their reason.

Seeds: a pruner's generator from (seed, pruner, density), an ablation's from (seed, pruner, density, ablation),
one data order (seed "train") for every network of an instance. ``docs/design/run.md`` has the details.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch

from plantseek.core import seeding
from plantseek.core.progress import tick
from plantseek.core.errors import ConfigError, PlantseekError
from plantseek.core.types import Mask
from plantseek.planted.instance import PlantedInstance, plant
from plantseek.planted.secrets import key_fingerprint, load_key
from plantseek.planted.task import DataConfig
from plantseek.nets.masks import pack_mask, parameter_density, prunable_parameter_shapes
from plantseek.records.compute import compute_record
from plantseek.run.ablations import ablate, ablation_generator, has_strong_metric, host_for
from plantseek.run.generalise import generalisation_metrics
from plantseek.run.isolation.workers import isolation_summary
from plantseek.run.isolation.pruning import DEFAULT_PRUNE_TIMEOUT, PruneJob, job_key, prune_all
from plantseek.records.cells import CellConfig, CellResult
from plantseek.score.evaluation import model_metric, strong_metric, strong_scores_batched
from plantseek.score.divergence import constant_predictor_metric, divergence
from plantseek.families.registry import family_hook
from plantseek.score.known_optimum import optimum_metrics
from plantseek.score.metrics import recovery_metrics
from plantseek.score.multi_ticket import instance_ticket_metrics
from plantseek.score.routes import host_routes, route_recalls
from plantseek.nets.patterns import is_pattern_spec, pattern_density
from plantseek.score.patterns import pattern_metrics
from plantseek.train.config import biases_prunable
from plantseek.train.loop import train_masks
from plantseek.train.training_protocols import TRAINING_PROTOCOLS

Results = list[tuple[CellConfig, CellResult]]


@dataclass(frozen=True)
class Planted:
    """The plant step's output: the group's cells, its instance, its references and the run's provenance."""

    cells: tuple[CellConfig, ...]
    instance: PlantedInstance
    ticket_metric: float
    dense_metric: float
    provenance: Mapping[str, Any]


@dataclass(frozen=True)
class Pruned:
    """The prune step's output: one finished job per (pruner, density), each loaded pruner's protocol, and the
    provenance with what isolated the prune calls."""

    jobs: Mapping[tuple, PruneJob]  # by plantseek.run.isolation.pruning.job_key
    protocols: Mapping[str, str]
    provenance: Mapping[str, Any]

    def job_of(self, cell: CellConfig) -> PruneJob:
        return self.jobs[job_key(cell)]


@dataclass(frozen=True)
class Trainee:
    """A cell with a mask, as it is trained and scored: the (possibly ablated) mask and its host's weights."""

    cell: CellConfig
    job: PruneJob
    mask: Mask
    host: dict[str, torch.Tensor]
    planted_host: bool  # the host is the planted instance's (not a re-initialised one)


@dataclass(frozen=True)
class Ablated:
    """The ablate step's output: the cells with a mask, in cell order."""

    trainees: tuple[Trainee, ...]


@dataclass(frozen=True)
class Trained:
    """The train step's output for one group: one trained network per trainee, and the dense host."""

    models: tuple[Any, ...]
    dense_model: Any
    seconds: float  # wall-clock of the training call, per network


@dataclass(frozen=True)
class CellScores:
    """What the score step measured for one trainee."""

    strong: float  # through the mask's fitted readout; NaN for a re-initialised host
    strong_planted_scales: float  # read out with the planted output scales (plantseek.score.evaluation)
    strong_paper_readout: float  # read out as the paper's edge-popup model did (plantseek.score.evaluation)
    weak: float
    achieved_density: float
    recovery: dict[str, Any]


@dataclass(frozen=True)
class Scored:
    """The score step's output: the dense host's weak metric and one :class:`CellScores` per trainee."""

    dense_weak_metric: float
    scores: tuple[CellScores, ...]


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
    fraction of weights and biases the ticket keeps: its weights and the biases it does not prune); a pattern
    (``"2:4"``, ``"units:0.25"``) is a :class:`~plantseek.nets.patterns.PatternDensity`."""
    if is_pattern_spec(spec):
        return pattern_density(spec)
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


def plant_step(cells: Sequence[CellConfig], prov: Mapping[str, Any]) -> Planted:
    """Plant the group's instance and measure the references (raises PlantseekError for a bad instance)."""
    instance = instance_for(cells[0])
    tick("plant")  # planted: reported before the references are measured (seconds), the run's first tick
    return Planted(cells=tuple(cells), instance=instance, ticket_metric=strong_metric(instance, instance.ticket),
                   dense_metric=strong_metric(instance, None), provenance=prov)


def prune_step(planted: Planted, prune_timeout: float | None = DEFAULT_PRUNE_TIMEOUT) -> Pruned:
    """Prune each (pruner, density) of the group once (its ablation cells reuse the mask)."""
    jobs: dict[tuple, PruneJob] = {}
    for c in planted.cells:
        if job_key(c) not in jobs:
            jobs[job_key(c)] = PruneJob(c, resolve_density(c.density, planted.instance, biases_prunable(c.budget)))
    protocols = prune_all(jobs, planted.instance, prune_timeout)
    return Pruned(jobs, protocols, {**planted.provenance, "prune_isolation": isolation_summary()})


def ablate_step(planted: Planted, pruned: Pruned) -> Ablated:
    """One trainee per cell whose pruning succeeded: its (ablated) mask on its host."""
    trainees = []
    for c in planted.cells:
        job = pruned.job_of(c)
        if job.mask is None:
            continue
        mask = ablate(job.mask, c.ablation, ablation_generator(c))
        host = host_for(c, planted.instance)
        trainees.append(Trainee(c, job, mask, host, planted_host=host is planted.instance.initial_state))
    return Ablated(tuple(trainees))


@dataclass(frozen=True)
class TrainPlan:
    """One group's share of a training call: its distinct (mask, host) pairs as starts (each with its own
    generator), and which of them each trainee and, last, the dense host takes (``slot``)."""

    starts: list[dict[str, torch.Tensor]]
    masks: list[Mask]
    generators: list[torch.Generator]
    slot: list[int]


def train_plan(planted: Planted, ablated: Ablated) -> TrainPlan:
    """What :func:`train_step` trains for a group: every trainee and the dense host (last); identical
    (mask, host) pairs train to identical networks (same start, same data order), so each is listed once."""
    instance, first = planted.instance, planted.cells[0]
    train = instance.data.train
    dense_mask = {n: torch.ones(s, dtype=torch.bool) for n, s in instance.arch.weight_shapes().items()}
    masks = [t.mask for t in ablated.trainees] + [dense_mask]
    hosts = [t.host for t in ablated.trainees] + [instance.initial_state]
    planted_hosts = [t.planted_host for t in ablated.trainees] + [True]
    unique: dict[tuple, int] = {}
    slot = [unique.setdefault((tuple(m), pack_mask(m), p), len(unique)) for m, p in zip(masks, planted_hosts)]
    first_of = {i: k for k, i in reversed(list(enumerate(slot)))}
    todo = [first_of[i] for i in range(len(unique))]
    start = TRAINING_PROTOCOLS.get(first.training_protocol)
    starts = [start(hosts[k], masks[k], train.x, train.y, instance.task.kind, instance.arch) for k in todo]
    return TrainPlan(starts, [masks[k] for k in todo], [seeding.generator(first.seed, "train") for _ in todo], slot)


def train_step(groups: Sequence[tuple[Planted, Ablated]], device: str | None = None,
               own_data: bool = False) -> list[Trained]:
    """Weak training of the groups (one training signature: same architecture and loss) in one ``train_masks``
    call, every network with its group's generator; one :class:`Trained` per group. ``own_data``: every network
    gets its own instance's training split (a list, as a bundle of several groups trains); else the one group's
    split is passed once, shared."""
    if not own_data and len(groups) != 1:
        raise ValueError("train_step: several groups train with their own data (own_data=True)")
    t0 = time.perf_counter()
    plans = [train_plan(p, a) for p, a in groups]
    epochs = groups[0][0].cells[0].train.epochs  # the networks not trained (duplicates, failed prunes) count as done:
    tick("train", sum(len(p.cells) + 1 - len(plan.masks) for (p, _), plan in zip(groups, plans)) * epochs)
    first = groups[0][0]
    x, y = first.instance.data.train.x, first.instance.data.train.y
    if own_data:
        x = [p.instance.data.train.x for (p, _), plan in zip(groups, plans) for _ in plan.masks]
        y = [p.instance.data.train.y for (p, _), plan in zip(groups, plans) for _ in plan.masks]
    kwargs = {"device": device} if device else {}
    trained = train_masks(first.instance.arch, [s for p in plans for s in p.starts],
                          [m for p in plans for m in p.masks], x, y, first.instance.task.loss,
                          first.cells[0].train, [g for p in plans for g in p.generators], **kwargs)
    seconds = (time.perf_counter() - t0) / sum(len(p.slot) for p in plans)
    out, offset = [], 0
    for plan in plans:
        own = trained[offset:offset + len(plan.masks)]  # this group's networks, one per start
        models = [own[i] for i in plan.slot]
        out.append(Trained(tuple(models[:-1]), models[-1], seconds))
        offset += len(plan.masks)
    return out


def score_step(planted: Planted, ablated: Ablated, trained: Trained) -> Scored:
    """Strong metrics (batched, planted host only), weak metrics and recovery metrics of every trainee."""
    instance = planted.instance
    dense_weak_metric = model_metric(instance, trained.dense_model, None)
    strong = iter(strong_scores_batched(instance, [t.mask for t in ablated.trainees if has_strong_metric(t.cell)]))
    scores = []
    family_recovery = family_hook(instance.task.family, "recovery")
    owners = instance.task.weight_routes(instance.spec.depth)
    routes = host_routes(owners, instance.placement, instance.arch.weight_shapes()) if owners is not None else None
    generalise = iter(generalisation_metrics(instance, planted.cells[0],
                                             [(t.mask, t.host, t.planted_host) for t in ablated.trainees]))
    for t, model in zip(ablated.trainees, trained.models):
        score = next(strong) if has_strong_metric(t.cell) else None
        prunable_biases = biases_prunable(t.cell.budget)
        density, weight_density = achieved_densities(t.mask, instance, prunable_biases)
        recovery = {**recovery_metrics(t.mask, instance.ticket, instance.arch.structure()),
                    **instance_ticket_metrics(t.mask, instance.tickets, instance.arch.structure()),
                    **(family_recovery(t.mask, instance.ticket, instance.arch) if family_recovery else {}),
                    **(route_recalls(t.mask, routes) if routes is not None else {}), **next(generalise),
                    **pattern_metrics(t.mask, instance.ticket, t.cell.density),
                    **optimum_metrics(instance.spec.key(), t.mask)}
        scores.append(CellScores(
            strong=math.nan if score is None else score.metric,
            strong_planted_scales=math.nan if score is None else score.planted_scales,
            strong_paper_readout=math.nan if score is None else score.paper_readout,
            weak=model_metric(instance, model, t.mask), achieved_density=density,
            recovery={**recovery, "weight_density": weight_density} if prunable_biases else recovery))
    return Scored(dense_weak_metric, tuple(scores))


def record_step(planted: Planted, pruned: Pruned, ablated: Ablated, trained: Trained, scored: Scored) -> Results:
    """One result per cell, in cell order: scored cells ``ok`` (or ``diverged``, with the reason:
    :mod:`plantseek.score.divergence`), the others ``failed`` with their reason."""
    task = planted.instance.task
    common = dict(metric_name=task.metric_name, ticket_metric=planted.ticket_metric,
                  dense_metric=planted.dense_metric, dense_weak_metric=scored.dense_weak_metric,
                  higher_is_better=task.higher_is_better, provenance=pruned.provenance, family=task.family)
    done: dict[str, CellResult] = {}
    constant = constant_predictor_metric(planted.instance)
    for t, s in zip(ablated.trainees, scored.scores):
        diverged = "; ".join(filter(None, (
            divergence("weak", s.weak, constant, task.higher_is_better, task.metric_name),
            divergence("strong", s.strong, constant, task.higher_is_better, task.metric_name)
            if has_strong_metric(t.cell) else "")))
        done[t.cell.cell_id] = CellResult(
            status="diverged" if diverged else "ok", error=diverged, density=t.job.density,
            achieved_density=s.achieved_density, strong_metric=s.strong,
            weak_metric=s.weak, prune_seconds=t.job.prune_seconds, train_seconds=trained.seconds,
            protocol=protocol_of_cell(t.cell, pruned), metrics={**_metrics(s), **posttraining_metrics(t.cell, t.job)},
            mask=pack_mask(t.mask),
            compute=_compute(planted, pruned, t.cell), **common)
    out = []
    for c in planted.cells:
        job = pruned.job_of(c)
        result = done.get(c.cell_id) or CellResult(
            status="failed", error=job.error, density=job.density, prune_seconds=job.prune_seconds,
            protocol=protocol_of_cell(c, pruned), compute=_compute(planted, pruned, c), **common)
        out.append((c, result))
    return out


def protocol_of_cell(cell: CellConfig, pruned: Pruned) -> str:
    """The protocol a cell ran under: ``post-training`` for a post-training cell (whatever its pruner declares: the
    pruner saw the trained network and the network was not retrained), else its pruner's declared protocol."""
    return "post-training" if cell.post_training else pruned.protocols.get(cell.pruner, "")


def posttraining_metrics(cell: CellConfig, job: PruneJob) -> dict[str, Any]:
    """What a post-training cell stores beside its recovery metrics (flattened into load_results() columns): its
    calibration size and seed and whether its pruner updated weights ({} for other cells)."""
    if not cell.post_training:
        return {}
    return {"calibration_size": cell.calibration_size, "calibration_seed": cell.calibration_seed,
            "weights_updated": bool(job.weights)}


def _compute(planted: Planted, pruned: Pruned, cell: CellConfig) -> dict[str, float]:
    """The cell's compute record (:mod:`plantseek.records.compute`): what its pruner's worker counted, in FLOPs and in
    dense training runs of the cell's weak-training budget, and the parent's wall-clock of the prune request."""
    job, arch = pruned.job_of(cell), planted.instance.arch
    return compute_record(job.counts, job.parent_seconds, arch.forward_flops(), len(planted.instance.data.train.x),
                          cell.train.epochs, job.cpu_seconds, job.worker_seconds)


def _metrics(scores: CellScores) -> dict[str, Any]:
    """A cell's stored metrics: the recovery metrics, and the planted-scale and paper-readout strong metrics where
    there are some."""
    if math.isnan(scores.strong_planted_scales):
        return scores.recovery
    return {**scores.recovery, "strong_metric_planted_scales": scores.strong_planted_scales,
            "strong_metric_paper_readout": scores.strong_paper_readout}


def failed_instance(cells: Sequence[CellConfig], exc: PlantseekError, prov: Mapping[str, Any]) -> Results:
    """Every cell of a group whose instance cannot be planted, failed with the reason."""
    return [(c, CellResult(status="failed", error=f"instance: {exc}", provenance=prov)) for c in cells]
