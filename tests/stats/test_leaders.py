"""The index's answers (plantseek.stats.leaders): leader and runner-up by hand-computed means, intervals from the
seed bootstrap, and a lead called significant only by a paired test over the seeds both methods ran."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
from test_leaderboard import _row  # noqa: E402

from plantseek.stats.intervals import bootstrap_interval  # noqa: E402
from plantseek.stats.leaders import lead_verdict, leaders  # noqa: E402


def frame(recalls: dict[str, list[float]], weak: dict[str, list[float]] | None = None, metric: str = "accuracy",
          protocols: dict[str, str] | None = None, spec: str = "0.01") -> pd.DataFrame:
    """One setting, one density; ``recalls[method][seed]`` (NaN: the seed did not run)."""
    rows = []
    for m, values in recalls.items():
        for seed, r in enumerate(values):
            if np.isnan(r):
                continue
            w = (weak or {}).get(m, values)[seed]
            rows.append(_row(pruner=m, seed=seed, density_spec=spec, density=float(spec), achieved_density=float(spec),
                             recall=r, weak_metric=w, strong_metric=0.5, metric_name=metric,
                             protocol=(protocols or {}).get(m, "single-shot")))
    return pd.DataFrame(rows)


def answer(df: pd.DataFrame, quantity: str = "recall", view: str = "") -> dict:
    out = leaders(df)
    rows = out[out["quantity"].eq(quantity) & out["view"].eq(view)]
    assert len(rows) == 1
    return rows.iloc[0].to_dict()


def test_leader_and_runner_up_by_their_means_with_a_significant_lead():
    a = [0.50, 0.52, 0.55, 0.51, 0.53, 0.56]  # ahead of b on every one of 6 seeds
    b = [0.40, 0.45, 0.41, 0.42, 0.44, 0.43]
    c = [0.10, 0.11, 0.12, 0.13, 0.14, 0.15]
    r = answer(frame({"b": b, "a": a, "c": c}))
    assert (r["best"], r["second"], r["methods"]) == ("a", "b", 3)
    assert r["best_mean"] == pytest.approx(np.mean(a)) and r["second_mean"] == pytest.approx(np.mean(b))
    iv = bootstrap_interval(a)
    assert (r["best_low"], r["best_high"], r["best_n"]) == (iv.low, iv.high, 6)
    # exact Wilcoxon: all 6 differences positive, W- = 0: p = 2 / 2**6
    assert r["pairs"] == 6 and r["p"] == pytest.approx(2 / 64) and r["significant"]
    assert r["verdict"].startswith("significant lead")


def test_a_higher_mean_is_no_significant_lead_when_the_seeds_disagree():
    a = [0.5 + d for d in (0.41, -0.37, 0.33, -0.29, 0.45, -0.21, 0.38, -0.12)]  # ahead on average, not per seed
    b = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    r = answer(frame({"a": a, "b": b}))
    assert r["best"] == "a" and r["best_mean"] > r["second_mean"]
    from scipy.stats import wilcoxon

    assert r["p"] == pytest.approx(wilcoxon(np.array(a) - np.array(b), method="exact").pvalue)  # no ties: scipy's p
    assert not r["significant"] and r["verdict"].startswith("no significant lead")


def test_few_seeds_cannot_make_a_lead_significant_and_say_so():
    r = answer(frame({"a": [0.9, 0.8, 0.85, 0.95], "b": [0.1, 0.2, 0.15, 0.05]}))  # 4 seeds: p >= 2/16
    assert r["best"] == "a" and not r["significant"] and r["p"] == pytest.approx(0.125)
    assert "cannot reach" in r["verdict"]
    one = answer(frame({"a": [0.9], "b": [0.1]}))
    assert not one["significant"] and np.isnan(one["best_low"]) and one["verdict"] == "1 common seed(s): no test"


def test_the_test_pairs_only_the_seeds_both_ran():
    nan = np.nan
    # a leads on means; on their 2 common seeds (0 and 1) nothing can be significant
    n, p, sig, _ = lead_verdict(np.array([0.9, 0.9, 0.9, 0.9, 0.9, 0.9]), np.array([0.1, 0.2, nan, nan, nan, nan]))
    assert n == 2 and not sig and p == pytest.approx(0.5)
    r = answer(frame({"a": [0.9] * 6, "b": [0.1, 0.2, nan, nan, nan, nan]}))
    assert r["pairs"] == 2 and r["second_n"] == 2 and not r["significant"]


def test_lower_is_better_metric_leads_with_its_smallest_mean():
    rec = {"a": [0.3] * 6, "b": [0.3] * 6}  # recall: tied everywhere
    weak = {"a": [0.5, 0.6, 0.55, 0.52, 0.58, 0.51], "b": [0.1, 0.12, 0.11, 0.13, 0.1, 0.14]}  # MSE: b is better
    r = answer(frame(rec, weak, metric="mse"), "weak_metric")
    assert (r["best"], r["second"]) == ("b", "a") and r["best_mean"] == pytest.approx(np.mean(weak["b"]))
    assert r["significant"] and not r["higher_is_better"]
    tied = answer(frame(rec, weak, metric="mse"), "recall")
    assert tied["verdict"] == "tied on all 6 common seeds" and not tied["significant"]


def test_each_protocol_gets_its_own_answer_beside_the_overall_one():
    rec = {"a": [0.9, 0.8, 0.85, 0.9, 0.95, 0.9], "b": [0.5] * 6, "c": [0.4, 0.3, 0.2, 0.35, 0.25, 0.3]}
    df = frame(rec, protocols={"a": "multi-shot", "b": "single-shot", "c": "single-shot"})
    out = leaders(df)
    assert set(out["view"]) == {"", "multi-shot", "single-shot"}
    assert answer(df)["best"] == "a"
    single = answer(df, view="single-shot")
    assert (single["best"], single["second"]) == ("b", "c")
    multi = answer(df, view="multi-shot")
    assert multi["best"] == "a" and multi["second"] == "" and multi["verdict"] == "one method: no runner-up"


def test_full_density_is_no_question():
    assert leaders(frame({"a": [0.9, 0.8], "b": [0.1, 0.2]}, spec="1")).empty
