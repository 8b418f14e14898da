"""What isolating the prune calls costs: one cell group run with its prune calls made three ways
(``python -m plantseek bench --isolation``, or :func:`isolation_overhead`).

* ``in-process``: a measurement-only stand-in (:class:`InProcessWorker`) runs the prune worker's own code
  (:class:`plantseek.run.isolation.prune_worker.Worker`, messages pickled and answers JSON-encoded as over the pipes) in
  this process, with no process and no sandbox. It exists to measure the difference, never to run a grid.
* ``exec``: every worker a new interpreter (``PLANTSEEK_PRUNE_START=exec``; what every prune call cost before
  the template process).
* ``template``: every worker forked from this process's template process (the default); the template's own
  start (one torch import) is counted in every run, as if each group ran in a process of its own.

Each run reports wall-clock seconds and CPU seconds (this process and its reaped children: the template is shut
down at the end of its run, so that it and the workers it reaped are counted); ``overhead`` is relative to
``in-process``. The cells' metrics must agree bit for bit across the three (``same_results``).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import resource
import shutil
import tempfile
import time
from contextlib import contextmanager
from typing import Any, Iterator
from unittest import mock

import torch

MODES = ("in-process", "exec", "template")
COMPARED = ("status", "strong_metric", "weak_metric", "ticket_metric", "achieved_density", "metrics", "mask")


class InProcessWorker:
    """The prune worker's code run in this process (measurement only: no isolation at all)."""

    def __init__(self, setup: dict[str, Any], limits: Any, files: tuple[str, ...] = ()) -> None:
        from plantseek.run.isolation.workers import WorkerSetup
        from plantseek.run.isolation.prune_worker import Worker

        self.workdir = tempfile.mkdtemp(prefix="plantseek-inprocess-")
        full = WorkerSetup(threads=torch.get_num_threads(), memory_bytes=None, file_bytes=limits.file_bytes,
                           workdir=self.workdir, files=files, **setup)
        self.worker = Worker(pickle.loads(pickle.dumps(full, protocol=pickle.HIGHEST_PROTOCOL)))
        self.alive, self.sandbox, self.described = True, "none (in process, measurement only)", {}

    def request(self, message: Any, limit: float | None, what: str) -> dict[str, Any]:
        kind, *args = pickle.loads(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))
        cwd = os.getcwd()
        try:
            return json.loads(json.dumps(getattr(self.worker, kind)(*args)))
        finally:
            os.chdir(cwd)  # the worker moves into its folder after loading

    def garbage(self, what: str) -> str:
        return f"worker answered garbage ({what})"

    def cpu_seconds(self) -> float:
        """This process's CPU seconds (user + system; every thread), as the isolated workers report theirs."""
        return time.process_time()

    def close(self) -> None:
        self.alive = False
        shutil.rmtree(self.workdir, ignore_errors=True)

    kill = close

    def __enter__(self) -> "InProcessWorker":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its children reaped so far."""
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                  resource.getrusage(resource.RUSAGE_CHILDREN)))


@contextmanager
def prune_calls(mode: str) -> Iterator[None]:
    """Prune calls made the ``mode`` way for the duration of the block."""
    from plantseek.run.isolation import pruning, template_client
    from plantseek.run.isolation.workers import START_ENV

    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    old = os.environ.get(START_ENV)
    template_client.shutdown()
    os.environ[START_ENV] = "exec" if mode == "exec" else "template"
    try:
        if mode == "in-process":
            with mock.patch.object(pruning, "PruneWorker", InProcessWorker):
                yield
        else:
            yield
    finally:
        template_client.shutdown()  # reaped: its CPU time (and its workers') is counted
        if old is None:
            os.environ.pop(START_ENV, None)
        else:
            os.environ[START_ENV] = old


def outcome(result: Any) -> str:
    """A cell's result without its timings, as comparable text (NaN equals NaN; the mask by its hash)."""
    values = {k: getattr(result, k, None) for k in COMPARED}
    if values["mask"] is not None:
        values["mask"] = hashlib.sha256(values["mask"]).hexdigest()
    return json.dumps(values, sort_keys=True, default=str)


def isolation_overhead(suite: str = "default", repeats: int = 1) -> dict[str, Any]:
    """Seconds (best of ``repeats``, wall-clock and CPU) of the suite's first cell group with its prune calls made
    each way, the overheads relative to in-process, and whether the results agree."""
    from plantseek.run.grid import expand, group_cells
    from plantseek.run.bundle import run_group
    from plantseek.run.suites import SUITES

    group = group_cells(expand(SUITES.get(suite)))[0]
    out: dict[str, Any] = {"suite": suite, "cells": len(group), "repeats": repeats}
    outcomes = {}
    for _ in range(repeats):
        for mode in MODES:  # interleaved, so that a change of load falls on every mode alike
            with prune_calls(mode):
                t0, c0 = time.perf_counter(), cpu_seconds()
                results = run_group(group)
            wall, cpu = time.perf_counter() - t0, cpu_seconds() - c0
            best = out.setdefault(mode, {"seconds": wall, "cpu_seconds": cpu})
            best["seconds"], best["cpu_seconds"] = min(best["seconds"], wall), min(best["cpu_seconds"], cpu)
            outcomes[mode] = [outcome(r) for _, r in results]
    for mode in ("exec", "template"):
        for key in ("seconds", "cpu_seconds"):
            out[mode][f"overhead_{key}"] = out[mode][key] / out["in-process"][key] - 1
    out["same_results"] = all(outcomes[m] == outcomes["in-process"] for m in MODES)
    return out
