"""The training engines side by side (``python -m plantseek bench``'s ``sparse_engine`` and ``--grids``): the current
engine (sparse MLPs compacted to their live units, :mod:`plantseek.train.compact`) against the previous one (every
network on the full host), as network-steps/s and as whole grids through the harness (``PLANTSEEK_ENGINE``).

- ``sparse_engine``: network-steps/s of 32 networks of the Circle host with random masks of density 1.0, 0.01 and
  0.005, as the current engine trains them (a sparse network compacted to its live units,
  :mod:`plantseek.train.compact`) and as the previous engine did (every network on the full host); ``current_vs_dense``
  = the current engine's rate over the rate at density 1.0.
- ``grids`` (``--grids``): wall-clock of whole suites (e.g. ``paper-singleshot``) through the harness with ``--jobs``
  worker processes, once with the previous and once with the current engine in the same run
  (``PLANTSEEK_ENGINE``): wall-clock, CPU seconds of the whole process tree (robust on a loaded machine), and the
  largest worker's peak RSS.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from typing import Any, Callable, Sequence

import torch

from plantseek.families.mlp.network import Architecture
from plantseek.perf.timing import Runner, _workload, interleaved_best, rate
from plantseek.train.batched import BatchedTrainer, _Data
from plantseek.train.compact import compact as compact_masked, compact_plan, cost_share
from plantseek.train.config import TrainConfig
from plantseek.train.losses import loss_grad_fn

ENGINE_NAMES = ("previous", "current")


def engine_runner(k: int, steps: int = 20, warmup: int = 3, density: float = 1.0, batch: int = 32,
                  compact: bool = True) -> Runner:
    """``steps`` optimiser steps of ``k`` networks as the training engine runs them: with ``compact``, each sparse
    network whose live units make a network clearly smaller than the host trains compacted
    (:mod:`plantseek.train.compact`), networks of one (compacted) architecture stacked together; without, all
    ``k`` stacked on the full host (the previous engine)."""
    n = max(batch * (steps + warmup), 1024)
    arch, state, masks, x, y, g = _workload(k, density, n)
    config = TrainConfig(batch_size=batch)
    plans = [compact_plan(arch, m, config) if compact else None for m in masks]
    groups: dict[Architecture, list[int]] = {}
    for i, p in enumerate(plans):
        groups.setdefault(arch if p is None else p.arch, []).append(i)
    trainers = []
    for a, members in groups.items():
        starts, ms = zip(*[(state, masks[i]) if plans[i] is None else compact_masked(plans[i], state, masks[i])
                           for i in members])
        data = _Data(x, y, len(members), torch.float32, torch.device("cpu"))
        trainers.append(BatchedTrainer(a, list(starts), list(ms), data, loss_grad_fn("cross_entropy"), config))
    rows = torch.stack([torch.randperm(n, generator=g) for _ in range(k)])
    batches = [rows[:, i * batch:(i + 1) * batch] for i in range(steps + warmup)]
    members_of = [torch.tensor(m) for m in groups.values()]

    def steps_of(selected):
        with torch.no_grad():
            for b in selected:
                for trainer, m in zip(trainers, members_of):
                    trainer.step(b[m], config.lr)

    steps_of(batches[:warmup])
    shares = [cost_share(p, arch) for p in plans]
    return Runner(lambda: steps_of(batches[warmup:]), k * steps,
                  {"k": k, "compact": compact, "architectures": len(groups),
                   "compacted": sum(p is not None for p in plans), "mean_cost_share": sum(shares) / k})


def engine_of(name: str) -> int:
    """The engine version a bench name stands for: ``current`` = :data:`plantseek.train.engine.ENGINE`,
    ``previous`` = the one before it."""
    from plantseek.train.engine import ENGINE

    return {"current": ENGINE, "previous": ENGINE - 1}[name]


def with_engine(engine: int, fn: Callable[[], Any]) -> Any:
    """``fn()`` with ``PLANTSEEK_ENGINE`` set to ``engine`` (for this process and the workers it starts)."""
    from plantseek.train.engine import ENGINE_VARIABLE

    saved = os.environ.get(ENGINE_VARIABLE)
    os.environ[ENGINE_VARIABLE] = str(engine)
    try:
        return fn()
    finally:
        if saved is None:
            os.environ.pop(ENGINE_VARIABLE, None)
        else:
            os.environ[ENGINE_VARIABLE] = saved


def grid_seconds(name: str, engines: Sequence[str] = ENGINE_NAMES, jobs: int = 2,
                 seeds: int | None = None, say: Callable[[str], None] = lambda _m: None,
                 store_dir: str | None = None) -> dict[str, Any]:
    """Wall-clock of a whole suite (``seeds``: its first seeds only) through the harness, with ``jobs`` worker
    processes, once per engine (``previous`` / ``current``), one after the other in this run; without a store, or
    each engine's cells into a fresh store ``<store_dir>/<suite>-engine<N>.db`` (to compare their results)."""
    from plantseek.run.grid import expand, run_cells
    from plantseek.run.suites import SUITES

    suite = SUITES.get(name)
    if seeds is not None:
        suite = suite.with_overrides(seeds=list(suite.seeds[:seeds]))
    cells = expand(suite)
    out: dict[str, Any] = {"grid": name, "cells": len(cells), "seeds": len(suite.seeds), "jobs": jobs}
    for engine in engines:
        say(f"{name}: {len(cells)} cells, {engine} engine (engine {engine_of(engine)}), {jobs} jobs")
        store = None
        if store_dir is not None:
            from pathlib import Path

            from plantseek.store.results import ResultStore

            path = Path(store_dir) / f"{name}-engine{engine_of(engine)}.db"
            if path.exists():
                raise FileExistsError(f"{path}: exists; the grid is timed into a fresh store")
            store = ResultStore(path)
        t0, c0 = time.perf_counter(), _cpu_seconds()
        results = with_engine(engine_of(engine), lambda: run_cells(cells, jobs=jobs, store=store))
        out[engine] = {"engine": engine_of(engine), "seconds": time.perf_counter() - t0,
                       "cpu_seconds": _cpu_seconds() - c0,
                       "failed": sum(1 for _, r in results if r.status != "ok")}
    if all(e in out for e in ENGINE_NAMES):
        out["speedup"] = out["previous"]["seconds"] / out["current"]["seconds"]
        out["cpu_speedup"] = out["previous"]["cpu_seconds"] / out["current"]["cpu_seconds"]
    out["children_peak_rss_mib"] = _children_peak_rss_mib()
    return out


def sparse_engine_rates(k: int = 32, densities: Sequence[float] = (1.0, 0.01, 0.005), steps: int = 30,
                        repeats: int = 5) -> dict[str, Any]:
    """Network-steps/s of ``k`` networks of the Circle host at each density as the current engine trains them
    (sparse networks compacted) and as the previous engine did (all on the full host), best of ``repeats``
    interleaved rounds; ``vs_dense``: each rate over the rate at density 1.0 (the previous engine's)."""
    runners = {(d, c): engine_runner(k, steps, density=d, compact=c) for d in densities for c in (True, False)}
    names = list(runners)
    seconds = interleaved_best([runners[n] for n in names], repeats)
    rates = {n: rate(runners[n], t) for n, t in zip(names, seconds)}
    dense = rates[(max(densities), False)]["network_steps_per_s"]
    out: dict[str, Any] = {"k": k, "densities": {}}
    for d in densities:
        cur, prev = rates[(d, True)], rates[(d, False)]
        out["densities"][str(d)] = {
            "current": cur["network_steps_per_s"], "previous": prev["network_steps_per_s"],
            "current_vs_dense": cur["network_steps_per_s"] / dense, "compacted": cur["compacted"],
            "architectures": cur["architectures"], "mean_cost_share": cur["mean_cost_share"]}
    return out


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished (waited-for) child processes: the worker pool's and the
    prune workers' time counts once they end (a grid's pool ends with the grid). Robust to a loaded machine, where
    wall-clock measures the other load as much as the grid."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _children_peak_rss_mib() -> float:
    kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest waited-for child process
    return kib / (1024 * 1024) if sys.platform == "darwin" else kib / 1024


