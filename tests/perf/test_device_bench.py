"""`bench --device`: the batched engine's throughput on a device beside the CPU (here the CPU path, tiny)."""

from __future__ import annotations

import pytest
import torch

from plantseek.perf import device_bench


def test_cpu_device_bench_reports_rates_and_no_ratio():
    r = device_bench.run("cpu", ks=(4, 8), quick=True)
    assert r["device"] == "cpu" and set(r["network_steps_per_s"]) == {"cpu"}
    rates = r["network_steps_per_s"]["cpu"]
    assert set(rates) == {"4", "8"} and all(v > 0 for v in rates.values())
    assert r["device_vs_cpu"] == {} and r["roofline_gflops"]["cpu"] > 0
    text = device_bench.table(r)
    assert text.splitlines()[0].startswith("plantseek bench --device cpu") and len(text.splitlines()) == 5


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_bench_refuses_a_device_it_cannot_use(capsys):
    from plantseek.cli import main

    assert main(["bench", "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "plantseek: error: device 'cuda' requested but CUDA is not available on this machine"
