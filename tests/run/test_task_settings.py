"""Per-task settings of a suite (TaskSetting): digits cells of the conv suites take the trained target's depth and
width while the bars cells keep the suite's own; command-line overrides reach every task; a digits group runs."""

from __future__ import annotations

import pytest
import torch

from plantseek.run.grid import expand, group_cells
from plantseek.run.bundle import run_group
from plantseek.run.suites import SUITES


@pytest.mark.parametrize("name", ["conv-default", "conv-paper"])
def test_conv_suites_give_digits_its_own_setting(name):
    suite = SUITES.get(name)
    cells = expand(suite)
    digits = [c for c in cells if c.task == "digits"]
    bars = [c for c in cells if c.task == "bars"]
    assert len(digits) == len(bars) == len(cells) // 2
    assert {(c.depth, c.width, c.task_options) for c in digits} == {(5, 32, ())}
    assert {(c.depth, c.width, c.task_options, c.n_samples) for c in bars} == {
        (suite.depth, suite.width, tuple(sorted(suite.task_options.items())), suite.n_samples)}
    assert [len(g) for g in group_cells(cells)] == [len(bars) // len(suite.seeds)] * (2 * len(suite.seeds))


def test_overrides_reach_every_task():
    suite = SUITES.get("conv-default").with_overrides(width=40, noise=None, n_samples=300,
                                                      task_options={"image_size": 12, "noise": 0.2})
    assert suite.setting("digits") == {"depth": 5, "width": 40, "task_options": {"noise": 0.2}, "n_samples": 300}
    assert suite.setting("bars") == {"depth": 4, "width": 40, "task_options": {"image_size": 12, "noise": 0.2},
                                     "n_samples": 300}
    plain = SUITES.get("conv-default").with_overrides(seeds=[3])
    assert plain.setting("digits") == {"depth": 5, "width": 32, "task_options": {}, "n_samples": 1000}


def test_a_digits_group_records_ok_cells():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        suite = SUITES.get("conv-default").with_overrides(tasks=["digits"], pruners=["random", "magnitude"],
                                                          densities=["ticket"], n_samples=200)
        results = run_group(expand(suite))
    finally:
        torch.set_num_threads(previous)
    assert [r.status for _, r in results] == ["ok", "ok"], [r.error for _, r in results]
    first = results[0][1]
    assert first.metric_name == "accuracy" and first.ticket_metric > 0.9  # the planted target, read out
    assert first.achieved_density == pytest.approx(976 / 97568, abs=1e-12)
    assert all(len(v) == 4 for v in first.metrics["per_layer"].values())  # three conv layers and the head
