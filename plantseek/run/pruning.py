"""Calling pruners safely: the prune step of a cell group.

For one planted instance, every pruner gets its cells (one :class:`PruneJob` per density) and is called with a
fresh host copy at the initial weights, the training split, a seeded generator per job and the training budget.
Only the prune call is timed. What comes back is validated exactly (:func:`plantseek.prune.masks.validate_mask`:
keys, shapes, dtype bool, kept count = ``kept_count(density)``). A pruner that raises, hangs past the time limit
or returns a bad mask fails its jobs with a one-line reason; nothing else is affected.

The registered multi-shot pruners of an instance run jointly, their rounds trained as one batch
(:func:`prune_jointly_or_alone`); the masks equal those of separate runs.
"""

from __future__ import annotations

import math
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from plantseek.core import seeding
from plantseek.core.errors import PlantseekError
from plantseek.core.types import Mask
from plantseek.planted.instance import PlantedInstance
from plantseek.prune.contract import get_pruner, is_file_ref, protocol_of
from plantseek.prune.masks import kept_count, validate_mask
from plantseek.run.records import CellConfig
from plantseek.run.timeout import time_limit

DEFAULT_PRUNE_TIMEOUT = 1800.0


@dataclass
class PruneJob:
    """One (pruner, density) of an instance: pruned once, shared by the cells (ablations) that use it."""

    config: CellConfig  # the first cell asking for it
    density: float  # the requested density as a number ("ticket" resolved)
    mask: Mask | None = None  # the validated mask, or None if pruning failed
    prune_seconds: float = math.nan
    error: str = ""  # one line when pruning failed


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
    """One seeded generator per job, from (seed, pruner, density)."""
    return [seeding.generator(j.config.seed, "prune", j.config.pruner, j.config.density) for j in jobs]


def accept_masks(jobs: list[PruneJob], results: list[tuple[Any, float]], instance: PlantedInstance,
                 what: str) -> None:
    """Record (mask or exception, seconds) per job: a validated mask, or a one-line error."""
    shapes = instance.arch.weight_shapes()
    optional = instance.arch.bias_shapes()
    for job, (mask, seconds) in zip(jobs, results):
        job.prune_seconds = seconds
        if isinstance(mask, BaseException):
            job.error = f"{what} crashed: {one_line(mask)}"
            continue
        try:
            job.mask = validate_mask(mask, shapes, kept_count(job.density, instance.arch.n_prunable), optional)
        except PlantseekError as exc:
            job.error = f"{what} returned an invalid mask: {exc}"


def _prune_batch(pruner: Any, jobs: list[PruneJob], instance: PlantedInstance,
                 timeout: float | None) -> list[tuple[Any, float]] | None:
    """All densities through one ``prune_batch`` call (time limit: per-call limit x jobs); None if it crashed
    (then every job has its error)."""
    what = f"pruner {jobs[0].config.pruner!r}"
    try:
        with time_limit(timeout and timeout * len(jobs), what):
            t0 = time.perf_counter()
            masks = pruner.prune_batch(instance.host(), instance.pruner_data(), [j.density for j in jobs],
                                       generators=prune_generators(jobs), budget=jobs[0].config.budget)
            share = (time.perf_counter() - t0) / len(jobs)
        if not isinstance(masks, (list, tuple)) or len(masks) != len(jobs):
            raise PlantseekError(f"{what}: prune_batch returned {type(masks).__name__}, not one mask per density")
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - a crashing pruner fails its cells, nothing else
        for job in jobs:
            job.error = f"{what} crashed: {one_line(exc)}"
        return None
    return [(m, share) for m in masks]


def _prune_one_by_one(pruner: Any, jobs: list[PruneJob], instance: PlantedInstance,
                      timeout: float | None) -> list[tuple[Any, float]]:
    """One ``prune`` call per density, each under the time limit; a crash is returned in place of its mask."""
    data = instance.pruner_data()
    what = f"pruner {jobs[0].config.pruner!r}"
    results: list[tuple[Any, float]] = []
    for job, generator in zip(jobs, prune_generators(jobs)):
        try:
            with time_limit(timeout, what):
                t0 = time.perf_counter()
                mask = pruner.prune(instance.host(), data, job.density, generator=generator,
                                    budget=job.config.budget)
                results.append((mask, time.perf_counter() - t0))
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001
            results.append((exc, math.nan))
    return results


def prune_cells(pruner: Any, jobs: list[PruneJob], instance: PlantedInstance, timeout: float | None) -> None:
    """Run one pruner on its jobs of one instance (batched when it has ``prune_batch``); fill masks or errors."""
    if callable(getattr(pruner, "prune_batch", None)) and len(jobs) > 1:
        results = _prune_batch(pruner, jobs, instance, timeout)
        if results is None:
            return
    else:
        results = _prune_one_by_one(pruner, jobs, instance, timeout)
    accept_masks(jobs, results, instance, f"pruner {jobs[0].config.pruner!r}")


def prune_jointly_or_alone(pruners: list[tuple[Any, list[PruneJob]]], instance: PlantedInstance,
                           timeout: float | None) -> None:
    """Run several multi-shot pruners on their jobs of one instance, their rounds trained as one batch
    (:func:`plantseek.prune.schedules.prune_jointly`; the masks equal those of separate runs). A crashing pruner
    fails its own jobs. Should the joint run time out (limit: the per-call limit times the number of jobs) or a
    joint training call fail, every pruner is run again on its own, so that the failure falls on its cause."""
    from plantseek.prune.schedules import prune_jointly

    n_jobs = sum(len(jobs) for _, jobs in pruners)
    names = ", ".join(repr(jobs[0].config.pruner) for _, jobs in pruners)
    try:
        with time_limit(timeout and timeout * n_jobs, f"pruners {names} (run jointly)"):
            schedules = [pruner.run_rounds(instance.host(), instance.pruner_data(), [j.density for j in jobs],
                                           generators=prune_generators(jobs), budget=jobs[0].config.budget)
                         for pruner, jobs in pruners]
            t0 = time.perf_counter()
            outcomes = prune_jointly(schedules)
            share = (time.perf_counter() - t0) / n_jobs
    except KeyboardInterrupt:
        raise
    except BaseException:  # noqa: BLE001 - retried one by one below
        for pruner, jobs in pruners:
            prune_cells(pruner, jobs, instance, timeout)
        return
    for (pruner, jobs), outcome in zip(pruners, outcomes):
        what = f"pruner {jobs[0].config.pruner!r}"
        if isinstance(outcome, BaseException):
            results = [(outcome, math.nan)] * len(jobs)
        elif not isinstance(outcome, (list, tuple)) or len(outcome) != len(jobs):
            error = PlantseekError(f"{what}: run_rounds returned {type(outcome).__name__}, not one mask per density")
            results = [(error, math.nan)] * len(jobs)
        else:
            results = [(m, share) for m in outcome]
        accept_masks(jobs, results, instance, what)


def joins_others(ref: str, pruner: Any) -> bool:
    """Whether a pruner takes part in joint pruning: a registered multi-shot schedule (a file-referenced
    pruner always runs alone, under its own time limit)."""
    return not is_file_ref(ref) and callable(getattr(pruner, "run_rounds", None))


def prune_all(jobs: "OrderedDict[tuple[str, str], PruneJob]", instance: PlantedInstance,
              timeout: float | None) -> dict[str, str]:
    """Prune every job (keyed by (pruner, density)) in place: load each pruner once (a pruner that does not
    load fails its jobs), run the single ones alone and the multi-shot ones jointly. Returns each loaded
    pruner's protocol."""
    by_pruner: "OrderedDict[str, list[PruneJob]]" = OrderedDict()
    for (ref, _), job in jobs.items():
        by_pruner.setdefault(ref, []).append(job)
    protocols: dict[str, str] = {}
    joint: list[tuple[Any, list[PruneJob]]] = []
    for ref, group in by_pruner.items():
        try:
            pruner = get_pruner(ref)
        except PlantseekError as exc:
            for job in group:
                job.error = str(exc)
            continue
        protocols[ref] = protocol_of(pruner)
        if joins_others(ref, pruner):
            joint.append((pruner, group))
        else:
            prune_cells(pruner, group, instance, timeout)
    if len(joint) > 1:
        prune_jointly_or_alone(joint, instance, timeout)
    else:
        for pruner, group in joint:
            prune_cells(pruner, group, instance, timeout)
    return protocols
