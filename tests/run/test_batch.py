"""Cell groups bundled across instances (plantseek.run.bundle): the same cells, bit for bit, as one instance at a
time, on a small mixed grid (several seeds, two tasks of one shape, a task of another shape, a failing pruner);
the bundling rule; --max-batch."""

from __future__ import annotations

import dataclasses
import math

import pytest

import plantseek.run.group as group
from plantseek.planted.task import TASKS
from plantseek.run.bundle import batch_key, bundle_groups, run_bundle, run_group
from plantseek.run.grid import auto_max_batch, expand, group_cells, run_cells
from plantseek.run.suites import SUITES
from plantseek.train.config import TrainConfig
from plantseek.tasks.circle import CircleTask

ORACLE = "tests/pruners/oracle.py"


class TwinCircle(CircleTask):
    """A second task of Circle's shape (2 -> 4, classification) with other data: labels of the mirrored ring."""

    name = "twin-circle"

    def clean_labels(self, x):
        return 3 - super().clean_labels(x)


@pytest.fixture
def twin(monkeypatch):
    monkeypatch.setitem(TASKS._items, "twin-circle", TwinCircle)


def grid(tasks, seeds, pruners=("random", "snip", f"{ORACLE}:Crashes"), densities=("ticket", "1.0")):
    suite = SUITES.get("smoke").with_overrides(tasks=list(tasks), pruners=list(pruners), densities=densities,
                                               seeds=list(seeds), depth=4, width=20, n_samples=300,
                                               train=TrainConfig(epochs=2), budget=TrainConfig(epochs=1))
    return expand(suite)


def same_number(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def test_a_mixed_batch_gives_the_per_instance_cells_bit_for_bit(twin, monkeypatch):
    groups = group_cells(grid(["circle", "twin-circle", "relu"], seeds=[0, 1]))
    assert len(groups) == 6 and len({batch_key(g[0]) for g in groups}) == 1
    alone = [r for g in groups for r in run_group(g)]
    sizes = []
    original = group.train_masks

    def counting(arch, starts, masks, *args, **kwargs):
        sizes.append(len(masks))
        return original(arch, starts, masks, *args, **kwargs)

    monkeypatch.setattr(group, "train_masks", counting)
    together = run_bundle(groups)
    # the four Circle-shaped instances train as one batch, the two ReLU ones as another; per instance: random
    # and snip at the ticket's density, and both at 1.0 with the dense host as one network
    assert sizes == [4 * 3, 2 * 3]
    assert len(together) == len(alone) == 6 * 6
    for (ca, ra), (cb, rb) in zip(alone, together):
        assert ca.cell_id == cb.cell_id and ra.status == rb.status and ra.error == rb.error
        assert ra.mask == rb.mask and ra.metrics == rb.metrics
        for field in ("strong_metric", "weak_metric", "ticket_metric", "dense_metric", "dense_weak_metric",
                      "achieved_density", "density"):
            assert same_number(getattr(ra, field), getattr(rb, field)), (ca.task, ca.seed, ca.pruner, field)
    statuses = {(c.pruner, r.status) for c, r in together}
    assert statuses == {(f"{ORACLE}:Crashes", "failed"), ("random", "ok"), ("snip", "ok")}


def test_an_instance_that_cannot_be_planted_fails_alone_in_its_batch():
    good = group_cells(grid(["circle"], seeds=[0], pruners=("random",), densities=("0.1",)))
    bad = [dataclasses.replace(c, seed=1, task_options=(("noise", -1.0),)) for c in good[0]]  # no such noise
    assert batch_key(bad[0]) == batch_key(good[0][0])
    results = run_bundle([bad, good[0]])
    assert results[0][1].status == "failed" and results[0][1].error.startswith("instance: ")
    assert results[1][1].status == "ok" and results[1][1].mask == run_group(good[0])[0][1].mask


def test_bundles_hold_groups_of_one_key_up_to_max_batch_networks():
    cells = grid(["circle", "relu"], seeds=[0, 1, 2], pruners=("random",), densities=("0.1", "0.5"))
    other = [dataclasses.replace(c, train=TrainConfig(epochs=3)) for c in cells[:2]]  # another training key
    groups = group_cells(cells + other)  # circle 0-2, relu 0-2 (3 networks each), then one of another key
    names = [[(g[0].task, g[0].seed, g[0].train.epochs) for g in b] for b in bundle_groups(groups, 9)]
    assert names == [[("circle", 0, 2), ("circle", 1, 2), ("circle", 2, 2)],
                     [("relu", 0, 2), ("relu", 1, 2), ("relu", 2, 2)], [("circle", 0, 3)]]
    names = [[(g[0].task, g[0].seed) for g in b] for b in bundle_groups(groups, 7)]
    assert names == [[("circle", 0), ("circle", 1)], [("circle", 2), ("relu", 0)], [("relu", 1), ("relu", 2)],
                     [("circle", 0)]]
    assert [len(b) for b in bundle_groups(groups, 1)] == [1] * 7  # one instance at a time
    # automatic: at most 32 networks on the CPU, 512 on a GPU, and at least three bundles per worker process
    assert auto_max_batch(groups, jobs=1) == 7 and auto_max_batch(groups, jobs=2) == 4
    assert auto_max_batch(groups * 200, jobs=1) == 32 and auto_max_batch(groups * 200, 1, "cuda") == 512


def test_run_cells_with_max_batch_stores_each_cell_once_and_resumes(tmp_path):
    from plantseek.store.results import ResultStore

    cells = grid(["circle"], seeds=[0, 1, 2], pruners=("random", "magnitude"), densities=("0.1",))
    with ResultStore(tmp_path / "r.db") as store:
        first = run_cells(cells[:4], store=store, max_batch=100)
        assert [c.cell_id for c, _ in first] == [c.cell_id for c in cells[:4]]
        second = run_cells(cells, store=store, max_batch=100)
        assert [c.cell_id for c, _ in second] == [c.cell_id for c in cells[4:]]
        assert store.finished_ids() == {c.cell_id for c in cells}
        assert len(store.frame()) == len(cells)  # each stored once
    reference = {c.cell_id: r for c, r in run_cells(cells, max_batch=1)}
    assert all(r.mask == reference[c.cell_id].mask and r.weak_metric == reference[c.cell_id].weak_metric
               for c, r in first + second)


def test_evaluate_rejects_a_bad_max_batch():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "plantseek", "evaluate", "--suite", "smoke", "--max-batch", "0",
                        "--no-store"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--max-batch" in r.stderr
    assert r.stderr.startswith("plantseek: error:")


def test_bench_step_breakdown_times_every_part():
    from plantseek.perf.bench import step_breakdown

    parts = step_breakdown(3, steps=2, repeats=1)
    assert set(parts) == {"forward", "loss_gradient", "backward", "optimizer"} and min(parts.values()) > 0


@pytest.mark.slow
def test_bench_cross_instance_slice_gives_identical_cells():
    from plantseek.perf.bench import cross_instance_seconds

    r = cross_instance_seconds(seeds=(0, 1, 2))
    assert r["identical"] and r["cells"] == 3 and r["per_instance_seconds"] > 0


@pytest.mark.parametrize("engine", ["loop", "batched"])
def test_train_masks_takes_one_training_set_per_network(engine):
    import torch

    from plantseek.families.mlp.network import Architecture, he_init
    from plantseek.train.loop import train_masks

    arch, config = Architecture((2, 6, 6, 3)), TrainConfig(epochs=2, batch_size=8)
    g = torch.Generator().manual_seed(3)
    states = [he_init(arch, g) for _ in range(2)]
    masks = [{n: torch.rand(s, generator=g) < 0.6 for n, s in arch.weight_shapes().items()} for _ in range(2)]
    xs = [torch.randn(40, 2, generator=g) for _ in range(2)]
    ys = [torch.randint(0, 3, (40,), generator=g) for _ in range(2)]
    loss = torch.nn.functional.cross_entropy
    together = train_masks(arch, states, masks, xs, ys, loss, config,
                           [torch.Generator().manual_seed(k) for k in range(2)], engine=engine)
    for k in range(2):
        [alone] = train_masks(arch, states[k], [masks[k]], xs[k], ys[k], loss, config,
                              [torch.Generator().manual_seed(k)], engine=engine)
        assert all(torch.equal(a, b) for a, b in zip(alone.state_dict().values(), together[k].state_dict().values()))
