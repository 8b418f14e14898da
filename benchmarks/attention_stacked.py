"""Benchmark (a script, not a test): the stacked training path (plantseek.train.stacked) against one network at a time
(plantseek.train.loop, engine="loop") on K masked copies of a recall (transformer) host.

    PYTHONPATH=$PWD python benchmarks/attention_stacked.py [--k 32] [--n 512] [--width 64] [--threads 1]

Prints the wall-clock seconds of both paths and the speed-up (float32, 1 epoch, batch 32, masks at density 0.1).
"""

from __future__ import annotations

import argparse
import time

import torch

from plantseek import plant
from plantseek.planted.task import DataConfig
from plantseek.nets.masks import select_top
from plantseek.train.config import TrainConfig
from plantseek.train.loop import train_masks
from plantseek.train.stacked import train_masks_stacked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--n", type=int, default=512)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    inst = plant("recall", depth=3, width=args.width, seed=0, data=DataConfig(n_samples=int(args.n / 0.9) + 1))
    arch, train = inst.arch, inst.data.train
    masks = [select_top({n: torch.rand(s, generator=torch.Generator().manual_seed(i))
                         for n, s in arch.prunable_shapes().items()}, 0.1) for i in range(args.k)]
    config = TrainConfig(epochs=1, batch_size=32)
    gens = lambda: [torch.Generator().manual_seed(100 + i) for i in range(args.k)]  # noqa: E731
    common = (arch, inst.initial_state, masks, train.x, train.y, inst.task.loss, config)
    t0 = time.perf_counter()
    train_masks(*common, gens(), engine="loop")
    loop = time.perf_counter() - t0
    t0 = time.perf_counter()
    train_masks_stacked(*common, gens())
    stacked = time.perf_counter() - t0
    print(f"K={args.k} n={train.x.shape[0]} width={args.width} threads={args.threads}: "
          f"one at a time {loop:.2f} s, stacked {stacked:.2f} s, speed-up {loop / stacked:.2f}x")


if __name__ == "__main__":
    main()
