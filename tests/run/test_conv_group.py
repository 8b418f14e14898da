"""Everything downstream on a conv host: a group of bars cells (plant, prune in workers, ablate, train, score, record)
gives ok rows with per-layer recovery metrics over channels; the conv-default suite runs every registered pruner
(slow)."""

from __future__ import annotations

import dataclasses

import pytest

from plantseek.run.grid import expand, group_cells
from plantseek.run.bundle import run_group
from plantseek.run.suites import SUITES


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # as in the grid's worker processes


def test_a_conv_group_records_ok_cells_with_recovery_metrics():
    suite = SUITES.get("conv-default").with_overrides(tasks=["bars"], pruners=["random", "magnitude"],
                                                      densities=["ticket", "0.1"], n_samples=200)
    base = expand(suite)
    cells = base + [dataclasses.replace(base[0], ablation="shuffled")]
    results = run_group(cells)
    assert [r.status for _, r in results] == ["ok"] * len(cells), [r.error for _, r in results]
    first = results[0][1]
    assert first.metric_name == "accuracy" and 0.0 <= first.strong_metric <= 1.0 and first.ticket_metric > 0.5
    layers = first.metrics["per_layer"]
    assert all(len(v) == 3 for v in layers.values())  # two conv layers and the head
    assert layers["ticket_density"] == pytest.approx([20 / 300, 4 / 1296, 4 / 48])  # 12x12, width 12: 5x5, 3x3, head
    assert first.achieved_density == pytest.approx(28 / 1644, abs=1e-12)
    assert {"effective_density", "layer_collapse", "recall", "precision"} <= set(first.metrics)


@pytest.mark.slow
def test_conv_default_runs_every_registered_pruner_without_a_failed_cell():
    results = [r for cells in group_cells(expand(SUITES.get("conv-default"))) for r in run_group(cells)]
    failed = [(c.pruner, c.density, r.error) for c, r in results if r.status != "ok"]
    assert not failed and len(results) == SUITES.get("conv-default").n_cells


def test_bars_cells_carry_their_task_numerics_and_other_cells_keep_their_ids():
    from plantseek.records.cells import NUMERICS, TASK_NUMERICS, CellConfig
    from plantseek.train.engine import active_engine

    # bars 3 (and circle, relu, helix, digits 2): host-matched planting factors; recall's planting is unchanged
    assert TASK_NUMERICS == {"bars": 3, "circle": 2, "relu": 2, "helix": 2, "digits": 2}
    bars = CellConfig(task="bars", depth=4, width=12, seed=0, pruner="magnitude", density="0.1")
    assert bars.identity() == {"task": "bars", "depth": 4, "width": 12, "seed": 0, "pruner": "magnitude",
                               "density": "0.1", "numerics": NUMERICS, "task_numerics": 3,
                               "engine": active_engine()}
    recall = dataclasses.replace(bars, task="recall")
    assert "task_numerics" not in recall.identity()
