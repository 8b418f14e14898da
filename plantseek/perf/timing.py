"""What the benchmarks share: the Circle-shaped workload, a prepared measurement (:class:`Runner`), interleaved
best-of timing and the network-steps/s and GFLOP/s of a runner (see :mod:`plantseek.perf.bench` for the rules)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch

from plantseek.families.mlp.network import Architecture, he_init

BENCH_ARCH = Architecture((2, 100, 100, 100, 4))


def n_params(arch: Architecture) -> int:
    return arch.n_prunable + sum(arch.widths[1:])


def flops_per_network_step(arch: Architecture, batch: int) -> int:
    return 6 * n_params(arch) * batch


def _workload(k: int, density: float, n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    arch = BENCH_ARCH
    state = he_init(arch, g)
    masks = [{name: torch.rand(shape, generator=g) < density for name, shape in arch.weight_shapes().items()}
             for _ in range(k)]
    x = torch.rand(n, arch.widths[0], generator=g) * 2 - 1
    y = torch.randint(0, arch.widths[-1], (n,), generator=g)
    return arch, state, masks, x, y, g


@dataclass
class Runner:
    """A prepared measurement: ``run()`` performs ``network_steps`` network-steps (warm-up already done)."""

    run: Callable[[], None]
    network_steps: int
    info: dict[str, Any]


def interleaved_best(runners: Sequence[Runner], repeats: int) -> list[float]:
    """Best-of-``repeats`` seconds of each runner, the repeats taken in rounds over all runners: on a shared
    machine slow spells last seconds, and interleaving keeps one from falling on a single measurement only."""
    best = [float("inf")] * len(runners)
    for _ in range(repeats):
        for i, r in enumerate(runners):
            t0 = time.perf_counter()
            r.run()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best


def rate(runner: Runner, seconds: float, batch: int = 32) -> dict[str, Any]:
    """Network-steps/s and GFLOP/s of a runner that took ``seconds``."""
    per_s = runner.network_steps / seconds
    info = {k: v for k, v in runner.info.items() if k not in ("trainer", "batches")}
    return {**info, "seconds_per_run": seconds, "network_steps_per_s": per_s,
            "gflops": per_s * flops_per_network_step(BENCH_ARCH, batch) / 1e9}
