"""pytest-benchmark cases for the training engines (``pytest benchmarks/ --benchmark-enable``).

With the project's default ``--benchmark-disable`` every case runs its function once, as a plain smoke test.
One call of a ``batched_step`` case is one optimiser step of K networks; ``extra_info`` carries the FLOPs of
that call (``6 * params * batch`` per network-step, see ``plantseek.perf.bench``) so GFLOP/s = flops / mean time.
"""

from __future__ import annotations

import os

import pytest
import torch

from plantseek.perf import bench
from plantseek.train.batched import BatchedTrainer, _Data
from plantseek.train.losses import loss_grad_fn
from plantseek.score.evaluation import strong_metrics_batched
from plantseek.planted.instance import plant
from plantseek.families.mlp.network import build_model
from plantseek.planted.task import DataConfig
from plantseek.train.config import TrainConfig
from plantseek.train.loop import model_optimizer

BATCH = 32


@pytest.fixture(scope="module", autouse=True)
def threads():
    """One thread unless PLANTSEEK_BENCH_THREADS says otherwise: robust on a shared machine, where
    multi-threaded kernels wait on busy cores (``python -m plantseek bench`` probes instead)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("PLANTSEEK_BENCH_THREADS", "1")))
    yield
    torch.set_num_threads(previous)


def test_dense_matmul_roofline(benchmark):
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(1024, 1024, generator=g), torch.randn(1024, 1024, generator=g)
    benchmark.extra_info["flops"] = 2 * 1024**3
    out = benchmark(torch.mm, a, b)
    assert out.shape == (1024, 1024)


@pytest.mark.parametrize("adam_kernel", ["fused", "single-tensor"])
@pytest.mark.parametrize("k", bench.KS)
@pytest.mark.parametrize("density", [1.0, 0.1])
def test_batched_step(benchmark, k, density, adam_kernel):
    n = 1024
    arch, state, masks, x, y, g = bench._workload(k, density, n)
    trainer = BatchedTrainer(arch, [state] * k, masks, _Data(x, y, k, torch.float32, torch.device("cpu")),
                             loss_grad_fn("cross_entropy"), TrainConfig(batch_size=BATCH, adam_kernel=adam_kernel))
    rows = torch.stack([torch.randperm(n, generator=g)[:BATCH] for _ in range(k)])
    benchmark.extra_info["flops"] = k * bench.flops_per_network_step(arch, BATCH)
    benchmark.extra_info["network_steps"] = k
    with torch.no_grad():
        benchmark(trainer.step, rows, 1e-3)
    for l, w in enumerate(trainer.model.weights):
        assert torch.all(w[trainer.model.weight_masks[l] == 0] == 0)


@pytest.mark.parametrize("adam_kernel", ["fused", "single-tensor"])
@pytest.mark.parametrize("density", [1.0, 0.1])
def test_per_network_step(benchmark, density, adam_kernel):
    n = 1024
    arch, state, masks, x, y, g = bench._workload(1, density, n)
    model = build_model(arch, state)
    opt = model_optimizer(model, TrainConfig(batch_size=BATCH, adam_kernel=adam_kernel))
    idx = torch.randperm(n, generator=g)[:BATCH]

    def step():
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x[idx], masks[0]), y[idx]).backward()
        opt.step()

    benchmark.extra_info["flops"] = bench.flops_per_network_step(arch, BATCH)
    benchmark.extra_info["network_steps"] = 1
    benchmark(step)


def test_strong_metrics_batched(benchmark):
    inst = plant("circle", depth=5, width=100, seed=0, data=DataConfig(n_samples=2000))
    g = torch.Generator().manual_seed(0)
    masks = [{n: torch.rand(s, generator=g) < 0.1 for n, s in inst.arch.weight_shapes().items()} for _ in range(32)]
    out = benchmark(strong_metrics_batched, inst, masks)
    assert len(out) == 32
