"""The engine on a CUDA device (skipped without one; `benchmarks/gpu_check.sh` runs these on a GPU machine).

On CUDA the batched engine runs in its fast mode (``exact=False``): results agree with the CPU's to float32
tolerance, not bit for bit; batch-independence bit for bit is a CPU guarantee (docs/performance.md)."""

from __future__ import annotations

import pytest
import torch

from plantseek.families.mlp.network import Architecture, he_init
from plantseek.train.batched import train_masks_batched
from plantseek.train.config import TrainConfig

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

ARCH = Architecture((2, 32, 32, 3))


def _problem(k: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    state = he_init(ARCH, g)
    masks = [{n: torch.rand(s, generator=g) < 0.5 for n, s in ARCH.weight_shapes().items()} for _ in range(k)]
    x = torch.rand(256, 2, generator=g) * 2 - 1
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    return state, masks, x, y


def _train(device, masks, state, x, y, seeds):
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    return train_masks_batched(ARCH, state, masks, x, y, "classification", TrainConfig(epochs=2, batch_size=32),
                               gens, device=device)


def test_cuda_training_agrees_with_the_cpu():
    state, masks, x, y = _problem(6)
    cpu = _train("cpu", masks, state, x, y, range(6))
    gpu = _train("cuda", masks, state, x, y, range(6))
    for a, b in zip(cpu, gpu):
        for name in a:
            assert torch.allclose(a[name], b[name].cpu(), rtol=1e-4, atol=1e-5), name


def test_a_network_on_cuda_trains_the_same_alone_and_in_a_bundle_to_tolerance():
    state, masks, x, y = _problem(8)
    alone = _train("cuda", masks[:1], state, x, y, [0])[0]
    bundled = _train("cuda", masks, state, x, y, range(8))[0]
    for name in alone:
        assert torch.allclose(alone[name], bundled[name], rtol=1e-4, atol=1e-5), name


def test_evaluate_on_cuda_scores_the_smoke_cells(tmp_path):
    from plantseek.cli import main

    store = tmp_path / "s.db"
    assert main(["evaluate", "--suite", "smoke", "--device", "cuda", "--store", str(store), "--no-progress",
                 "--jobs", "1"]) == 0
