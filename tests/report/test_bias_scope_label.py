"""The pruning scope (biases prunable, the paper protocol's) is named in a setting's label and separates settings."""

import json

import pandas as pd

from plantseek.frame.prepared import prepare
from tests.report.test_leaderboard import synthetic_results


def test_prunable_biases_are_named_in_the_setting_and_separate_it():
    weights_only = synthetic_results(tasks=("circle",), seeds=(0,), fail=False, nan=False)
    with_biases = weights_only.copy()
    weights_only["config_json"] = json.dumps({"task": "circle", "training_protocol": "paper"})
    with_biases["config_json"] = json.dumps({"task": "circle", "training_protocol": "paper",
                                             "budget": {"epochs": 10, "prunable_biases": True}})
    d = prepare(pd.concat([weights_only, with_biases], ignore_index=True))
    assert sorted(d["_setting"].unique()) == [
        "circle · depth 5 · width 100 · noise 0.01 · paper training",
        "circle · depth 5 · width 100 · noise 0.01 · paper training, biases prunable"]
    assert d["_slug"].nunique() == 2
