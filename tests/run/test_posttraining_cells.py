"""Post-training cells through the harness (plantseek.run.posttraining, the isolated prune workers): end to end on a
small grid, calibration sets from the training split only, calibration in the cell identity and in load_results(),
bad updated weights refused, post-training pruners refused outside post-training cells."""

from __future__ import annotations

import dataclasses

import pytest

from plantseek.nets.masks import kept_count, mask_count, unpack_mask
from plantseek.planted.instance import plant
from plantseek.planted.task import DataConfig
from plantseek.prune.posttraining import calibration_indices
from plantseek.records.cells import CellConfig
from plantseek.run.grid import expand, run_cells
from plantseek.run.isolation.pruning import PruneContext
from plantseek.run.suites import SUITES
from plantseek.store.results import ResultStore, load_results

BAD = "tests/pruners/posttraining.py"


def small(pruners, calibration_size=32, seeds=(0, 1), densities=("0.1",)):
    suite = SUITES.get("smoke").with_overrides(tasks=["circle"], pruners=pruners, densities=densities)
    suite = dataclasses.replace(suite, calibration_size=calibration_size, calibration_seeds=seeds)
    return expand(suite)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    path = tmp_path_factory.mktemp("pt") / "r.db"
    cells = small(["sparsegpt", "wanda", "random", f"{BAD}:SeesCalibration"])
    with ResultStore(path) as store:
        out = run_cells(cells, store=store)
    return out, load_results(path, include_masks=True)


def test_a_post_training_grid_runs_end_to_end_in_the_workers(results):
    out, _ = results
    assert len(out) == 8 and all(r.status == "ok" for _, r in out), [r.error for _, r in out]
    inst = plant("circle", depth=4, width=20, seed=0, data=DataConfig(n_samples=400))
    for c, r in out:
        assert r.protocol == "post-training"
        mask = unpack_mask(r.mask, inst.arch.weight_shapes())
        assert mask_count(mask) == kept_count(0.1, inst.arch.n_prunable)
        assert r.metrics["weights_updated"] == (c.pruner == "sparsegpt")
    dense = {r.dense_weak_metric for _, r in out}
    assert len(dense) == 1  # one trained network for every pruner and calibration draw of the instance


def test_calibration_size_and_seed_are_columns_of_load_results(results):
    _, df = results
    assert sorted(df["calibration_seed"].unique()) == [0, 1]
    assert set(df["calibration_size"]) == {32}
    assert set(df["protocol"]) == {"post-training"}


def test_a_post_training_cell_is_scored_without_retraining(results):
    """The weak metric of random's cell is the trained dense network's metric with the mask applied: recomputed here
    from the dense network trained as the harness trains it."""
    from plantseek.run.group import plant_step
    from plantseek.run.posttraining import train_dense
    from plantseek.records.cells import provenance
    from plantseek.score.evaluation import model_metric

    out, _ = results
    c, r = next((c, r) for c, r in out if c.pruner == "random")
    planted = plant_step([c], provenance())
    dense, _ = train_dense(planted)
    mask = unpack_mask(r.mask, planted.instance.arch.weight_shapes())
    assert model_metric(planted.instance, dense, mask) == r.weak_metric
    assert model_metric(planted.instance, dense, None) == r.dense_weak_metric


@pytest.mark.parametrize("seed, calibration_seed, size", [(0, 0, 32), (3, 7, 100), (5, 1, 10_000)])
def test_calibration_sets_come_from_the_training_split_only(seed, calibration_seed, size):
    inst = plant("relu", depth=3, width=8, seed=seed, data=DataConfig(n_samples=600))
    cell = CellConfig("relu", 3, 8, seed, "wanda", "0.1", n_samples=600, calibration_size=size,
                      calibration_seed=calibration_seed)
    x, y = PruneContext(inst, None).calibration(cell)
    train, test = inst.data.train, inst.data.test
    assert len(x) == min(size, len(train.x))
    idx = calibration_indices(seed, calibration_seed, size, len(train.x))
    assert len(set(idx.tolist())) == len(idx)  # without replacement
    for xi, yi in zip(x, y):
        rows = (train.x == xi).all(1).nonzero().flatten()
        assert len(rows) >= 1 and bool((train.y[rows] == yi).any())
        assert not bool((test.x == xi).all(1).any())


def test_calibration_size_and_seed_change_the_cell_identity():
    base = CellConfig("circle", 5, 100, 0, "wanda", "0.1", calibration_size=128)
    ids = {base.cell_id, dataclasses.replace(base, calibration_size=64).cell_id,
           dataclasses.replace(base, calibration_seed=1).cell_id,
           dataclasses.replace(base, calibration_size=0).cell_id}
    assert len(ids) == 4
    plain = CellConfig("circle", 5, 100, 0, "wanda", "0.1")
    assert "calibration_size" not in plain.identity() and "calibration_seed" not in plain.identity()
    with pytest.raises(ValueError, match="calibration_seed needs a post-training cell"):
        CellConfig("circle", 5, 100, 0, "wanda", "0.1", calibration_seed=2)


def test_bad_updated_weights_fail_the_cell_with_one_line():
    out = run_cells(small([f"{BAD}:NaNWeights", f"{BAD}:ForeignWeights"], seeds=(0,)))
    errors = {c.pruner.rpartition(":")[2]: r for c, r in out}
    assert errors["NaNWeights"].status == "failed" and "non-finite" in errors["NaNWeights"].error
    assert errors["ForeignWeights"].status == "failed" and "unknown key" in errors["ForeignWeights"].error
    assert all("\n" not in r.error for r in errors.values())


def test_a_post_training_pruner_outside_a_post_training_cell_fails_with_one_line():
    [(_, r)] = run_cells(expand(SUITES.get("smoke").with_overrides(tasks=["relu"], pruners=["wanda"],
                                                                   densities=["0.1"])))
    assert r.status == "failed" and "runs in post-training cells only" in r.error


def test_the_post_training_pruners_stay_out_of_the_conv_and_attention_suites():
    for name in ("conv-default", "attention-default", "default", "methods-paper"):
        assert "wanda" not in SUITES.get(name).pruner_names()
    assert {"wanda", "sparsegpt", "owl", "ria", "magnitude-posttraining", "iht-reconstruction",
            "random"} == set(SUITES.get("posttraining-default").pruner_names())
    assert len(SUITES.get("posttraining-paper").seeds) >= 10


def test_the_conv_and_attention_post_training_suite_is_its_own_grid():
    conv, attention = SUITES.get("posttraining-hosts").parts()
    assert (conv.tasks, attention.tasks) == (("bars",), ("recall",))
    assert (conv.train.epochs, attention.train.epochs) == (10, 40)  # recall's host needs 40 to learn the task
    for part in (conv, attention):
        assert set(part.pruner_names()) == set(SUITES.get("posttraining-default").pruner_names())
        assert part.n_cells == 7 * 2 * 2 * 3  # pruners x densities x instance seeds x calibration seeds
    assert SUITES.get("posttraining-default").n_cells == 630  # the MLP grid is unchanged (docs/post-training.md)
    assert "posttraining-hosts" not in SUITES.get("published").members  # not in the published composite
