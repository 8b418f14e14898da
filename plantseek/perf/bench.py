"""Performance measurements of this machine and of the training engines (``python -m plantseek bench``).

What each number means:

- ``peak_gflops``: the roofline, best-of float32 dense matrix product (``n x n @ n x n``, ``2 n^3`` FLOPs).
- Training throughput is timed over a fixed number of optimiser steps (not whole runs), after warm-up steps,
  best of ``repeats`` timings taken in interleaved rounds over all configurations (10; on a shared virtual
  machine timings of the same code vary by 30 % over seconds, and the best of several spread over the whole
  run is the machine's capability, as for the roofline). Workload: a Circle-shaped host (2 -> 100 x 3 -> 4,
  depth 5, width 100), batch 32, float32, Adam (the default fused kernel; ``single_tensor_adam`` repeats the
  loop and K=32 with ``adam_kernel="single-tensor"``), masks of the given density (pruned weights are still
  multiplied: a mask makes nothing faster). One *network-step* is one optimiser step of one network. FLOPs
  are counted as ``6 * params * batch`` per network-step (forward 2, backward 4 FLOPs per parameter and
  sample; params = weights + biases of the dense architecture), so ``train_gflops`` is comparable with
  ``peak_gflops``.
- ``loop``: the per-network reference path (``training.train_model``'s step: autograd + its optimiser),
  one network at a time; its rate does not depend on K. ``speedup_vs_single[K]`` = batched network-steps/s at
  K over the loop's.
- ``peak_rss_mib``: peak resident set size of the bench process (``resource.getrusage``, whole process, all
  measurements so far); ``engine_mib[K]``: the batched engine's own estimate of its working memory
  (``device.bytes_per_network``), which the chunking uses.
- ``suite_seconds``: wall-clock of the ``default`` suite through the harness (no store, one process), or null.
- ``paper_group_seconds``: wall-clock of one cell group (one instance: Circle, seed 0, every pruner and density
  of the grid) of ``paper-singleshot`` and of ``paper-multishot`` through the harness, or null. A grid is
  75 (single-shot) or 30 (multi-shot) such groups, spread over the worker processes.
- ``step_breakdown[K]`` (K >= 128): seconds per network-step of the forward pass, the loss gradient, the backward
  pass and the optimiser, each timed alone (what limits the roofline share at large K).
- ``sparse_engine`` and ``grids``: the training engines side by side, see :mod:`plantseek.perf.engines`.
- ``cross_instance``: two slices of ``paper-singleshot`` run one instance at a time and batched across instances
  (:func:`cross_instance_seconds`): wall-clock, this process's CPU seconds, speed-ups, identical cells.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time
from typing import Any, Callable, Sequence

import torch

from plantseek.perf.engines import ENGINE_NAMES, grid_seconds, sparse_engine_rates
from plantseek.perf.timing import (BENCH_ARCH, Runner, _workload, flops_per_network_step, interleaved_best,
                                   n_params, rate)
from plantseek.train.batched import BatchedTrainer, _Data
from plantseek.train.device import bytes_per_network, default_threads
from plantseek.train.losses import loss_grad_fn
from plantseek.families.mlp.network import build_model
from plantseek.train.config import TrainConfig
from plantseek.train.loop import model_optimizer

KS = (1, 8, 32, 128, 512)


def _best_time(fn: Callable[[], None], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def peak_gflops(n: int = 2048, repeats: int = 5, generator: torch.Generator | None = None) -> float:
    """Best-of float32 GFLOP/s of one ``n x n`` matrix product."""
    g = generator or torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g)
    b = torch.randn(n, n, generator=g)
    out = torch.empty(n, n)
    torch.mm(a, b, out=out)  # warm-up
    return 2 * n**3 / _best_time(lambda: torch.mm(a, b, out=out), repeats) / 1e9


def batched_runner(k: int, steps: int = 20, warmup: int = 3, density: float = 1.0, batch: int = 32,
                   adam_kernel: str = "fused", exact: bool = True) -> Runner:
    """``steps`` optimiser steps of the batched engine training ``k`` networks at once."""
    n = max(batch * (steps + warmup), 1024)
    arch, state, masks, x, y, g = _workload(k, density, n)
    config = TrainConfig(batch_size=batch, adam_kernel=adam_kernel)
    data = _Data(x, y, k, torch.float32, torch.device("cpu"))
    trainer = BatchedTrainer(arch, [state] * k, masks, data, loss_grad_fn("cross_entropy"), config,
                             exact=exact)
    rows = torch.stack([torch.randperm(n, generator=g) for _ in range(k)])
    batches = [rows[:, i * batch:(i + 1) * batch] for i in range(steps + warmup)]

    def steps_of(selected):
        with torch.no_grad():
            for b in selected:
                trainer.step(b, config.lr)

    steps_of(batches[:warmup])
    return Runner(lambda: steps_of(batches[warmup:]), k * steps,
                  {"k": k, "packed_optimizer": trainer.packed_index is not None, "trainer": trainer,
                   "batches": batches[warmup:]})


def loop_runner(steps: int = 20, warmup: int = 3, density: float = 1.0, batch: int = 32,
                adam_kernel: str = "fused") -> Runner:
    """``steps`` optimiser steps of the per-network path (``train_model``'s step) for one network."""
    n = max(batch * (steps + warmup), 1024)
    arch, state, masks, x, y, g = _workload(1, density, n)
    config = TrainConfig(batch_size=batch, adam_kernel=adam_kernel)
    model = build_model(arch, state)
    opt = model_optimizer(model, config)
    loss_fn = torch.nn.functional.cross_entropy
    perm = torch.randperm(n, generator=g)
    batches = [perm[i * batch:(i + 1) * batch] for i in range(steps + warmup)]
    mask = masks[0]

    def steps_of(selected):
        for idx in selected:
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x[idx], mask), y[idx]).backward()
            opt.step()

    steps_of(batches[:warmup])
    return Runner(lambda: steps_of(batches[warmup:]), steps, {})


def suite_seconds(name: str = "default") -> tuple[float | None, str]:
    """Wall-clock of a whole suite through the harness without a store, or (None, why not)."""
    try:
        from plantseek.run.grid import expand, run_cells
        from plantseek.run.suites import SUITES
    except ImportError as exc:
        return None, f"plantseek.run.grid not available ({exc})"
    cells = expand(SUITES.get(name))
    t0 = time.perf_counter()
    results = run_cells(cells, store=None)
    seconds = time.perf_counter() - t0
    failed = sum(1 for _, r in results if r.status != "ok")
    return seconds, f"suite {name!r}: {len(cells)} cells, {failed} failed, 1 process"


def group_seconds(name: str) -> dict[str, Any]:
    """Wall-clock of the first cell group (one instance) of a suite through the harness."""
    from plantseek.run.grid import expand, group_cells
    from plantseek.run.bundle import run_group
    from plantseek.run.suites import SUITES

    suite = SUITES.get(name)
    group = group_cells(expand(suite))[0]
    t0 = time.perf_counter()
    results = run_group(group)
    seconds = time.perf_counter() - t0
    failed = sum(1 for _, r in results if r.status != "ok")
    return {"seconds": seconds, "cells": len(group), "failed": failed,
            "groups_in_grid": len(group_cells(expand(suite))),
            "instance": f"{group[0].task} depth {group[0].depth} width {group[0].width} seed {group[0].seed}"}


def step_breakdown(k: int, steps: int = 20, repeats: int = 5) -> dict[str, float]:
    """Where one optimiser step of the batched engine spends its time at ``k`` networks (dense masks): the
    forward pass, the loss gradient, the backward pass (products, weight-gradient masking, bias sums, ReLU
    gradient) and the optimiser, each timed alone over the same ``steps`` batches, best of ``repeats``;
    seconds per step and network."""
    runner_parts = batched_runner(k, steps, warmup=1)
    trainer, batches = runner_parts.info["trainer"], runner_parts.info["batches"]
    prepared = []
    with torch.no_grad():
        for rows in batches:
            xb, yb = trainer.data.gather(rows)
            out, acts = trainer.model.forward(xb, keep=True)
            prepared.append((xb, yb, out, acts, trainer.loss_grad(out, yb)))

    def forward():
        for xb, *_ in prepared:
            trainer.model.forward(xb, keep=True)

    def loss():
        for _, yb, out, _, _ in prepared:
            trainer.loss_grad(out, yb)

    def backward():
        for *_, acts, g in prepared:
            trainer.model.backward(acts, g)

    def optimizer():
        for _ in prepared:
            trainer.opt.step(trainer.params, trainer.grads, trainer.config.lr)

    parts = {"forward": forward, "loss_gradient": loss, "backward": backward, "optimizer": optimizer}
    with torch.no_grad():
        best = interleaved_best([Runner(f, 0, {}) for f in parts.values()], repeats)
    return {name: t / (len(prepared) * k) for name, t in zip(parts, best)}


def cross_instance_seconds(name: str = "paper-singleshot", pruners: Sequence[str] | None = ("magnitude",),
                           densities: Sequence[str] | None = ("0.1",), seeds: Sequence[int] = tuple(range(8)),
                           max_batch: int = 512) -> dict[str, Any]:
    """A slice of a paper grid (``pruners`` x ``densities`` x ``seeds`` on its first task; None: the grid's
    own) run twice in this process: one instance at a time (``max_batch=1``, the per-instance grouping) and
    with the instances' networks trained as one batch (``max_batch``); wall-clock and this process's CPU
    seconds of each, the speed-up, and whether every cell came out the same."""
    from plantseek.run.grid import expand, run_cells
    from plantseek.run.suites import SUITES

    suite = SUITES.get(name)
    suite = suite.with_overrides(tasks=suite.tasks[:1], seeds=list(seeds),
                                 pruners=list(pruners or suite.pruner_names()),
                                 densities=list(densities or suite.densities))
    cells = expand(suite)
    timed: dict[int, Any] = {}
    for size in (1, max_batch):
        t0, c0 = time.perf_counter(), time.process_time()
        results = run_cells(cells, max_batch=size)
        timed[size] = (time.perf_counter() - t0, time.process_time() - c0, results)
    (alone, alone_cpu, a), (together, together_cpu, b) = timed[1], timed[max_batch]
    same = all(ra.mask == rb.mask and ra.metrics == rb.metrics and repr(ra.weak_metric) == repr(rb.weak_metric)
               for (_, ra), (_, rb) in zip(a, b))
    return {"grid": name, "slice": f"{suite.tasks[0]}, {len(suite.pruners)} pruner(s) x {len(suite.densities)} "
            f"densities x {len(suite.seeds)} seeds", "cells": len(cells), "per_instance_seconds": alone,
            "per_instance_cpu_seconds": alone_cpu, "batched_seconds": together, "batched_cpu_seconds": together_cpu,
            "max_batch": max_batch, "speedup": alone / together, "cpu_speedup": alone_cpu / together_cpu,
            "identical": same}


def choose_threads(cores: int | None = None) -> tuple[int, str]:
    """1 or all available cores, whichever runs a small batched product faster right now. On a machine shared
    with other busy processes, multi-threaded kernels can be many times slower than one thread (the threads
    wait for each other at every operation), so this is probed rather than assumed."""
    cores = cores or default_threads()
    if cores <= 1:
        return 1, "1 core available"
    g = torch.Generator().manual_seed(0)
    h, w = torch.randn(32, 32, 100, generator=g), torch.randn(32, 100, 100, generator=g)
    previous = torch.get_num_threads()
    times = {1: float("inf"), cores: float("inf")}
    try:
        for _ in range(3):  # interleaved, best of three each
            for t in times:
                torch.set_num_threads(t)
                torch.bmm(h, w)
                times[t] = min(times[t], _best_time(lambda: [torch.bmm(h, w) for _ in range(20)], 1))
    finally:
        torch.set_num_threads(previous)
    best = cores if times[cores] * 1.3 < times[1] else 1  # more threads only when clearly faster
    return best, f"probed: {', '.join(f'{t} thread(s) {v * 1e3:.1f} ms' for t, v in times.items())}"


def peak_rss_mib() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux (bytes on macOS)
    return kib / (1024 * 1024) if sys.platform == "darwin" else kib / 1024


def _measure_density(density: float, ks: tuple[int, ...], steps: int, repeats: int, quick: bool, peak: float,
                     say: Callable[[str], None]) -> dict[str, Any]:
    say(f"density {density}: preparing the per-network loop and batched K={', '.join(map(str, ks))}")
    runners = {"loop": loop_runner(steps, density=density)}
    for k in ks:
        runners[str(k)] = batched_runner(k, max(2, steps // max(1, k // 32)) if quick else steps, density=density)
    with_single = not quick and 32 in ks
    if with_single:
        runners["single loop"] = loop_runner(steps, density=density, adam_kernel="single-tensor")
        runners["single 32"] = batched_runner(32, steps, density=density, adam_kernel="single-tensor")
    say(f"density {density}: timing them, {repeats} interleaved rounds")
    names = list(runners)
    seconds = interleaved_best([runners[n] for n in names], repeats)
    rates = {n: rate(runners[n], t) for n, t in zip(names, seconds)}
    loop = rates["loop"]
    batched = {str(k): rates[str(k)] for k in ks}
    single = None
    if with_single:
        single_loop, single_k32 = rates["single loop"], rates["single 32"]
        single = {"loop": single_loop, "k32": single_k32,
                  "speedup_vs_single": single_k32["network_steps_per_s"] / single_loop["network_steps_per_s"],
                  "fraction_of_peak": single_k32["gflops"] / peak}
    return {
        "loop": loop,
        "batched": batched,
        "train_gflops": {k: v["gflops"] for k, v in batched.items()},
        "network_steps_per_s": {k: v["network_steps_per_s"] for k, v in batched.items()},
        "speedup_vs_single": {k: v["network_steps_per_s"] / loop["network_steps_per_s"] for k, v in batched.items()},
        "fraction_of_peak": {k: v["gflops"] / peak for k, v in batched.items()},
        "single_tensor_adam": single,
    }


def _harness_timings(say: Callable[[str], None]) -> dict[str, Any]:
    """The default suite, one cell group of each paper grid, and cross-instance batching, through the harness."""
    say("default suite")
    suite_s, suite_note = suite_seconds("default")
    groups = {}
    for name in ("paper-singleshot", "paper-multishot"):
        say(f"one cell group of {name}")
        groups[name] = group_seconds(name)
    say("cross-instance batching on slices of paper-singleshot")
    cross = {"small_groups": cross_instance_seconds(),
             "full_groups": cross_instance_seconds(pruners=None, densities=None, seeds=(0, 1))}
    return {"suite_seconds": suite_s, "suite_note": suite_note, "paper_group_seconds": groups,
            "cross_instance": cross}


def run(quick: bool = False, threads: int | None = None, ks: tuple[int, ...] = KS,
        densities: tuple[float, ...] = (1.0, 0.1), suite: bool = True,
        progress: Callable[[str], None] | None = None, grids: Sequence[str] = (),
        engines: Sequence[str] = ENGINE_NAMES, jobs: int = 2, grid_seeds: int | None = None,
        grid_store: str | None = None) -> dict[str, Any]:
    """All measurements as one dict (see the module docstring for what each number means). The top-level
    throughput keys are those of the first density; ``by_density`` holds every density's."""
    say = progress or (lambda _m: None)
    if threads:
        threads_note = "given"
    else:
        threads, threads_note = choose_threads()
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        steps, repeats = (8, 2) if quick else (30, 10)
        say("dense matmul roofline")
        peak = peak_gflops(1024 if quick else 2048, repeats)
        by_density = {str(d): _measure_density(d, ks, steps, repeats, quick, peak, say) for d in densities}
        say("sparse networks: the current engine (compacted) and the previous one, K=32")
        sparse = sparse_engine_rates(steps=steps, repeats=repeats)
        say("step breakdown at K=" + ", ".join(str(k) for k in ks if k >= 128))
        breakdown = {str(k): step_breakdown(k, 4 if quick else 20, 2 if quick else 5) for k in ks if k >= 128}
        harness = _harness_timings(say) if suite and not quick else {
            "suite_seconds": None, "suite_note": "skipped (--quick or --no-suite)", "paper_group_seconds": None,
            "cross_instance": None}
    finally:
        torch.set_num_threads(previous)
    grid_times = [grid_seconds(g, engines, jobs, grid_seeds, say, grid_store) for g in grids]
    arch = BENCH_ARCH
    first = by_density[str(densities[0])]
    return {
        "machine": {"python": platform.python_version(), "torch": torch.__version__,
                    "processor": platform.processor() or platform.machine(), "threads": threads,
                    "threads_note": threads_note, "cores_available": default_threads(),
                    "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
        "workload": {"widths": list(arch.widths), "params": n_params(arch), "batch": 32, "dtype": "float32",
                     "optimizer": "adam (torch's fused kernel, the default)", "mask_density": densities[0],
                     "densities": list(densities), "quick": quick,
                     "flops_per_network_step": flops_per_network_step(arch, 32),
                     "flops_rule": "6 * params * batch per network-step (params = weights + biases, dense)"},
        "peak_gflops": peak,
        **first,
        "by_density": by_density,
        "engine_mib": {str(k): k * bytes_per_network(arch, TrainConfig(), 9000, torch.float32, False) / 2**20
                       for k in ks},
        "peak_rss_mib": peak_rss_mib(),
        "memory_rule": "peak_rss_mib: resource.getrusage ru_maxrss of the whole bench process; "
                       "engine_mib: the engine's own estimate for K networks (9000 shared samples)",
        **harness,
        "step_breakdown": breakdown,
        "sparse_engine": sparse,
        "grids": grid_times,
    }
