"""A cell group's steps (plantseek.run.group), each alone on the typed outputs of the steps before it, and the
pipeline (plantseek.run.bundle) against a straightforward recomputation of every cell one by one."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

import plantseek.run.group as group
from plantseek.core import seeding
from plantseek.prune.contract import get_pruner
from plantseek.nets.masks import kept_count, mask_count, pack_mask
from plantseek.run.grid import expand
from plantseek.run.bundle import run_group
from plantseek.run.group import (Ablated, Planted, Pruned, Scored, Trained, ablate_step, plant_step, prune_step,
                                 record_step, score_step, train_step)
from plantseek.run.isolation.pruning import PruneJob
from plantseek.records.cells import provenance
from plantseek.run.suites import SUITES
from plantseek.score.evaluation import model_metric, planted_scale_metric, strong_metric
from plantseek.score.metrics import recovery_metrics
from plantseek.train.config import TrainConfig
from plantseek.train.loop import train_masks
from plantseek.train.calibration import weak_start

ORACLE = "tests/pruners/oracle.py"


def cells(pruners, densities=("ticket", "0.1"), ablations=(), task="circle"):
    suite = SUITES.get("smoke").with_overrides(tasks=[task], pruners=pruners, densities=densities)
    base = expand(suite)
    return base + [dataclasses.replace(c, ablation=a) for c in base for a in ablations]


@pytest.fixture(scope="module")
def steps():
    """The plant and prune steps of a small group (random and magnitude, with both ablations)."""
    planted = plant_step(cells(["random", "magnitude"], ablations=("shuffled", "reinit")), provenance())
    return planted, prune_step(planted)


def test_plant_step_measures_the_references(steps):
    planted, _ = steps
    inst = planted.instance
    assert planted.ticket_metric == strong_metric(inst, inst.ticket)
    assert planted.dense_metric == strong_metric(inst, None)
    assert planted.ticket_metric > 0.9 > planted.dense_metric  # the planted ticket fits circle, the host does not


def test_steps_give_frozen_outputs(steps):
    planted, pruned = steps
    with pytest.raises(dataclasses.FrozenInstanceError):
        planted.instance = None
    with pytest.raises(dataclasses.FrozenInstanceError):
        pruned.jobs = {}
    assert "prune_isolation" in pruned.provenance and "prune_isolation" not in planted.provenance


def test_prune_step_prunes_each_pruner_and_density_once(steps):
    planted, pruned = steps
    assert list(pruned.jobs) == [(p, d) for p in ("random", "magnitude") for d in ("ticket", "0.1")]
    assert pruned.protocols == {"random": "single-shot", "magnitude": "single-shot"}
    n = planted.instance.arch.n_prunable
    for (ref, spec), job in pruned.jobs.items():
        density = planted.instance.ticket_density if spec == "ticket" else 0.1
        assert job.density == density and job.error == "" and job.prune_seconds > 0
        assert mask_count(job.mask) == kept_count(density, n)
        expected = get_pruner(ref).prune(planted.instance.host(), planted.instance.pruner_data(), density,
                                         generator=seeding.generator(0, "prune", ref, spec),
                                         budget=TrainConfig(epochs=1))
        assert all(torch.equal(job.mask[k], expected[k]) for k in expected)


def test_prune_step_turns_a_crash_into_the_jobs_error():
    pruned = prune_step(plant_step(cells([f"{ORACLE}:Crashes", "random"], densities=("0.1",)), provenance()))
    crashed = pruned.jobs[(f"{ORACLE}:Crashes", "0.1")]
    assert crashed.mask is None and crashed.error.startswith(f"pruner '{ORACLE}:Crashes' crashed: RuntimeError: boom")
    assert pruned.jobs[("random", "0.1")].mask is not None


def test_ablate_step_shuffles_within_layers_and_reinitialises_hosts(steps):
    planted, pruned = steps
    ablated = ablate_step(planted, pruned)
    assert [t.cell for t in ablated.trainees] == list(planted.cells)  # every cell has a mask
    for t in ablated.trainees:
        own = pruned.job_of(t.cell).mask
        if t.cell.ablation == "shuffled":
            assert all(int(t.mask[k].sum()) == int(own[k].sum()) for k in own)  # per-layer counts kept
            assert any(not torch.equal(t.mask[k], own[k]) for k in own)  # but other positions
            assert t.host is planted.instance.initial_state and t.planted_host
        elif t.cell.ablation == "reinit":
            assert t.mask is own and not t.planted_host
            assert all(not torch.equal(t.host[k], planted.instance.initial_state[k]) for k in t.host)
        else:
            assert t.mask is own and t.planted_host


def test_train_step_trains_identical_pairs_once(monkeypatch):
    # at density 1.0 every mask is the dense one: random and magnitude and the dense reference train once,
    # the re-initialised host once more
    planted = plant_step(cells(["random", "magnitude"], densities=("1.0",), ablations=("reinit",)), provenance())
    ablated = ablate_step(planted, prune_step(planted))
    sizes = []

    def counting(arch, starts, masks, *args, **kwargs):
        sizes.append(len(masks))
        return train_masks(arch, starts, masks, *args, **kwargs)

    monkeypatch.setattr(group, "train_masks", counting)
    [trained] = train_step([(planted, ablated)])
    assert sizes == [2]
    by_cell = {(t.cell.pruner, t.cell.ablation): m for t, m in zip(ablated.trainees, trained.models)}
    assert by_cell[("random", "")] is by_cell[("magnitude", "")] is trained.dense_model
    assert by_cell[("random", "reinit")] is by_cell[("magnitude", "reinit")] is not trained.dense_model


def test_train_step_needs_own_data_for_several_groups(steps):
    planted, pruned = steps
    ablated = ablate_step(planted, pruned)
    with pytest.raises(ValueError, match="own_data"):
        train_step([(planted, ablated), (planted, ablated)])


def test_score_and_record_steps(steps):
    planted, pruned = steps
    ablated = ablate_step(planted, pruned)
    [trained] = train_step([(planted, ablated)])
    scored = score_step(planted, ablated, trained)
    inst = planted.instance
    for t, s in zip(ablated.trainees, scored.scores):
        if t.cell.ablation == "reinit":
            assert math.isnan(s.strong)
        else:
            assert s.strong == pytest.approx(strong_metric(inst, t.mask), rel=1e-12, abs=1e-12)
        assert s.recovery == recovery_metrics(t.mask, inst.ticket)
        assert s.achieved_density == mask_count(t.mask) / inst.arch.n_prunable
    results = record_step(planted, pruned, ablated, trained, scored)
    assert [c for c, _ in results] == list(planted.cells)
    for (c, r), s in zip(results, scored.scores):
        assert r.status == "ok" and r.weak_metric == s.weak and r.higher_is_better is True
        assert r.protocol == "single-shot" and r.ticket_metric == planted.ticket_metric


def test_record_step_fails_a_cell_whose_pruning_failed(steps):
    cell = dataclasses.replace(steps[0].cells[0], pruner="broken")
    planted = Planted(cells=(cell,), instance=steps[0].instance, ticket_metric=1.0, dense_metric=0.5, provenance={})
    job = PruneJob(cell, 0.1, error="pruner 'broken' crashed: ValueError: no")
    pruned = Pruned(jobs={("broken", cell.density): job}, protocols={}, provenance={})
    trained = Trained(models=(), dense_model=None, seconds=math.nan)
    [(c, r)] = record_step(planted, pruned, Ablated(()), trained, Scored(dense_weak_metric=0.75, scores=()))
    assert c is cell and r.status == "failed" and r.error == "pruner 'broken' crashed: ValueError: no"
    assert (r.density, r.dense_weak_metric, r.ticket_metric, r.higher_is_better) == (0.1, 0.75, 1.0, True)
    assert r.mask is None and math.isnan(r.strong_metric)


def test_run_group_fails_every_cell_of_an_instance_that_cannot_be_planted():
    bad = [dataclasses.replace(c, width=3) for c in cells(["random"])]
    results = run_group(bad)
    assert [r.status for _, r in results] == ["failed", "failed"]
    assert all(r.error.startswith("instance: ") for _, r in results)


def test_pipeline_equals_a_straightforward_recomputation_cell_by_cell():
    """Every cell recomputed alone (prune, ablate, weak start, train alone, score) gives the pipeline's numbers
    exactly: masks, strong metrics, weak metrics, recovery metrics."""
    grid = cells(["random", "magnitude-multishot"], ablations=("shuffled", "reinit"), task="relu")
    results = run_group(grid)
    inst = group.instance_for(grid[0])
    train = inst.data.train
    for c, r in results:
        assert r.status == "ok", r.error
        density = inst.ticket_density if c.density == "ticket" else float(c.density)
        g = seeding.generator(c.seed, "prune", c.pruner, c.density)
        mask = get_pruner(c.pruner).prune(inst.host(), inst.pruner_data(), density, generator=g, budget=c.budget)
        host = inst.initial_state
        if c.ablation == "shuffled":
            g = seeding.generator(c.seed, "ablation", c.pruner, c.density, c.ablation)
            mask = {n: m.reshape(-1)[torch.randperm(m.numel(), generator=g)].reshape(m.shape)
                    for n, m in mask.items()}
        elif c.ablation == "reinit":
            from plantseek.families.mlp.network import he_init

            host = he_init(inst.arch, seeding.generator(c.seed, "reinit-host", *inst.arch.widths))
        start = weak_start(host, mask, train.x, train.y, inst.task.kind)
        [model] = train_masks(inst.arch, [start], [mask], train.x, train.y, inst.task.loss, c.train,
                              [seeding.generator(c.seed, "train")])
        assert r.mask == pack_mask(mask)
        assert r.achieved_density == mask_count(mask) / inst.arch.n_prunable
        if c.ablation == "reinit":
            assert math.isnan(r.strong_metric)
        else:
            assert r.strong_metric == pytest.approx(strong_metric(inst, mask), rel=1e-12, abs=1e-12)
        assert r.weak_metric == model_metric(inst, model, mask)
        planted = r.metrics.pop("strong_metric_planted_scales", None)
        paper = r.metrics.pop("strong_metric_paper_readout", None)
        assert r.metrics == recovery_metrics(mask, inst.ticket)
        if c.ablation != "reinit":
            assert planted == pytest.approx(planted_scale_metric(inst, mask), rel=1e-12)
            ones = torch.ones_like(inst.data.test.y, dtype=torch.float64)  # relu: one output, whose softmax is 1
            assert paper == pytest.approx(float(((ones - inst.data.test.y.double()) ** 2).mean()), rel=1e-12)
        else:
            assert paper is None
        assert r.higher_is_better is False  # relu: mse
