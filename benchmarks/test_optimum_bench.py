"""pytest-benchmark cases for the exhaustive search's cost: masks trained per second by the batched engine (one
bundle of K masks of the 3-3-3 Cubist-Spiral network) against one mask at a time (``pytest benchmarks/
--benchmark-enable -k optimum``; extra_info carries the masks per call, so masks/s = masks / mean time).
Also a script: ``PYTHONPATH=$PWD python benchmarks/test_optimum_bench.py [--k 64]`` prints both rates."""

from __future__ import annotations

import argparse
import itertools
import time

import pytest
import torch

from plantseek.optimum.enumeration import mask_key, network_masks, network_nnz
from plantseek.optimum.search import Run, SearchConfig, train_bundle

CONFIG = SearchConfig(n_points=2000, epochs=5, batch_size=32, lrs=(0.05,), schedules=("constant",))
WIDTHS = (3, 3, 3)


def runs(k: int) -> list[Run]:
    masks = list(itertools.islice(network_masks((2, *WIDTHS, 1)), 25_992))[:: max(1, 25_992 // k)][:k]
    return [Run(2, WIDTHS, mask_key(m), 0, network_nnz(m)) for m in masks]


@pytest.mark.parametrize("k", [1, 32])
def test_optimum_batched_bundle(benchmark, k):
    torch.set_num_threads(1)
    bundle = runs(k)
    benchmark.extra_info["masks"] = k
    rows = benchmark(train_bundle, CONFIG, bundle)
    assert len(rows) == k


def test_optimum_one_at_a_time(benchmark):
    torch.set_num_threads(1)
    bundle = runs(4)
    benchmark.extra_info["masks"] = 4
    rows = benchmark(lambda: [train_bundle(CONFIG, [r]) for r in bundle])
    assert len(rows) == 4


def main() -> None:
    parser = argparse.ArgumentParser(description="masks trained per second, batched vs one at a time")
    parser.add_argument("--k", type=int, default=64)
    parser.add_argument("--single", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    bundle = runs(args.k)
    train_bundle(CONFIG, bundle[:2])  # warm-up
    t = time.perf_counter()
    train_bundle(CONFIG, bundle)
    batched = args.k / (time.perf_counter() - t)
    t = time.perf_counter()
    for r in bundle[: args.single]:
        train_bundle(CONFIG, [r])
    single = args.single / (time.perf_counter() - t)
    print(f"batched ({args.k} masks per bundle): {batched:.2f} masks/s; one at a time: {single:.2f} masks/s; "
          f"speed-up {batched / single:.1f}x ({CONFIG.n_points} points, {CONFIG.epochs} epochs, batch "
          f"{CONFIG.batch_size}, 1 thread)")


if __name__ == "__main__":
    main()
