"""Comparisons at paper scale: settings of different task families or weak trainings (with different methods) are
compared apart, so the instances of one grid are never dropped for lacking another grid's methods."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from plantseek.families.registry import family_order
from plantseek.planted.task import task_family
from plantseek.stats.comparisons import comparisons

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "report"))
from test_leaderboard import _row  # noqa: E402


def cells(task: str, training: str, methods: str, seeds: int) -> list[dict]:
    """Accuracy cells at density 0.1: method i (in ``methods`` order) has weak accuracy 0.9 - 0.1 i on every seed,
    so on each instance the methods rank in that order."""
    config = json.dumps({"training_protocol": training})
    return [_row(task=task, pruner=m, seed=s, weak_metric=0.9 - 0.1 * i, recall=0.9 - 0.1 * i, config_json=config)
            for s in range(seeds) for i, m in enumerate(methods)]


def by_key(df: pd.DataFrame) -> dict:
    return {c.key: c for c in comparisons(df)}


def test_tasks_name_their_family_and_the_registry_orders_them():
    assert [task_family(t) for t in ("circle", "relu", "helix", "bars", "digits", "recall", "my-plugin-task")] == [
        "MLP", "MLP", "MLP", "conv", "conv", "attention", ""]
    assert family_order(["zeta", "attention", "conv", "MLP"]) == ["MLP", "conv", "attention", "zeta"]


def test_two_trainings_are_compared_apart_and_keep_all_their_instances():
    # the paper grid: 3 methods x 4 seeds; the methods grid (calibrated): 5 methods x 3 seeds, a superset
    df = pd.DataFrame(cells("circle", "paper", "abc", 4) + cells("circle", "calibrated", "abcde", 3))
    found = by_key(df)
    assert set(found) == {"single-shot-paper-weak-metric", "single-shot-calibrated-weak-metric"}
    paper, calibrated = found["single-shot-paper-weak-metric"], found["single-shot-calibrated-weak-metric"]
    assert (paper.instances, paper.incomplete, paper.seeds, paper.methods) == (4, 0, 4, ["a", "b", "c"])
    assert (calibrated.instances, calibrated.incomplete, calibrated.methods) == (3, 0, list("abcde"))
    assert paper.friedman.mean_ranks == {"a": 1.0, "b": 2.0, "c": 3.0}
    assert (paper.training, paper.family, paper.tasks) == ("paper", "", ("circle",))
    # pooled, the paper grid's instances would all be incomplete (they lack d and e) and left out
    from plantseek.stats.comparisons import comparison

    pooled = comparison(df, "single-shot")
    assert (pooled.instances, pooled.incomplete) == (3, 4)


def test_two_families_are_compared_apart_and_per_task_views_stay_within_a_family():
    df = pd.DataFrame(cells("circle", "calibrated", "ab", 2) + cells("relu", "calibrated", "ab", 2)
                      + cells("bars", "calibrated", "abc", 2))
    found = by_key(df)
    assert set(found) == {"single-shot-MLP-weak-metric", "single-shot-MLP-circle-weak-metric",
                          "single-shot-MLP-relu-weak-metric", "single-shot-conv-weak-metric"}
    mlp, conv = found["single-shot-MLP-weak-metric"], found["single-shot-conv-weak-metric"]
    assert (mlp.instances, mlp.methods, mlp.tasks) == (4, ["a", "b"], ("circle", "relu"))
    assert (conv.instances, conv.methods, conv.tasks, conv.task) == (2, ["a", "b", "c"], ("bars",), "")
    assert conv.friedman.mean_ranks == {"a": 1.0, "b": 2.0, "c": 3.0}
    # 2 instances: a (better on both) is not significantly better; no win is claimed
    ab = conv.pairs.set_index(["method_a", "method_b"]).loc[("a", "b")]
    assert ab["p"] == pytest.approx(0.5) and ab["verdict"] == "no significant difference"


def test_one_family_and_one_training_keep_the_plain_keys():
    df = pd.DataFrame(cells("circle", "calibrated", "abc", 2) + cells("relu", "calibrated", "abc", 2))
    assert set(by_key(df)) == {"single-shot-weak-metric", "single-shot-circle-weak-metric",
                               "single-shot-relu-weak-metric"}
