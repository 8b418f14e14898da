"""The engine's invariant: a cell's bytes (mask, metrics, every number) are a function of the cell alone. The same
cells, on MLP, CNN and transformer hosts, run alone (a group of one cell), bundled with other instances, tasks and
pruners, at ``--max-batch 1`` and automatic, with ``--jobs 1`` and ``2`` and under ``--executor dask``: identical
results, bit for bit. (Whether the engine's numbers equal another engine's is not asked here: see
tests/train/test_compaction.py for the agreement with the dense path up to rounding.)"""

from __future__ import annotations

import json
import math

import pytest

from plantseek.records.cells import CellResult
from plantseek.run.bundle import bundle_groups, run_bundle, run_group
from plantseek.run.grid import expand, group_cells, run_cells
from plantseek.run.suites import SUITES
from plantseek.train.config import TrainConfig

FLOATS = ("density", "achieved_density", "strong_metric", "weak_metric", "ticket_metric", "dense_metric",
          "dense_weak_metric")


def fingerprint(r: CellResult) -> tuple:
    """Everything a cell's result says about its numbers, as bytes (floats by their hex form)."""
    floats = tuple("nan" if math.isnan(getattr(r, f)) else float(getattr(r, f)).hex() for f in FLOATS)
    return (r.status, r.error, r.mask, json.dumps(r.metrics, sort_keys=True, default=str), r.metric_name, floats)


def mlp_cells():
    """Circle, ReLU and Helix at two seeds; three pruners at a sparse density (the compacted path), a moderate one
    and 1.0 (the dense path), under the calibrated protocol, and Circle under the paper's (prunable biases)."""
    base = SUITES.get("smoke").with_overrides(
        tasks=["circle", "relu", "helix"], pruners=["random", "magnitude", "snip"], densities=["0.01", "0.1", "1.0"],
        seeds=[0, 1], depth=4, width=32, n_samples=300, train=TrainConfig(epochs=2), budget=TrainConfig(epochs=1))
    paper = base.with_overrides(tasks=["circle"], pruners=["magnitude"], densities=["0.01", "0.5"], seeds=[0],
                                training_protocol="paper")
    return expand(base) + expand(paper)


def conv_cells():
    suite = SUITES.get("conv-default").with_overrides(tasks=["bars"], pruners=["random", "magnitude"],
                                                      densities=["0.1", "1.0"], seeds=[0, 1], n_samples=200,
                                                      train=TrainConfig(epochs=1), budget=TrainConfig(epochs=1))
    return expand(suite)


def attention_cells():
    suite = SUITES.get("attention-default").with_overrides(pruners=["random", "magnitude"],
                                                           densities=["ticket", "0.1"], seeds=[0, 1], n_samples=100,
                                                           train=TrainConfig(epochs=1), budget=TrainConfig(epochs=1))
    return expand(suite)


HOSTS = {"mlp": mlp_cells, "cnn": conv_cells, "transformer": attention_cells}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # as in the grid's worker processes


def by_id(results) -> dict[str, tuple]:
    return {c.cell_id: fingerprint(r) for c, r in results}


def alone(cells) -> dict[str, tuple]:
    """Each cell in a group of its own: no other pruner, density or instance beside it."""
    return {c.cell_id: fingerprint(run_group([c])[0][1]) for c in cells}


@pytest.mark.parametrize("host", list(HOSTS))
def test_a_cell_is_the_same_alone_bundled_at_any_max_batch_and_with_two_jobs(host):
    cells = HOSTS[host]()
    assert len(group_cells(cells)) >= 2  # several instances (and, for the MLP, several tasks) bundle together
    picks = cells[:: max(1, len(cells) // 4)]  # a few cells of different instances, pruners and densities
    want = alone(picks)
    assert all(f[0] == "ok" for f in want.values()), [f[1] for f in want.values()]
    runs = {
        "bundles": by_id([r for b in bundle_groups(group_cells(cells), 10**6) for r in run_bundle(b)]),
        "max-batch 1": by_id(run_cells(cells, max_batch=1)),
        "max-batch auto": by_id(run_cells(cells)),
        "jobs 2": by_id(run_cells(cells, jobs=2)),
    }
    for name, got in runs.items():
        assert set(got) == {c.cell_id for c in cells}, name
        for cell_id, f in want.items():
            assert got[cell_id] == f, (host, name, cell_id)
    first = runs["max-batch 1"]
    for name, got in runs.items():  # and every cell, not only the picked ones, agrees across the runs
        assert got == first, name


def test_hosts_of_every_family_in_one_grid_give_the_cells_they_give_alone():
    cells = mlp_cells()[:6] + conv_cells()[:2] + attention_cells()[:2]
    want = alone(cells)
    assert by_id(run_cells(cells, jobs=2)) == want


def test_the_same_cells_under_the_dask_executor():
    pytest.importorskip("distributed")
    cells = [c for c in mlp_cells() if c.task == "circle" and c.pruner in ("random", "magnitude")][:6]
    want = by_id(run_cells(cells, max_batch=1))
    assert by_id(run_cells(cells, jobs=2, executor="dask")) == want
