"""``bench --device DEVICE``: the batched training engine's throughput on an accelerator beside the CPU.

The same Circle-shaped workload as the CPU bench (:mod:`plantseek.perf.timing`: widths 2-100-100-100-4, batch 32,
Adam), K networks trained as one batch by :class:`plantseek.train.batched.BatchedTrainer` on ``device`` and on the
CPU (all usable threads), best of ``repeats`` interleaved rounds, the device synchronised before each clock
reading. Reported per K: network-steps/s on each, their ratio, and the device's float32 matmul roofline. On the CPU
the engine runs in its exact (batch-independent) mode; on CUDA in its fast mode (``exact=False``; see
``docs/performance.md``), so the ratio is what a user of ``evaluate --device cuda`` gets.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import torch

from plantseek.perf.timing import BENCH_ARCH, _workload, flops_per_network_step
from plantseek.train.batched import BatchedTrainer, _Data
from plantseek.train.config import TrainConfig
from plantseek.train.device import default_threads, resolve_device
from plantseek.train.losses import loss_grad_fn

DEVICE_KS = (32, 128, 512, 2048)


def _synchronised(device: torch.device) -> Callable[[], None]:
    return torch.cuda.synchronize if device.type == "cuda" else (lambda: None)


def roofline(device: torch.device, n: int = 2048, repeats: int = 5) -> float:
    """Best-of float32 GFLOP/s of one ``n x n`` product on ``device``."""
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(n, n, generator=g).to(device) for _ in range(2))
    sync = _synchronised(device)
    torch.mm(a, b)
    sync()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mm(a, b)
        sync()
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def _runner(k: int, device: torch.device, steps: int, density: float) -> Callable[[], None]:
    batch, warmup = 32, 3
    n = max(batch * (steps + warmup), 1024)
    arch, state, masks, x, y, g = _workload(k, density, n)
    config = TrainConfig(batch_size=batch)
    data = _Data(x, y, k, torch.float32, device)
    trainer = BatchedTrainer(arch, [state] * k, masks, data, loss_grad_fn("cross_entropy"), config, device=device,
                             exact=device.type == "cpu")
    rows = torch.stack([torch.randperm(n, generator=g) for _ in range(k)]).to(device)
    batches = [rows[:, i * batch:(i + 1) * batch] for i in range(steps + warmup)]
    sync = _synchronised(device)

    def run(selected) -> None:
        with torch.no_grad():
            for b in selected:
                trainer.step(b, config.lr)
        sync()

    run(batches[:warmup])
    return lambda: run(batches[warmup:])


def throughput(devices: Sequence[torch.device], ks: Sequence[int], steps: int, repeats: int,
               density: float = 1.0) -> dict[str, dict[str, float]]:
    """Network-steps/s per device and K (best of ``repeats`` interleaved rounds)."""
    runners = {(d.type, k): _runner(k, d, steps, density) for d in devices for k in ks}
    best = {key: float("inf") for key in runners}
    for _ in range(repeats):
        for key, run in runners.items():
            t0 = time.perf_counter()
            run()
            best[key] = min(best[key], time.perf_counter() - t0)
    return {d.type: {str(k): k * steps / best[(d.type, k)] for k in ks} for d in devices}


def run(device: str, ks: Sequence[int] = DEVICE_KS, quick: bool = False,
        say: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """The device bench as one dict (see the module docstring)."""
    dev = resolve_device(device)
    steps, repeats = (4, 2) if quick else (30, 5)
    ks = tuple(k for k in ks if k <= 128) or tuple(ks)[:1] if quick else tuple(ks)
    previous = torch.get_num_threads()
    torch.set_num_threads(default_threads())
    try:
        say(f"matmul roofline on {dev}")
        peak = {dev.type: roofline(dev, 512 if quick else 2048, repeats)}
        if dev.type != "cpu":
            peak["cpu"] = roofline(torch.device("cpu"), 512 if quick else 2048, repeats)
        devices = [dev] if dev.type == "cpu" else [dev, torch.device("cpu")]
        say(f"batched training at K={', '.join(map(str, ks))} on {', '.join(d.type for d in devices)}")
        rates = throughput(devices, ks, steps, repeats)
    finally:
        torch.set_num_threads(previous)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    ratio = ({k: rates[dev.type][k] / rates["cpu"][k] for k in rates[dev.type]} if "cpu" in rates and dev.type != "cpu"
             else {})
    return {"device": dev.type, "device_name": name, "cpu_threads": default_threads(), "torch": torch.__version__,
            "workload": {"widths": list(BENCH_ARCH.widths), "batch": 32,
                         "flops_per_network_step": flops_per_network_step(BENCH_ARCH, 32)},
            "roofline_gflops": peak, "network_steps_per_s": rates, "device_vs_cpu": ratio, "quick": quick}


def table(r: dict[str, Any]) -> str:
    lines = [f"plantseek bench --device {r['device']} ({r['device_name']}), torch {r['torch']}, CPU with "
             f"{r['cpu_threads']} thread(s)",
             "  matmul roofline: " + ", ".join(f"{d} {g:.0f} GFLOP/s" for d, g in r["roofline_gflops"].items()),
             "        K   " + "   ".join(f"{d} network-steps/s" for d in r["network_steps_per_s"])
             + ("   device / cpu" if r["device_vs_cpu"] else "")]
    first = next(iter(r["network_steps_per_s"].values()))
    for k in first:
        row = "   ".join(f"{v[k]:>{len(d) + 16}.0f}" for d, v in r["network_steps_per_s"].items())
        ratio = f"   {r['device_vs_cpu'][k]:12.1f}x" if r["device_vs_cpu"] else ""
        lines.append(f"    {int(k):5d}   {row}{ratio}")
    return "\n".join(lines)
