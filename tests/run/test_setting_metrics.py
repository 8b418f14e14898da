"""The settings' per-cell metrics through the group's steps (plantseek.run.group.score_step): the routing task's
per-route recalls (their mean over the equal routes is the plain recall) and the grokking tasks' time to generalise."""

from __future__ import annotations

import dataclasses

import pytest

from plantseek.records.cells import provenance
from plantseek.run.grid import expand
from plantseek.run.group import ablate_step, plant_step, prune_step, score_step, train_step
from plantseek.run.suites import SUITES
from plantseek.train.config import TrainConfig


def scored(suite_name: str, task: str):
    suite = dataclasses.replace(SUITES.get(suite_name), tasks=(task,), pruners=("random", "magnitude"),
                                densities=("0.5",), train=TrainConfig(epochs=1))
    planted = plant_step(expand(suite), provenance())
    ablated = ablate_step(planted, prune_step(planted))
    (trained,) = train_step([(planted, ablated)])
    return score_step(planted, ablated, trained)


def test_route_recalls_average_to_the_recall():
    for s in scored("routing-default", "routing").scores:
        r = s.recovery
        routes = [r[f"route_recall_{c}"] for c in range(4)]
        assert sum(routes) / 4 == pytest.approx(r["recall"])  # four routes of equal size
        assert r["route_recall_min"] == min(routes) and r["route_recall_max"] == max(routes)
        assert "steps_to_generalise" not in r


def test_time_to_generalise_is_in_every_grokking_cell():
    for s in scored("grokking-default", "sparse-parity").scores:
        r = s.recovery
        assert r["steps_to_generalise_ticket"] == 0.0  # the exact ticket generalises before any step
        assert r["curve_final_accuracy"] == pytest.approx(s.weak, abs=0.02)  # the two training paths agree
        assert r["generalised"] == (0.0 if r["steps_to_generalise"] is None else 1.0)
        assert "route_recall_0" not in r


@pytest.mark.parametrize("suite, task", [("routing-default", "routing"), ("grokking-default", "sparse-parity")])
def test_verify_recomputes_the_settings_cells_without_refusing_them(tmp_path, suite, task, capsys):
    from plantseek.cli import main

    store = tmp_path / "r.db"
    assert main(["evaluate", "--suite", suite, "--tasks", task, "--pruners", "magnitude", "--densities", "0.5",
                 "--epochs", "1", "--store", str(store), "--no-progress"]) == 0
    capsys.readouterr()
    # route recalls recomputed; the curves (training results) left as stored
    assert main(["verify", "--store", str(store)]) == 0, capsys.readouterr()
