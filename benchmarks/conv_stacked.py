"""Benchmark (a script, not a test): stacked training of K masked bars hosts (plantseek.train.stacked) against one
network at a time (plantseek.train.loop, engine="loop"), on the two hosts of the README's conv section.

    PYTHONPATH=$PWD python benchmarks/conv_stacked.py [--k 32] [--threads 1] [--repeats 2] [--hosts conv-default bars]

Per host: the wall-clock seconds (best of ``--repeats``, paths interleaved) of one epoch (float32, batch 32, masks at
density 0.1) one at a time; stacked as it trains by default (channels-last grouped convolutions, networks in chunks
of ``stacked_chunk``); channels-last with all K stacked at once; and the formulation before (contiguous, all K at
once); with the speed-ups over one at a time and the load (``os.getloadavg``, as ``uptime`` prints it).
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from plantseek import plant
from plantseek.planted.task import DataConfig
from plantseek.nets.masks import select_top
from plantseek.train.config import TrainConfig
from plantseek.train.loop import train_masks
from plantseek.train.stacked import stacked_chunk, train_masks_stacked

#: name: (width, image side, training samples)
HOSTS = {"conv-default": (12, 12, 256), "bars": (32, 16, 512)}


def time_host(name: str, k: int, repeats: int) -> dict[str, float]:
    width, side, n = HOSTS[name]
    inst = plant("bars", depth=4, width=width, seed=0, image_size=side, data=DataConfig(n_samples=int(n / 0.9) + 1))
    arch, train = inst.arch, inst.data.train
    masks = [select_top({n: torch.rand(s, generator=torch.Generator().manual_seed(i))
                         for n, s in arch.prunable_shapes().items()}, 0.1) for i in range(k)]
    config = TrainConfig(epochs=1, batch_size=32)
    common = (arch, inst.initial_state, masks, train.x, train.y, inst.task.loss, config)
    paths = {
        "one at a time": lambda gens: train_masks(*common, gens, engine="loop"),
        f"stacked (default: channels-last, chunks of {stacked_chunk(arch, k, 32, torch.float32)})":
            lambda gens: train_masks_stacked(*common, gens),
        f"stacked, channels-last, all {k} at once": lambda gens: train_masks_stacked(*common, gens, chunk=k),
        f"stacked, contiguous, all {k} at once (before)":
            lambda gens: train_masks_stacked(*common, gens, forward_options={}, chunk=k),
    }
    best = {p: float("inf") for p in paths}
    for _ in range(repeats):
        for p, run in paths.items():
            gens = [torch.Generator().manual_seed(100 + i) for i in range(k)]
            t0 = time.perf_counter()
            run(gens)
            best[p] = min(best[p], time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--hosts", nargs="+", choices=list(HOSTS), default=list(HOSTS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.hosts:
        best = time_host(name, args.k, args.repeats)
        loop = best["one at a time"]
        width, side, n = HOSTS[name]
        speed = ", ".join(f"{p} {t:.2f} s ({loop / t:.2f}x)" for p, t in best.items())
        print(f"{name} host (width {width}, {side}x{side}, {n} samples), K={args.k}, threads={args.threads}: {speed}; "
              f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
