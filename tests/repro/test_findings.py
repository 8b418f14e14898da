"""Finding verdicts on hand-made result frames: each check against a case where the paper's statement holds and
one where it does not, and the verdict's four outcomes."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from plantseek.repro import checks as c
from plantseek.repro.findings import (DIFFERS, FINDINGS, NOT_CHECKED, NOT_REPRODUCED, REPRODUCED, verdict)
from plantseek.repro.report import judge
from plantseek.repro.scales import GRID_NAMES

SEEDS = (0, 1, 2)
# per task: metric, direction, trained dense host per seed, untrained dense host, planted ticket
TASKS = {"circle": ("accuracy", True, (0.94, 0.95, 0.96), 0.45, 0.99),
         "relu": ("mse", False, (1e-4, 1.2e-4, 1.1e-4), 0.1, 1e-4),
         "helix": ("mse", False, (0.03, 0.02, 0.04), 0.15, 1.3e-4)}


def cells(task, pruner, spec, weak, strong=None, collapse=False):
    """One row per seed; ``weak``/``strong`` a number (every seed) or one value per seed."""
    metric, hib, dense, untrained, ticket = TASKS[task]
    weak = weak if isinstance(weak, tuple) else (weak,) * 3
    strong = strong if isinstance(strong, tuple) else (untrained if strong is None else strong,) * 3
    return [dict(cell_id=f"{task}-{pruner}-{spec}-{s}", task=task, pruner=pruner, density_spec=spec, seed=s,
                 status="ok", metric_name=metric, higher_is_better=hib, weak_metric=weak[i], strong_metric=strong[i],
                 dense_weak_metric=dense[i], dense_metric=untrained, ticket_metric=ticket, layer_collapse=collapse)
            for i, s in enumerate(SEEDS)]


def frame(*groups):
    return pd.DataFrame([row for g in groups for row in g])


GOOD = {"circle": 0.95, "relu": 1.1e-4, "helix": 0.03}
BAD = {"circle": 0.45, "relu": 0.1, "helix": 0.15}


def grid(pruners, good_specs, tasks=("circle", "relu"), collapse_specs=()):
    """Every pruner on every task: a weak ticket at ``good_specs``, a collapsed-level metric elsewhere."""
    return frame(*[cells(t, p, s, GOOD[t] if s in good_specs else BAD[t], collapse=s in collapse_specs)
                   for t in tasks for p in pruners for s in ("ticket", "0.01", "0.1", "0.5")])


def finding(fid):
    return next(f for f in FINDINGS if f.id == fid)


def test_moderate_density_weak_tickets_hold_and_fail():
    f = finding("ss-moderate")
    ok = f.check({"singleshot": grid(["random", "magnitude"], {"0.5"})})
    assert ok.holds is True and verdict(f, ok) == REPRODUCED
    assert any(line.startswith("circle · random") and "; 0.5 0.95 " in line and line.endswith("✓")
               for line in ok.evidence)
    bad = f.check({"singleshot": grid(["random", "magnitude"], {"0.5"}).assign(
        weak_metric=lambda d: d.weak_metric.where(~((d.pruner == "random") & (d.task == "relu")), 0.1))})
    assert bad.holds is False and verdict(f, bad) == NOT_REPRODUCED


def test_the_dense_hosts_spread_decides_not_the_groups():
    # relu dense: 1e-4, 1.2e-4, 1.1e-4 -> mean 1.1e-4, sd 1e-5
    check = c.weak_somewhere("g", ("relu",), ("0.5",))
    assert check({"g": frame(cells("relu", "random", "0.5", (1.1e-4, 1.2e-4, 1.3e-4)))}).holds is True  # 1e-5 worse
    assert check({"g": frame(cells("relu", "random", "0.5", (1.2e-4, 1.3e-4, 1.4e-4)))}).holds is False  # 2e-5
    # one good seed and two failed: a wide spread (sd 0.17), no ticket
    assert check({"g": frame(cells("relu", "random", "0.5", (1e-4, 1e-4, 0.3)))}).holds is False


def test_a_failing_finding_with_a_documented_choice_differs():
    plain = finding("ss-sparse")  # declares no documented choice (the paper protocol prunes biases like the paper)
    f = dataclasses.replace(plain, choice=finding("ss-no-strong").choice)
    assert plain.choice is None and f.choice is not None and "README.md#" in f.choice.link()
    holds = f.check({"singleshot": grid(["random"], {"0.1", "0.5"}, tasks=("circle", "relu", "helix"))})
    assert holds.holds is True and verdict(f, holds) == REPRODUCED
    fails = f.check({"singleshot": grid(["random"], {"0.01", "0.1", "0.5"})})
    assert fails.holds is False and verdict(f, fails) == DIFFERS and verdict(plain, fails) == NOT_REPRODUCED


def test_missing_cells_are_not_checked():
    f = finding("ss-helix")
    out = f.check({"singleshot": grid(["random"], {"0.5"})})  # no helix cells
    assert out.holds is None and verdict(f, out) == NOT_CHECKED
    vgg = finding("vgg")
    assert verdict(vgg, vgg.check({})) == NOT_CHECKED


def test_edge_popup_strong_ticket_only_at_one_half():
    f = finding("ep-circle")
    groups = [cells("circle", "edge-popup", s, 0.9, strong=0.95 if s == "0.5" else 0.6)
              for s in ("ticket", "0.01", "0.1", "0.5")]
    assert f.check({"strong": frame(*groups)}).holds is True
    groups[2] = cells("circle", "edge-popup", "0.1", 0.9, strong=0.945)  # 0.005 short of the dense host, sd 0.01
    assert f.check({"strong": frame(*groups)}).holds is False  # a strong ticket at 0.1 too


def test_annealed_reasonable_beats_the_untrained_host():
    check = finding("ep-annealed").check
    assert check({"strong": frame(cells("circle", "edge-popup-annealed", "0.1", 0.9, strong=(0.8, 0.85, 0.9)))}
                 ).holds is True
    assert check({"strong": frame(cells("circle", "edge-popup-annealed", "0.1", 0.9, strong=(0.45, 0.4, 0.5)))}
                 ).holds is False


def test_layer_collapse_share_decides_and_synflow_100_must_not_find_sparse_tickets():
    f = finding("ss-collapse")
    ss = grid(["random", "synflow"], {"0.5"}, collapse_specs={"ticket"})
    s100 = grid(["synflow-100"], {"0.5"})
    assert f.check({"singleshot": ss, "synflow-100": s100}).holds is True
    ss_half = ss.assign(layer_collapse=lambda d: d.layer_collapse & ~((d.pruner == "synflow") & (d.seed > 0)))
    out = f.check({"singleshot": ss_half, "synflow-100": s100})  # synflow collapses in 1/3 of its cells
    assert out.holds is False and verdict(f, out) == NOT_REPRODUCED
    assert "synflow · ticket: layer collapse in 33% of 6 cells (all tasks)" in out.evidence


def test_multishot_sparser_than_single_shot_with_synflow_best():
    f = finding("ms-circle")
    pairs = {"magnitude": ("magnitude-multishot", "0.01"), "snip": ("snip-multishot", "0.01"),
             "synflow": ("synflow-multishot", "ticket")}
    single = frame(*[cells("circle", s, sp, 0.95 if sp in ("0.1", "0.5") else 0.45)
                     for s in pairs for sp in ("ticket", "0.01", "0.1", "0.5")])
    order = ("ticket", "0.01", "0.1", "0.5")
    multi = frame(*[cells("circle", m, sp, 0.95 if order.index(sp) >= order.index(first) else 0.45)
                    for m, first in pairs.values() for sp in order])
    assert f.check({"multishot": multi, "singleshot": single}).holds is True
    worse = multi[multi.pruner != "synflow-multishot"]
    worse = pd.concat([worse, frame(*[cells("circle", "synflow-multishot", sp, 0.95 if sp in ("0.1", "0.5") else 0.45)
                                      for sp in order])])
    assert f.check({"multishot": worse, "singleshot": single}).holds is False


def test_magnitude_on_par():
    f = finding("ss-magnitude")
    base = grid(["magnitude", "snip", "grasp", "synflow"], {"0.1", "0.5"})
    assert f.check({"singleshot": base}).holds is True
    better_snip = base.assign(weak_metric=lambda d: d.weak_metric.where(
        ~((d.pruner == "snip") & (d.task == "circle") & (d.density_spec == "0.1")), 0.99))
    out = f.check({"singleshot": better_snip})  # 0.99 vs 0.95, no spread
    assert out.holds is False and any(line.endswith(": snip better") for line in out.evidence)
    better_magnitude = base.assign(weak_metric=lambda d: d.weak_metric.where(
        ~((d.pruner == "magnitude") & (d.task == "circle") & (d.density_spec == "0.1")), 0.99))
    out = f.check({"singleshot": better_magnitude})
    assert out.holds is True and any(line.endswith(": magnitude better") for line in out.evidence)


def test_depth_10_like_depth_5_compares_the_pattern():
    f = finding("depth-10")
    d5 = grid(["random"], {"0.1", "0.5"}, tasks=("circle", "relu", "helix"))
    d5 = d5[~((d5.task == "helix") & d5.density_spec.isin(["0.1", "0.5"]))]
    d5 = pd.concat([d5, frame(*[cells("helix", "random", s, 0.15) for s in ("0.1", "0.5")])])
    assert f.check({"singleshot": d5, "depth-10": d5}).holds is True
    d10 = d5.assign(weak_metric=lambda d: d.weak_metric.where(~((d.task == "relu") & (d.density_spec == "0.01")),
                                                                1e-4))
    out = f.check({"singleshot": d5, "depth-10": d10})
    assert out.holds is False and "no weak ticket at density ≤ 0.01: reference setting holds, depth 10 does not hold" \
        in out.evidence


def test_findings_are_data_with_known_grids_and_unique_ids():
    assert len({f.id for f in FINDINGS}) == len(FINDINGS) >= 20
    for f in FINDINGS:
        assert set(f.grids) <= set(GRID_NAMES), f.id
        assert f.statement and f.reading


def test_judge_leaves_findings_whose_grids_did_not_run_unchecked():
    judged = judge({"singleshot": grid(["random"], {"0.5"})}, grids=["singleshot"])
    by_id = {j.finding.id: j for j in judged}
    assert by_id["ss-moderate"].verdict == REPRODUCED
    assert by_id["ms-circle"].verdict == NOT_CHECKED
    assert "not run at this scale" in by_id["ms-circle"].outcome.evidence[0]


@pytest.mark.parametrize("fid", [f.id for f in FINDINGS])
def test_every_finding_is_decidable_or_honestly_unchecked_on_empty_views(fid):
    f = finding(fid)
    assert f.check({}).holds is None


def test_vgg_finding_is_checked_on_digits():
    f = finding("vgg")
    rows = [cells("circle", p, s, 0.9, strong=0.3) for p in ("edge-popup", "edge-popup-annealed")
            for s in ("ticket", "0.01")]
    none = frame(*rows).assign(task="digits")
    assert f.grids == ("vgg-digits",) and f.check({"vgg-digits": none}).holds is True
    found = none.assign(strong_metric=lambda d: d.strong_metric.where(
        ~((d.pruner == "edge-popup") & (d.density_spec == "0.01")), 0.95))
    out = f.check({"vgg-digits": found})
    assert out.holds is False and verdict(f, out) == NOT_REPRODUCED
