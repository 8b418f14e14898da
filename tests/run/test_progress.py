"""Progress ticks from inside cell groups (plantseek.core.progress, plantseek.run.work): the first tick comes before
the first cell group ends, every unit estimated is reported, ticks cross the worker processes' boundary, and a run
with progress stores the same cells as one without."""

import math
import time

import pytest

from plantseek.core import progress
from plantseek.run.grid import expand, group_cells, run_cells
from plantseek.run.suites import SUITES
from plantseek.run.work import WorkDone, duration_text, group_work, prune_weight
from plantseek.store.results import ResultStore, load_results
from plantseek.train.config import TrainConfig


def cells(pruners=("random", "snip"), densities=("0.1", "0.5"), seeds=(0,), epochs=2, n_samples=600):
    suite = SUITES.get("smoke").with_overrides(tasks=["circle"], pruners=list(pruners), densities=list(densities),
                                               seeds=list(seeds), depth=4, width=20, n_samples=n_samples,
                                               train=TrainConfig(epochs=epochs), budget=TrainConfig(epochs=1))
    return expand(suite)


class Recorder:
    """Every event of a run in order: ('work', kind-less snapshot) and ('cell', cell id)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, float]] = []

    def on_work(self, work: WorkDone) -> None:
        self.events.append(("work", work.ticked, time.monotonic()))
        self.work = work

    def on_result(self, config, result) -> None:
        self.events.append(("cell", 0, time.monotonic()))

    def first(self, what: str) -> int:
        return next(i for i, e in enumerate(self.events) if (e[0] == what and (what == "cell" or e[1] > 0)))


def test_no_sink_no_tick_and_a_failing_sink_is_ignored():
    got = []
    progress.tick("plant")  # no sink: nothing happens, nothing raises
    with progress.reporting(lambda kind, n: got.append((kind, n))):
        progress.tick("prune", 3)
        progress.tick("train", 0)  # nothing to report
        with progress.reporting(lambda kind, n: 1 / 0):
            progress.tick("train", 2)  # the broken sink's error does not reach the work
        progress.tick("plant")
    progress.tick("plant")
    assert got == [("prune", 3), ("plant", 1)]


def test_group_work_by_hand():
    grid = cells()  # one instance, 2 pruners x 2 densities, 2 epochs: a prune call weighs 2 x 2 network-epochs;
    assert prune_weight(grid) == 4  # 1 plant + 4 prune calls + (4 cells + dense) x 2 epochs
    assert [group_work(g, prune_weight(grid)) for g in group_cells(grid)] == [1 + 4 * 4 + 5 * 2]
    assert prune_weight(cells(epochs=0)) == 1


def test_the_first_tick_comes_before_the_first_group_ends_and_every_unit_is_reported():
    rec = Recorder()
    grid = cells(seeds=(0, 1))  # two groups (instances), run one after the other in this process
    run_cells(grid, jobs=1, executor="local", max_batch=1, on_work=rec.on_work, on_result=rec.on_result)
    assert rec.first("work") < rec.first("cell")  # ticks moved before any cell finished
    kinds_before_first_cell = rec.events[:rec.first("cell")]
    assert sum(1 for e in kinds_before_first_cell if e[0] == "work") >= 1 + 4 + 2  # plant, 4 prunes, 2 epochs
    work = rec.work
    assert work.total == 2 * (1 + 4 * 4 + 5 * 2) and work.groups == 2 and work.planted == 2
    assert work.ticked == work.total == work.done  # every estimated unit was reported, none twice
    done = [e[1] for e in rec.events if e[0] == "work"]
    assert done == sorted(done)


def test_duplicate_networks_count_as_done_when_they_are_not_trained():
    rec = Recorder()  # density 1.0: both pruners keep everything, the same mask as the dense host: 1 network trained
    run_cells(cells(densities=("1.0",)), jobs=1, executor="local", on_work=rec.on_work, on_result=rec.on_result)
    assert rec.work.ticked == rec.work.total == 1 + 2 * 4 + 3 * 2


def test_ticks_cross_from_worker_processes_before_the_first_group_ends():
    rec = Recorder()
    grid = cells(seeds=(0, 1), epochs=20, n_samples=2000)  # a group lasts seconds: its ticks arrive while it runs
    run_cells(grid, jobs=2, executor="processes", max_batch=1, on_work=rec.on_work, on_result=rec.on_result)
    assert rec.first("work") < rec.first("cell")
    assert rec.work.planted >= 1 and 0 < rec.work.ticked <= rec.work.total == rec.work.done


def test_a_run_with_progress_stores_the_same_cells_as_one_without(tmp_path):
    grid = cells()
    paths = []
    for name, on_work in (("quiet", None), ("ticking", Recorder().on_work)):
        with ResultStore(tmp_path / f"{name}.db") as store:
            run_cells(grid, store=store, jobs=1, executor="local", on_work=on_work)
        paths.append(tmp_path / f"{name}.db")
    same = ["cell_id", "status", "error", "achieved_density", "strong_metric", "weak_metric", "ticket_metric",
            "dense_metric", "dense_weak_metric", "metrics_json", "mask"]
    a, b = (load_results(p, include_masks=True).sort_values("cell_id").reset_index(drop=True) for p in paths)
    assert len(a) == len(b) == 4 and set(same) <= set(a.columns)
    for col in same:
        for x, y in zip(a[col], b[col]):
            assert x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y)), col


def test_eta_hidden_until_enough_is_done_then_from_the_work_rate():
    w = WorkDone(total=1000, started=0.0)
    w.tick("plant", 1)
    assert w.eta_seconds(now=30.0) is None  # 0.1 % done: no ETA (an early rate extrapolates to absurd times)
    w.tick("train", 99)
    assert w.eta_seconds(now=5.0) is None  # 10 % done but too soon
    assert w.eta_seconds(now=20.0) == pytest.approx(180.0)  # 100 units in 20 s: 900 more in 180 s
    w.bundle_done(2000)  # a settled estimate beyond the total: done is clipped, the ETA is 0
    assert w.done == 1000 and w.eta_seconds(now=20.0) == 0.0
    assert [duration_text(s) for s in (None, 42, 185, 3725)] == ["?", "42s", "3m05s", "1h02m"]
