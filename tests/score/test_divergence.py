"""Divergence as a status: the rule by hand, the constant predictor by hand, and a diverged cell in the store."""

from __future__ import annotations

import math

import pytest
import torch

import plantseek
from plantseek.score.divergence import DIVERGENCE_FACTOR, constant_predictor_metric, divergence


def test_the_rule_by_hand():
    assert divergence("weak", 0.5, 0.11, False, "mse") == ""
    assert divergence("weak", DIVERGENCE_FACTOR * 0.11, 0.11, False, "mse") == ""  # at the threshold: not yet
    reason = divergence("weak", 1.8e16, 0.11, False, "mse")
    assert reason == "weak mse 1.8e+16 is more than 10x the constant predictor's 0.11"
    assert divergence("weak", math.nan, 0.11, False, "mse") == "weak mse is nan (not finite)"
    assert divergence("strong", math.inf, 0.5, True, "accuracy") == "strong accuracy is inf (not finite)"
    assert divergence("weak", 0.0, 0.5, True, "accuracy") == ""  # accuracy is bounded: never beyond


def test_constant_predictor_by_hand():
    inst = plantseek.plant("relu", depth=4, width=20, seed=0)
    mean = inst.data.train.y.double().mean(0)
    expected = float(((inst.data.test.y.double() - mean) ** 2).mean())
    assert constant_predictor_metric(inst) == pytest.approx(expected, rel=1e-12)
    circle = plantseek.plant("circle", depth=4, width=20, seed=0)
    counts = torch.bincount(circle.data.train.y)
    majority = int(counts.argmax())
    assert constant_predictor_metric(circle) == pytest.approx(float((circle.data.test.y == majority).double().mean()))


def test_a_diverged_cell_is_stored_counted_skipped_on_resume_and_kept_out_of_means(tmp_path):
    from plantseek.frame.prepared import prepared
    from plantseek.records.cells import CellConfig, CellResult
    from plantseek.store.results import ResultStore, load_results

    path = tmp_path / "s.db"
    ok, bad = (CellConfig("relu", 4, 20, s, "random", "0.1") for s in (0, 1))
    with ResultStore(path) as store:
        store.put(ok, CellResult("ok", metric_name="mse", higher_is_better=False, weak_metric=0.1, density=0.1))
        store.put(bad, CellResult("diverged", divergence("weak", 1.8e16, 0.11, False, "mse"), metric_name="mse",
                                  higher_is_better=False, weak_metric=1.8e16, density=0.1))
        assert store.finished_ids() == {ok.cell_id, bad.cell_id}  # deterministic: not re-run
        assert store.status_of(bad.cell_id) == "diverged"
    df = load_results(path)
    assert sorted(df.status) == ["diverged", "ok"] and df["verified"].all()
    frame = prepared(df)
    assert frame.loc[frame.status == "diverged", "_ok"].tolist() == [False]  # never in a mean


def test_a_cell_whose_training_blows_up_is_recorded_as_diverged(monkeypatch):
    import plantseek.run.group as group
    from plantseek.cli import validate
    from plantseek.cli.evaluate import build_suite
    from plantseek.run.bundle import run_group
    from plantseek.run.grid import expand

    real = group.model_metric
    monkeypatch.setattr(group, "model_metric", lambda inst, model, mask: 1e20 if mask is not None else
                        real(inst, model, mask))
    args = validate(["evaluate", "--suite", "smoke", "--tasks", "relu", "--pruners", "random", "--densities", "0.1",
                     "--seeds", "0", "--n-samples", "100", "--epochs", "0", "--no-store"])
    ((cell, result),) = run_group(expand(build_suite(args)))
    assert result.status == "diverged" and result.weak_metric == 1e20
    assert result.error.startswith("weak mse 1e+20 is more than 10x the constant predictor's")
    assert result.metrics["recall"] >= 0  # the mask is still scored: only its trained metric is not a number
