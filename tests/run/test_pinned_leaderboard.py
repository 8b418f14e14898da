"""No numerics change: re-running cells of the committed default suite reproduces ``leaderboard/plantseek.db``
bit for bit (same cell ids, masks, strong and weak metrics, recovery metrics).

Bit identity holds on one kind of machine: float64 matrix products (strong metrics) and the chaotic weak
training round differently on another CPU's kernels (measured: the store committed before this test, made on
another machine, differs here in the last digits of strong metrics and, through training, in multi-shot masks).
The store was produced by ``evaluate --jobs 2`` (worker processes with one torch thread each) on the machine named
in ``PRODUCED_ON``; elsewhere the cell ids and the masks of the data-free, float-exact pruners are still compared,
and the numeric comparison is skipped with the reason.
"""

import json
import math
import platform
import sqlite3
from pathlib import Path

import pytest
import torch

from plantseek.run.grid import expand
from plantseek.run.bundle import run_group
from plantseek.run.suites import SUITES

STORE = Path(__file__).resolve().parents[2] / "leaderboard" / "plantseek.db"
# one cell of each protocol, spread over the three tasks: (task, pruner, density)
PINNED = [
    ("circle", "magnitude", "0.1"),
    ("circle", "edge-popup", "0.5"),
    ("relu", "grasp", "0.01"),
    ("relu", "snip-multishot", "0.1"),
    ("helix", "synflow-100", "0.1"),
    ("helix", "random", "ticket"),
]


PRODUCED_ON = {"cpu": "AMD EPYC", "capability": "AVX512", "torch": "2.13.0+cpu", "machine": "x86_64"}
MACHINE_FREE = {"random", "magnitude"}  # masks that involve no rounding-sensitive arithmetic


def this_machine() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    except OSError:
        pass
    return {"cpu": model, "capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
            "machine": platform.machine()}


def _row(cell_id: str):
    with sqlite3.connect(f"file:{STORE}?mode=ro", uri=True) as con:
        con.row_factory = sqlite3.Row
        return con.execute("SELECT * FROM cells WHERE cell_id = ?", (cell_id,)).fetchone()


def stored(config) -> dict:
    row = _row(config.cell_id)
    assert row is not None, f"cell {config.cell_id} is not in {STORE}: the cell id changed"
    return dict(row)


@pytest.mark.parametrize("task", ["circle", "relu", "helix"])
def test_default_suite_cells_reproduce_the_committed_store(task):
    # the committed store was regenerated at the end of the December 2026 round with the current engine and
    # numerics (docs/hidden-instances.md): its cells are found under today's ids
    torch.set_num_threads(1)  # as in the worker processes that computed the store (executors._init_worker)
    cells = [c for c in expand(SUITES.get("default"))
             if (c.task, c.pruner, c.density) in PINNED and c.task == task]
    assert cells
    same_machine = this_machine() == PRODUCED_ON
    for config in cells:  # before running them: every pinned cell is in the store
        stored(config)
    for config, result in run_group(cells):
        row = stored(config)
        assert result.status == row["status"] == "ok"
        if config.pruner in MACHINE_FREE:
            assert bytes(result.mask) == bytes(row["mask"]), config.label
        if not same_machine:
            continue
        for field in ("strong_metric", "weak_metric", "achieved_density", "ticket_metric", "dense_metric",
                      "dense_weak_metric"):
            got, want = getattr(result, field), row[field]
            assert (math.isnan(got) and want is None) or got == want, (config.label, field, got, want)
        assert bytes(result.mask) == bytes(row["mask"]), config.label
        assert json.loads(json.dumps(result.metrics)) == json.loads(row["metrics_json"]), config.label
    if not same_machine:
        pytest.skip(f"numbers pinned on {PRODUCED_ON}, this is {this_machine()}: cell ids and float-free masks checked")
