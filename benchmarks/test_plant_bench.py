"""Planting speed (pytest-benchmark). Run: python -m pytest benchmarks/test_plant_bench.py --benchmark-enable

Target (issue 2): Circle depth 6 width 1000 plants in well under a second.
"""

import plantseek


def test_bench_plant_circle_depth6_width1000(benchmark):
    inst = benchmark(lambda: plantseek.plant("circle", depth=6, width=1000, seed=0))
    assert inst.ticket_weights == 119


def test_bench_plant_helix_depth5_width100(benchmark):
    inst = benchmark(lambda: plantseek.plant("helix", depth=5, width=100, seed=0))
    assert inst.ticket_weights == 95
