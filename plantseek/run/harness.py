"""The evaluation harness: run a grid of (instance x pruner x density) cells and evaluate every mask.

Cells are grouped by instance (task, depth, width, seed, options). For one group the harness:

1. plants the seeded instance (the ground truth stays inside it);
2. for each pruner, hands it a fresh host copy at the initial weights, copies of the training split, a seeded
   generator per cell and the training budget; times only the prune call; validates the mask exactly
   (keys, shapes, dtype bool, kept count = ``kept_count(density)``). A pruner that raises, hangs past the time
   limit or returns a bad mask gives a *failed* cell with a one-line reason; the other cells go on. The
   registered multi-shot pruners of the instance run jointly, their rounds trained as one batch (same masks
   as separate runs; see ``_prune_jointly``);
3. evaluates every valid mask as a **strong** ticket (host's initial weights, scale-correct readout, test split);
4. trains every valid mask as a **weak** ticket (default Adam lr 1e-3, 10 epochs, batch 32, from the initial
   weights with the mask fixed), all masks of the group (plus the dense host, as a reference) through one
   ``train_masks`` call, and evaluates them on the test split. Training starts from the masked initial
   network with a calibrated readout and balanced neuron scales (``plantseek.train.readout``: the same network
   function, fitted on the training split only);
5. computes recovery metrics against the planted ticket.

Seeds: the pruner's generator derives from (seed, pruner, density); every network of an instance is trained
with the same data order (seed "train"), so masks are compared on equal footing.
"""

from __future__ import annotations

import hashlib
import math
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch

from plantseek.core import seeding
from plantseek.core.errors import PlantseekError
from plantseek.score.evaluation import model_metric, strong_metric, strong_metrics_batched
from plantseek.planted.instance import PlantedInstance, plant
from plantseek.prune.masks import Mask, kept_count, mask_count, pack_mask, validate_mask
from plantseek.prune.contract import get_pruner, is_file_ref, protocol_of
from plantseek.train.readout import weak_start
from plantseek.run.records import CellConfig, CellResult, provenance
from plantseek.run.suites import Suite
from plantseek.planted.task import DataConfig
from plantseek.run.timeout import time_limit
from plantseek.train.loop import train_masks

DEFAULT_PRUNE_TIMEOUT = 1800.0


def pruner_code_hash(ref: str) -> str:
    if not is_file_ref(ref):
        return ""
    path = Path(ref.partition(":")[0])
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else ""


def expand(suite: Suite) -> list[CellConfig]:
    """All cells of a suite, in a stable order (task, seed, pruner, density)."""
    options = tuple(sorted(suite.task_options.items()))
    codes = {p: pruner_code_hash(p) for p in suite.pruners}
    return [
        CellConfig(task=t, depth=suite.depth, width=suite.width, seed=s, pruner=p, density=d,
                   task_options=options, train=suite.train, budget=suite.budget, pruner_code=codes[p],
                   n_samples=suite.n_samples)
        for t in suite.tasks for s in suite.seeds for p in suite.pruners for d in suite.densities
    ]


def group_cells(cells: Iterable[CellConfig]) -> list[list[CellConfig]]:
    groups: "OrderedDict[tuple, list[CellConfig]]" = OrderedDict()
    for c in cells:
        groups.setdefault(c.instance_key, []).append(c)
    return list(groups.values())


def instance_for(cell: CellConfig) -> PlantedInstance:
    return plant(cell.task, depth=cell.depth, width=cell.width, seed=cell.seed,
                 data=DataConfig(n_samples=cell.n_samples), **dict(cell.task_options))


def resolve_density(spec: str, instance: PlantedInstance) -> float:
    return instance.ticket_density if spec == "ticket" else float(spec)


def one_line(exc: BaseException) -> str:
    if isinstance(exc, PlantseekError):
        text = str(exc)
    else:
        where = ""
        tb = traceback.extract_tb(exc.__traceback__)
        if tb:
            where = f" at {Path(tb[-1].filename).name}:{tb[-1].lineno}"
        text = f"{type(exc).__name__}: {exc}{where}"
    return " ".join(text.split())[:500]


@dataclass
class _Pending:
    config: CellConfig
    density: float
    mask: Mask | None = None
    prune_seconds: float = math.nan
    error: str = ""


def _prune_generators(pending: list[_Pending]) -> list[torch.Generator]:
    return [seeding.generator(p.config.seed, "prune", p.config.pruner, p.config.density) for p in pending]


def _prune_cells(pruner: Any, pending: list[_Pending], instance: PlantedInstance, timeout: float | None) -> None:
    """Run one pruner on its cells of one instance; fill masks or errors in place."""
    data = instance.pruner_data()
    budget = pending[0].config.budget
    gens = _prune_generators(pending)
    what = f"pruner {pending[0].config.pruner!r}"
    batch = getattr(pruner, "prune_batch", None)
    if callable(batch) and len(pending) > 1:
        try:
            with time_limit(timeout and timeout * len(pending), what):
                t0 = time.perf_counter()
                masks = batch(instance.host(), data, [p.density for p in pending], generators=gens, budget=budget)
                share = (time.perf_counter() - t0) / len(pending)
            if not isinstance(masks, (list, tuple)) or len(masks) != len(pending):
                raise PlantseekError(f"{what}: prune_batch returned {type(masks).__name__}, not one mask per density")
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - a crashing pruner fails its cells, nothing else
            for p in pending:
                p.error = f"{what} crashed: {one_line(exc)}"
            return
        results = [(m, share) for m in masks]
    else:
        results = []
        for p, g in zip(pending, gens):
            try:
                with time_limit(timeout, what):
                    t0 = time.perf_counter()
                    m = pruner.prune(instance.host(), data, p.density, generator=g, budget=budget)
                    results.append((m, time.perf_counter() - t0))
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001
                results.append((exc, math.nan))
    _accept(pending, results, instance, what)


def _accept(pending: list[_Pending], results: list[tuple[Any, float]], instance: PlantedInstance,
            what: str) -> None:
    """Record (mask or exception, seconds) per cell: validated masks, or one-line errors."""
    shapes = instance.arch.weight_shapes()
    optional = instance.arch.bias_shapes()
    for p, (m, seconds) in zip(pending, results):
        p.prune_seconds = seconds
        if isinstance(m, BaseException):
            p.error = f"{what} crashed: {one_line(m)}"
            continue
        try:
            p.mask = validate_mask(m, shapes, kept_count(p.density, instance.arch.n_prunable), optional)
        except PlantseekError as exc:
            p.error = f"{what} returned an invalid mask: {exc}"


def _prune_jointly(pruners: list[tuple[Any, list[_Pending]]], instance: PlantedInstance,
                   timeout: float | None) -> None:
    """Run several multi-shot pruners on their cells of one instance, their rounds trained as one batch
    (:func:`plantseek.prune.schedules.prune_jointly`; the masks equal those of separate runs). A crashing pruner fails
    its own cells. Should the joint run time out (limit: the per-call limit times the number of cells) or a
    joint training call fail, every pruner is run again on its own, so that the failure falls on its cause."""
    from plantseek.prune.schedules import prune_jointly

    n_cells = sum(len(pending) for _, pending in pruners)
    names = ", ".join(repr(pending[0].config.pruner) for _, pending in pruners)
    try:
        with time_limit(timeout and timeout * n_cells, f"pruners {names} (run jointly)"):
            schedules = [pruner.run_rounds(instance.host(), instance.pruner_data(), [p.density for p in pending],
                                       generators=_prune_generators(pending), budget=pending[0].config.budget)
                         for pruner, pending in pruners]
            t0 = time.perf_counter()
            outcomes = prune_jointly(schedules)
            share = (time.perf_counter() - t0) / n_cells
    except KeyboardInterrupt:
        raise
    except BaseException:  # noqa: BLE001 - retried one by one below
        for pruner, pending in pruners:
            _prune_cells(pruner, pending, instance, timeout)
        return
    for (pruner, pending), outcome in zip(pruners, outcomes):
        what = f"pruner {pending[0].config.pruner!r}"
        if isinstance(outcome, BaseException):
            results = [(outcome, math.nan)] * len(pending)
        elif not isinstance(outcome, (list, tuple)) or len(outcome) != len(pending):
            error = PlantseekError(f"{what}: run_rounds returned {type(outcome).__name__}, not one mask per density")
            results = [(error, math.nan)] * len(pending)
        else:
            results = [(m, share) for m in outcome]
        _accept(pending, results, instance, what)


def joins_others(ref: str, pruner: Any) -> bool:
    """Whether a pruner takes part in joint pruning: a registered multi-shot schedule (a file-referenced
    pruner always runs alone, under its own time limit)."""
    return not is_file_ref(ref) and callable(getattr(pruner, "run_rounds", None))


ABLATIONS = ("shuffled", "reinit")


def ablate(mask: Mask, ablation: str, generator: torch.Generator) -> Mask:
    """Sanity ablations of a mask. ``shuffled``: every layer's kept positions permuted at random (same per-layer
    counts); ``reinit``: the mask itself (the harness evaluates it on a re-initialised host)."""
    if ablation == "shuffled":
        out = {}
        for name, m in mask.items():
            flat = m.reshape(-1)
            out[name] = flat[torch.randperm(flat.numel(), generator=generator)].reshape(m.shape)
        return out
    return mask


def reinitialised_host(instance: PlantedInstance, seed: int) -> dict[str, torch.Tensor]:
    """A fresh random host of the same architecture (nothing planted), for the ``reinit`` ablation."""
    from plantseek.nets.mlp import he_init

    return he_init(instance.arch, seeding.generator(seed, "reinit-host", *instance.arch.widths))


def run_group(cells: Sequence[CellConfig], prune_timeout: float | None = DEFAULT_PRUNE_TIMEOUT,
              device: str | None = None) -> list[tuple[CellConfig, CellResult]]:
    """Run all cells of one instance; never raises for a failing pruner (its cells are marked failed).

    Each (pruner, density) is pruned once; its ablation cells reuse that mask.
    """
    from plantseek.score.metrics import recovery_metrics

    prov = provenance()
    first = cells[0]
    try:
        instance = instance_for(first)
    except PlantseekError as exc:
        return [(c, CellResult(status="failed", error=f"instance: {exc}", provenance=prov)) for c in cells]
    task = instance.task
    ticket_ref = strong_metric(instance, instance.ticket)
    dense_ref = strong_metric(instance, None)

    jobs: "OrderedDict[tuple[str, str], _Pending]" = OrderedDict()
    for c in cells:
        if (c.pruner, c.density) not in jobs:
            jobs[(c.pruner, c.density)] = _Pending(c, resolve_density(c.density, instance))
    by_pruner: "OrderedDict[str, list[_Pending]]" = OrderedDict()
    for (ref, _), job in jobs.items():
        by_pruner.setdefault(ref, []).append(job)
    protocols: dict[str, str] = {}
    joint: list[tuple[Any, list[_Pending]]] = []
    for ref, group in by_pruner.items():
        try:
            pruner = get_pruner(ref)
        except PlantseekError as exc:
            for p in group:
                p.error = str(exc)
            continue
        protocols[ref] = protocol_of(pruner)
        if joins_others(ref, pruner):
            joint.append((pruner, group))
        else:
            _prune_cells(pruner, group, instance, prune_timeout)
    if len(joint) > 1:
        _prune_jointly(joint, instance, prune_timeout)
    else:
        for pruner, group in joint:
            _prune_cells(pruner, group, instance, prune_timeout)

    # one (mask, start of weak training) per successful cell; the dense host goes last as a reference
    train = instance.data.train
    planted = instance.initial_state
    ok: list[tuple[CellConfig, _Pending, Mask, dict[str, torch.Tensor]]] = []
    for c in cells:
        job = jobs[(c.pruner, c.density)]
        if job.mask is None:
            continue
        g = seeding.generator(c.seed, "ablation", c.pruner, c.density, c.ablation)
        host = reinitialised_host(instance, c.seed) if c.ablation == "reinit" else planted
        ok.append((c, job, ablate(job.mask, c.ablation, g), host))
    dense_mask = {n: torch.ones(s, dtype=torch.bool) for n, s in instance.arch.weight_shapes().items()}
    masks = [m for _, _, m, _ in ok] + [dense_mask]
    hosts = [h for _, _, _, h in ok] + [planted]
    # identical (mask, host) pairs train to identical networks (same start, same data order): train each once
    unique: dict[tuple, int] = {}
    slot = [unique.setdefault((tuple(m), pack_mask(m), h is planted), len(unique)) for m, h in zip(masks, hosts)]
    first_of = {i: k for k, i in reversed(list(enumerate(slot)))}
    t0 = time.perf_counter()
    todo = [first_of[i] for i in range(len(unique))]
    starts = [weak_start(hosts[k], masks[k], train.x, train.y, task.kind) for k in todo]
    kwargs = {"device": device} if device else {}
    trained = train_masks(instance.arch, starts, [masks[k] for k in todo], train.x, train.y, task.loss,
                          first.train, [seeding.generator(first.seed, "train") for _ in todo], **kwargs)
    models = [trained[i] for i in slot]
    train_share = (time.perf_counter() - t0) / len(masks)
    dense_weak = model_metric(instance, models[-1], None)
    strong = strong_metrics_batched(instance, [m for c, _, m, _ in ok if c.ablation != "reinit"])
    strong_of = iter(strong)

    done: dict[str, CellResult] = {}
    weights = instance.arch.weight_names()
    for (c, job, mask, _), model in zip(ok, models):
        done[c.cell_id] = CellResult(
            status="ok", metric_name=task.metric_name, higher_is_better=task.higher_is_better, density=job.density,
            achieved_density=mask_count({n: mask[n] for n in weights}) / instance.arch.n_prunable,
            strong_metric=math.nan if c.ablation == "reinit" else next(strong_of),
            weak_metric=model_metric(instance, model, mask), ticket_metric=ticket_ref, dense_metric=dense_ref,
            dense_weak_metric=dense_weak, prune_seconds=job.prune_seconds, train_seconds=train_share,
            protocol=protocols.get(c.pruner, ""), metrics=recovery_metrics(mask, instance.ticket),
            mask=pack_mask(mask), provenance=prov)
    out = []
    for c in cells:
        job = jobs[(c.pruner, c.density)]
        result = done.get(c.cell_id) or CellResult(
            status="failed", error=job.error, metric_name=task.metric_name, higher_is_better=task.higher_is_better,
            density=job.density, ticket_metric=ticket_ref, dense_metric=dense_ref, dense_weak_metric=dense_weak,
            prune_seconds=job.prune_seconds, protocol=protocols.get(c.pruner, ""), provenance=prov)
        out.append((c, result))
    return out


def _run_group_task(args) -> list[tuple[CellConfig, CellResult]]:
    cells, timeout, device = args
    return run_group(cells, timeout, device)


def run_cells(cells: Sequence[CellConfig], *, store=None, jobs: int = 1, executor: str | None = None,
              prune_timeout: float | None = DEFAULT_PRUNE_TIMEOUT, device: str | None = None,
              on_result: Callable[[CellConfig, CellResult], None] | None = None,
              ) -> list[tuple[CellConfig, CellResult]]:
    """Run ``cells`` (skipping those ``store`` already finished), storing each result as soon as its group ends."""
    from plantseek.run.executors import make_executor

    if store is not None:
        done = store.finished_ids()
        cells = [c for c in cells if c.cell_id not in done]
    results: list[tuple[CellConfig, CellResult]] = []
    work = [(g, prune_timeout, device) for g in group_cells(cells)]
    for group_results in make_executor(jobs, executor).imap(_run_group_task, work):
        for config, result in group_results:
            if store is not None:
                store.put(config, result)
            results.append((config, result))
            if on_result is not None:
                on_result(config, result)
    return results
