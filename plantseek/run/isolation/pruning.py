"""Calling pruners safely: the prune step of a cell group, parent side.

For one planted instance, every pruner gets its cells (one :class:`PruneJob` per density). Every prune call runs
in a prune worker (:mod:`.workers`): a fresh process, restricted (:mod:`.sandbox`), that receives only the
contract's arguments: the host's architecture and initial weights (it builds a fresh host per call), the training
split and the loss kind, the density, a generator state per job, the budget. The instance, its ticket, the test
split, the scorer and the store stay here. A worker serves the calls of one pruner on one instance (a new one
after a call that killed it), never another pruner's; only the registered multi-shot pruners (our own code) share
one, to train their rounds jointly (:func:`prune_jointly_or_alone`; the masks equal those of separate runs). Each
request is timed here, wall-clock and the worker's CPU seconds (what the worker reports of itself is self-reported).

What comes back is decoded strictly and validated exactly here (:func:`plantseek.nets.masks.validate_pruned_mask`:
keys, shapes, dtype bool, kept count = ``kept_count(density)``; with the budget's ``prunable_biases`` every bias
entry is required and counted). A pruner that raises, hangs past the time limit (the worker is killed), exceeds
the memory limit, kills its worker or returns a bad mask fails its jobs with a one-line reason; nothing else is
affected.

Post-training cells (:mod:`plantseek.prune.posttraining`): the context holds the densely trained host's weights
(``trained_state``), which the workers receive instead of the initial weights, and no training split; each job carries
its calibration set (drawn from the training split here). A job may come back with updated weights, decoded and
validated here like the mask (:func:`plantseek.prune.posttraining.validate_weights`). Every job is a single call (no
batches, no joint runs); a ``post-training`` pruner outside a post-training cell fails its jobs with one line.
"""

from __future__ import annotations

import base64
import math
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from plantseek.core import seeding
from plantseek.core.errors import PlantseekError
from plantseek.core.reasons import sanitise_reason
from plantseek.core.types import Mask
from plantseek.core.progress import tick
from plantseek.planted.instance import PlantedInstance
from plantseek.prune.contract import PROTOCOLS, get_pruner, is_file_ref, protocol_of
from plantseek.nets.masks import unpack_mask, validate_pruned_mask
from plantseek.prune.posttraining import PROTOCOL as POST_TRAINING, calibration_indices, validate_weights
from plantseek.records.compute import checked_counts
from plantseek.train.config import biases_prunable
from plantseek.run.isolation.workers import PruneWorker, WorkerFailure, WorkerLimits
from plantseek.records.cells import CellConfig

DEFAULT_PRUNE_TIMEOUT = 1800.0


@dataclass
class PruneJob:
    """One (pruner, density) of an instance: pruned once, shared by the cells (ablations) that use it."""

    config: CellConfig  # the first cell asking for it
    density: float  # the requested density as a number ("ticket" resolved)
    mask: Mask | None = None  # the validated mask, or None if pruning failed
    prune_seconds: float = math.nan  # the request's wall-clock measured here (its share when batched)
    error: str = ""  # one line when pruning failed
    counts: dict[str, float] | None = None  # what the worker counted (self-reported: COUNTS), or None
    parent_seconds: float = math.nan  # the request's wall-clock measured here (its share when batched)
    cpu_seconds: float = math.nan  # the worker's CPU seconds over the request, the kernel's count (its share)
    worker_seconds: float = math.nan  # the worker's own clock of the prune call (self-reported)
    weights: dict[str, torch.Tensor] | None = None  # post-training: validated updated weights (float64), if any


def one_line(exc: BaseException) -> str:
    """An exception as one line: a plantseek error's own message, else its type, message and place."""
    if isinstance(exc, PlantseekError):
        text = str(exc)
    else:
        where = ""
        tb = traceback.extract_tb(exc.__traceback__)
        if tb:
            where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}"
        text = f"{type(exc).__name__}: {exc}{where}"
    return " ".join(text.split())[:500]


def prune_generators(jobs: list[PruneJob]) -> list[torch.Generator]:
    """One seeded generator per job, from (seed, pruner, density), and for a post-training cell its calibration
    size and seed."""
    return [seeding.generator(j.config.seed, "prune", j.config.pruner, j.config.density,
                              *(("calibration", j.config.calibration_size, j.config.calibration_seed)
                                if j.config.post_training else ()))
            for j in jobs]


def job_key(cell: CellConfig) -> tuple:
    """The prune job a cell uses: (pruner, density), and a post-training cell's calibration size and seed (its
    sanity ablations share their pruner's job)."""
    if cell.post_training:
        return (cell.pruner, cell.density, cell.calibration_size, cell.calibration_seed)
    return (cell.pruner, cell.density)


def clean(text: object) -> str:
    """A worker's text (untrusted) as one printable line (:func:`plantseek.core.reasons.sanitise_reason`)."""
    return sanitise_reason(text)


@dataclass
class PruneContext:
    """One instance's prune step: what workers receive, the limits, what the parent validates against."""

    instance: PlantedInstance
    timeout: float | None
    limits: WorkerLimits = field(default_factory=WorkerLimits.from_environment)
    sandbox: str = ""  # what the workers applied (the last one started)
    trained_state: dict[str, torch.Tensor] | None = None  # post-training: the densely trained host's weights

    @property
    def post_training(self) -> bool:
        return self.trained_state is not None

    def setup(self) -> dict[str, Any]:
        """The contract's arguments, nothing else: architecture, initial weights, training split, loss kind. In
        post-training: the trained weights and no training split (each job carries its calibration set)."""
        train = self.instance.data.train
        if self.trained_state is not None:
            return dict(arch=self.instance.arch, initial_state=self.trained_state, x=train.x[:0], y=train.y[:0],
                        kind=self.instance.task.kind)
        return dict(arch=self.instance.arch, initial_state=self.instance.initial_state, x=train.x, y=train.y,
                    kind=self.instance.task.kind)

    def calibration(self, cell: CellConfig) -> tuple[torch.Tensor, torch.Tensor]:
        """A post-training cell's calibration set: training samples only (:func:`calibration_indices`)."""
        train = self.instance.data.train
        idx = calibration_indices(cell.seed, cell.calibration_seed, cell.calibration_size, len(train.x))
        return train.x[idx].clone(), train.y[idx].clone()

    def worker(self, refs: list[str]) -> tuple[PruneWorker, list[dict[str, Any]]]:
        """A fresh worker with the pruners ``refs`` loaded; per pruner its description (or loading error)."""
        files = tuple(r for r in refs if is_file_ref(r))
        worker = PruneWorker(self.setup(), self.limits, files)
        self.sandbox = worker.sandbox
        try:
            reply = worker.request(("load", refs), self.timeout, f"loading pruner(s) {', '.join(refs)}")
            described = reply.get("pruners")
            if not isinstance(described, list) or len(described) != len(refs):
                raise WorkerFailure(worker.garbage("no description of the pruners"))
        except BaseException:
            worker.close()
            raise
        return worker, [d if isinstance(d, dict) else {"error": "worker answered garbage"} for d in described]


class LoadedPruner:
    """What the parent knows of a pruner loaded in a worker: its protocol and which optional methods it has
    (an attribute ``prune_batch`` / ``run_rounds`` set when it has the method)."""

    def __init__(self, description: dict[str, Any]) -> None:
        self.protocol = description.get("protocol")
        self.name = clean(description.get("name", ""))[:200]
        if self.protocol not in PROTOCOLS:
            raise WorkerFailure(f"worker answered garbage (protocol {clean(self.protocol)!r})")
        for method in ("prune_batch", "run_rounds"):
            if method in (description.get("methods") or []):
                setattr(self, method, True)


def job_spec(job: PruneJob, generator: torch.Generator, ctx: PruneContext | None = None) -> tuple:
    """What a worker gets for a job: the density, its generator's state and the budget; in post-training, its
    calibration set (x, y) too."""
    if ctx is not None and ctx.post_training:
        return (job.density, generator.get_state(), job.config.budget, ctx.calibration(job.config))
    return (job.density, generator.get_state(), job.config.budget)


def decode_mask(entry: dict[str, Any], job: PruneJob, arch: Any) -> Mask:
    """A mask from a worker's answer (untrusted): only known entries of the right shapes, then validated."""
    known = {**arch.weight_shapes(), **arch.bias_shapes()}
    shapes = {str(name): tuple(int(d) for d in shape) for name, shape in entry["shapes"]}
    wrong = [n for n, s in shapes.items() if known.get(n) != s]
    if wrong:
        raise PlantseekError(f"mask entries {', '.join(map(repr, wrong))} not of the network's shapes")
    mask = unpack_mask(base64.b64decode(entry["bits"], validate=True), shapes)
    return validate_pruned_mask(mask, arch, job.density, biases_prunable(job.config.budget))


def decode_weights(entries: Any, ctx: PruneContext) -> dict[str, torch.Tensor]:
    """Updated weights from a worker's answer (untrusted; post-training cells only): ``[name, shape, float64 bits]``
    entries of the network's parameters, validated exactly (:func:`validate_weights`)."""
    if not ctx.post_training:
        raise PlantseekError("updated weights are accepted in post-training cells only")
    shapes = ctx.instance.arch.parameter_shapes()
    out = {}
    for name, shape, bits in entries:
        name, shape = str(name), tuple(int(d) for d in shape)
        if shapes.get(name) != shape:
            raise PlantseekError(f"updated weights[{name[:100]!r}] not of the network's shapes")
        raw = base64.b64decode(bits, validate=True)
        if len(raw) != 8 * math.prod(shape):
            raise PlantseekError(f"updated weights[{name!r}]: {len(raw)} bytes for shape {shape}")
        out[name] = torch.frombuffer(bytearray(raw), dtype=torch.float64).reshape(shape).clone()
    return validate_weights(out, shapes)


def accept(job: PruneJob, entry: Any, ctx: PruneContext, what: str) -> None:
    """Record one job's answer: a validated mask, or a one-line error."""
    if not isinstance(entry, dict):
        job.error = f"{what}: worker answered garbage"
        return
    seconds = entry.get("seconds", math.nan)
    job.worker_seconds = float(seconds) if isinstance(seconds, (int, float)) else math.nan
    job.prune_seconds = job.parent_seconds  # what a pruner cannot rewrite
    job.counts = checked_counts(entry.get("spent"))
    if "crash" in entry:
        job.error = f"{what} crashed: {clean(entry['crash'])}"
    elif "memory" in entry:
        job.error = f"{what} exceeded the memory limit of {ctx.limits.memory_text()} ({clean(entry['memory'])})"
    elif "invalid" in entry:
        job.error = f"{what} returned an invalid mask: {clean(entry['invalid'])}"
    else:
        try:
            job.mask = decode_mask(entry, job, ctx.instance.arch)
            job.weights = decode_weights(entry.get("weights"), ctx) if "weights" in entry else None
        except PlantseekError as exc:
            job.mask = None
            job.error = f"{what} returned an invalid mask: {clean(exc)}"
        except (KeyError, TypeError, ValueError) as exc:
            job.error = f"{what}: worker answered garbage ({clean(type(exc).__name__)})"


def timed_request(worker: PruneWorker, message: Any, limit: float | None, what: str, jobs: list[PruneJob]) -> Any:
    """``worker.request``, its wall-clock and the worker's CPU seconds (both measured here, not by the worker) shared
    among ``jobs``."""
    t0, cpu0 = time.perf_counter(), worker.cpu_seconds()
    try:
        return worker.request(message, limit, what)
    finally:
        wall, cpu = time.perf_counter() - t0, worker.cpu_seconds() - cpu0
        for job in jobs:
            job.parent_seconds, job.cpu_seconds = wall / len(jobs), cpu / len(jobs)
        tick("prune", len(jobs))


def accept_all(jobs: list[PruneJob], answer: Any, ctx: PruneContext, what: str) -> None:
    """A batch answer: one entry per job, or one failure for all."""
    results = answer.get("results") if isinstance(answer, dict) else None
    if isinstance(results, list) and len(results) == len(jobs):
        for job, entry in zip(jobs, results):
            accept(job, entry, ctx, what)
    else:
        for job in jobs:
            accept(job, answer if isinstance(answer, dict) and "results" not in answer else None, ctx, what)


def prune_cells(ref: str, pruner: LoadedPruner, jobs: list[PruneJob], ctx: PruneContext,
                worker: PruneWorker | None = None) -> None:
    """Run one pruner on its jobs of one instance (batched when it has ``prune_batch``), in a worker (``worker``
    if given, else a fresh one; a new one after a call that killed it); fill masks or errors."""
    what = f"pruner {ref!r}"
    try:
        if getattr(pruner, "prune_batch", None) and len(jobs) > 1 and not ctx.post_training:
            specs = [job_spec(j, g) for j, g in zip(jobs, prune_generators(jobs))]
            try:
                worker = worker or _fresh_worker(ref, ctx)
                answer = timed_request(worker, ("batch", ref, specs), ctx.timeout and ctx.timeout * len(jobs), what,
                                       jobs)
            except (WorkerFailure, PlantseekError) as exc:
                answer = {"failure": _failure_text(str(exc), what)}
            _accept_batch(jobs, answer, ctx, what)
            return
        for job, generator in zip(jobs, prune_generators(jobs)):
            try:
                if worker is None or not worker.alive:
                    if worker is not None:
                        worker.close()
                    worker = _fresh_worker(ref, ctx)
                accept(job, timed_request(worker, ("one", ref, job_spec(job, generator, ctx)), ctx.timeout, what,
                                          [job]), ctx, what)
            except (WorkerFailure, PlantseekError) as exc:
                job.error = _failure_text(str(exc), what)
    finally:
        if worker is not None:
            worker.close()


def _fresh_worker(ref: str, ctx: PruneContext) -> PruneWorker:
    """A new worker with the pruner loaded (PlantseekError: it does not load there)."""
    worker, [description] = ctx.worker([ref])
    if "error" in description:
        worker.close()
        raise PlantseekError(clean(description["error"]))
    worker.described = description
    return worker


def _failure_text(reason: str, what: str) -> str:
    return reason if reason.startswith(what) else f"{what}: {reason}"


def _accept_batch(jobs: list[PruneJob], answer: dict[str, Any], ctx: PruneContext, what: str) -> None:
    if "failure" in answer:
        for job in jobs:
            job.error = answer["failure"]
    else:
        accept_all(jobs, answer, ctx, what)


def prune_jointly_or_alone(pruners: list[tuple[str, LoadedPruner, list[PruneJob]]], ctx: PruneContext) -> None:
    """Run several multi-shot pruners on their jobs of one instance in one worker, their rounds trained as one
    batch (:func:`plantseek.prune.schedules.prune_jointly`; the masks equal those of separate runs). A crashing
    pruner fails its own jobs. Should the joint run time out (limit: the per-call limit times the number of
    jobs), its worker die or a joint training call fail, every pruner is run again on its own, so that the
    failure falls on its cause."""
    n_jobs = sum(len(jobs) for _, _, jobs in pruners)
    names = ", ".join(repr(ref) for ref, _, _ in pruners)
    groups = [(ref, [job_spec(j, g) for j, g in zip(jobs, prune_generators(jobs))]) for ref, _, jobs in pruners]
    try:
        worker, _ = ctx.worker([ref for ref, _, _ in pruners])
        with worker:
            answer = timed_request(worker, ("joint", groups), ctx.timeout and ctx.timeout * n_jobs,
                                   f"pruners {names} (run jointly)", [j for _, _, jobs in pruners for j in jobs])
        outcomes = answer.get("outcomes")
        if not isinstance(outcomes, list) or len(outcomes) != len(pruners):
            raise WorkerFailure("joint run failed")
    except WorkerFailure:
        for ref, pruner, jobs in pruners:
            prune_cells(ref, pruner, jobs, ctx)
        return
    for (ref, _, jobs), outcome in zip(pruners, outcomes):
        accept_all(jobs, outcome, ctx, f"pruner {ref!r}")


def joins_others(ref: str, pruner: Any) -> bool:
    """Whether a pruner takes part in joint pruning: a registered multi-shot schedule (a file-referenced
    pruner always runs alone, in its own worker)."""
    return not is_file_ref(ref) and bool(getattr(pruner, "run_rounds", None))


def describe(ref: str, ctx: PruneContext) -> tuple[LoadedPruner, PruneWorker | None]:
    """A pruner's description. A registered pruner (our code or an installed plug-in) is described here; a
    file-referenced one is loaded in a worker only (which is returned, to prune with)."""
    if not is_file_ref(ref):
        pruner = get_pruner(ref)
        methods = [m for m in ("prune_batch", "run_rounds") if callable(getattr(pruner, m, None))]
        return LoadedPruner({"protocol": protocol_of(pruner), "methods": methods}), None
    worker = _fresh_worker(ref, ctx)
    try:
        return LoadedPruner(worker.described), worker
    except WorkerFailure:
        worker.close()
        raise


def prune_all(jobs: "OrderedDict[tuple, PruneJob]", instance: PlantedInstance,
              timeout: float | None, limits: WorkerLimits | None = None,
              trained_state: dict[str, torch.Tensor] | None = None) -> dict[str, str]:
    """Prune every job (keyed by :func:`job_key`, the pruner first) in place: describe each pruner once (a pruner that
    does not load fails its jobs), run the single ones alone and the multi-shot ones jointly, each in worker
    processes. ``trained_state``: the jobs are post-training cells' (every job alone, on the trained weights).
    Returns each loaded pruner's protocol."""
    ctx = PruneContext(instance, timeout, limits or WorkerLimits.from_environment(), trained_state=trained_state)
    by_pruner: "OrderedDict[str, list[PruneJob]]" = OrderedDict()
    for (ref, *_), job in jobs.items():
        by_pruner.setdefault(ref, []).append(job)
    protocols: dict[str, str] = {}
    joint: list[tuple[str, LoadedPruner, list[PruneJob]]] = []
    for ref, group in by_pruner.items():
        try:
            pruner, worker = describe(ref, ctx)
        except (PlantseekError, WorkerFailure) as exc:
            for job in group:
                job.error = _failure_text(str(exc), f"pruner {ref!r}") if isinstance(exc, WorkerFailure) else str(exc)
            continue
        protocols[ref] = pruner.protocol
        if pruner.protocol == POST_TRAINING and not ctx.post_training:
            if worker is not None:
                worker.close()
            for job in group:
                job.error = (f"pruner {ref!r} is a post-training pruner: it runs in post-training cells only "
                             "(calibration_size > 0, e.g. the posttraining-default suite)")
            continue
        if joins_others(ref, pruner) and not ctx.post_training:
            if worker is not None:
                worker.close()
            joint.append((ref, pruner, group))
        else:
            prune_cells(ref, pruner, group, ctx, worker)
    if len(joint) > 1:
        prune_jointly_or_alone(joint, ctx)
    else:
        for ref, pruner, group in joint:
            prune_cells(ref, pruner, group, ctx)
    return protocols
