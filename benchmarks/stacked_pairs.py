"""How many conv or attention networks to stack at once on the CPU (engine 3, :mod:`plantseek.train.stacked`): one
``train_masks`` call of 21 networks (densities 0.01, 0.1, 0.5 and 1.0, five masks each, and a dense one) on the host of
conv-paper (bars, digits) or attention-paper (recall), one epoch, one torch thread, process CPU seconds, for the
per-network path (engine 2) and for stacks of 2, 4, 8 and 21 networks, in rounds (the first round includes the probes
and the warm-up).

Usage: ``PYTHONPATH=. python benchmarks/stacked_pairs.py bars|digits|recall [rounds]``.
"""

from __future__ import annotations

import os
import sys
import time

import torch

from plantseek import plant
from plantseek.nets.masks import select_top
from plantseek.planted.task import DataConfig
from plantseek.train.config import TrainConfig
from plantseek.train.engine import ENGINE_VARIABLE
from plantseek.train.loop import train_masks
from plantseek.train.stacked import train_masks_stacked

#: the hosts of the paper suites: (depth, width, samples, task options)
HOSTS = {"bars": (4, 12, 1000, {"image_size": 12}), "digits": (5, 32, 10_000, {}), "recall": (3, 32, 1000, {})}
STACKS = (2, 4, 8, 21)


def main(host: str, rounds: int = 2) -> None:
    torch.set_num_threads(1)
    depth, width, n, options = HOSTS[host]
    inst = plant(host, depth=depth, width=width, seed=0, data=DataConfig(n_samples=n), **options)
    arch, train = inst.arch, inst.data.train
    densities = [0.01, 0.1, 0.5, 1.0] * 5 + [1.0]
    masks = [select_top({k: torch.rand(s, generator=torch.Generator().manual_seed(i))
                         for k, s in arch.prunable_shapes().items()}, d) for i, d in enumerate(densities)]
    config = TrainConfig(epochs=1, batch_size=32)
    common = (arch, inst.initial_state, masks, train.x, train.y, inst.task.loss, config)

    def gens() -> list[torch.Generator]:
        return [torch.Generator().manual_seed(7 + i) for i in range(len(masks))]

    def per_network() -> None:
        os.environ[ENGINE_VARIABLE] = "2"
        try:
            train_masks(*common, gens(), device="cpu")
        finally:
            del os.environ[ENGINE_VARIABLE]

    runs = {"per-network (engine 2)": per_network}
    runs.update({f"stacks of {k}": (lambda k=k: train_masks_stacked(*common, gens(), chunk=k)) for k in STACKS})
    print(f"{host}: {len(masks)} networks, {train.x.shape[0]} samples, 1 epoch, CPU seconds per round")
    for r in range(rounds):
        for name, fn in runs.items():
            t = time.process_time()
            fn()
            print(f"  round {r + 1}  {name:24s} {time.process_time() - t:6.2f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bars", int(sys.argv[2]) if len(sys.argv) > 2 else 2)
