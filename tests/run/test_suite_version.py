"""Versioned suites: a suite's version is a hash of its settings; cells carry it; rankings keep one version."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3

import pytest

from plantseek.run.suite_version import (NOT_THE_SETTING, in_suite, setting_key, suite_settings, suite_tag,
                                         suite_version, version_of)
from plantseek.run.suites import SUITES
from plantseek.train.config import TrainConfig

SMOKE = SUITES.get("smoke")


def test_version_is_the_hash_of_the_sorted_setting_keys():
    keys = ["b", "a", "b"]
    assert version_of(keys) == hashlib.sha256(b"a\nb").hexdigest()[:12]
    assert version_of(reversed(keys)) == version_of(keys)


def test_a_setting_key_ignores_who_ran_the_cell_and_where_the_instance_was_drawn():
    base = {"task": "circle", "seed": 0, "density": "0.1", "depth": 4}
    who = {"pruner": "snip", "pruner_code": "abc", "pruner_name": "mine", "ablation": "shuffled",
           "instances": "hidden", "key_fingerprint": "0123"}
    assert set(who) == set(NOT_THE_SETTING)
    assert setting_key({**base, **who}) == setting_key(base) == json.dumps(base, sort_keys=True)


def test_what_changes_a_suite_version_and_what_does_not():
    v = suite_version(SMOKE)
    assert suite_version(SMOKE.with_overrides(pruners=["snip", "grasp", "random"])) == v  # methods join freely
    assert suite_version(dataclasses.replace(SMOKE, name="renamed")) == v  # the definition, not the label
    for changed in (SMOKE.with_overrides(seeds=[0, 1]), SMOKE.with_overrides(densities=["ticket", "0.5"]),
                    SMOKE.with_overrides(depth=5), SMOKE.with_overrides(n_samples=401),
                    dataclasses.replace(SMOKE, train=TrainConfig(epochs=2)),
                    dataclasses.replace(SMOKE, training_protocol="paper")):
        assert suite_version(changed) != v
    # two tasks x two densities x one seed: four settings
    assert len(suite_settings(SMOKE)) == 4


def test_a_composite_suite_is_versioned_by_its_members_settings():
    published = SUITES.get("published")
    assert suite_settings(SUITES.get("paper-singleshot")) <= suite_settings(published)
    assert suite_tag(published) == f"published@{suite_version(published)}"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Cells of smoke's definition and of a changed definition (seed 1 is not among smoke's seeds) in one store."""
    from plantseek.cli import main

    path = tmp_path_factory.mktemp("versions") / "s.db"
    common = ["evaluate", "--suite", "smoke", "--tasks", "relu", "--pruners", "random,magnitude", "--densities", "0.1",
              "--store", str(path), "--no-progress", "--jobs", "1"]
    assert main(common + ["--seeds", "0"]) == 0
    assert main(common + ["--seeds", "1"]) == 0
    return str(path)


def test_every_computed_cell_stores_its_suite_and_version(store):
    narrowed = SMOKE.with_overrides(tasks=["relu"], pruners=["random", "magnitude"], densities=["0.1"])
    with sqlite3.connect(store) as db:
        tags = {json.loads(p)["suite"] for (p,) in db.execute("SELECT provenance_json FROM cells")}
    assert tags == {suite_tag(narrowed.with_overrides(seeds=[0])), suite_tag(narrowed.with_overrides(seeds=[1]))}
    assert all(t.startswith("smoke@") for t in tags)


def test_only_the_current_versions_cells_are_ranked(store, tmp_path, capsys):
    from plantseek.cli import main
    from plantseek.store.results import load_results

    df = load_results(store)
    keep = in_suite(df, SMOKE)
    assert sorted(df[keep]["seed"]) == [0, 0] and sorted(df[~keep]["seed"]) == [1, 1]

    assert main(["leaderboard", "--store", store, "--out", str(tmp_path / "board"), "--no-plots", "--suite",
                 "smoke"]) == 0
    err = capsys.readouterr().err
    assert f"suite {suite_tag(SMOKE)}: 2 cells; 2 of other suites or versions left out" in err
    with open(tmp_path / "board" / "results.csv") as f:
        assert len(f.read().strip().splitlines()) == 1 + 2  # header and the two cells of smoke's version

    assert main(["compare", "--store", store, "--pruners", "magnitude,random", "--suite", "smoke", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows and all(r["n"] == 1 for r in rows)  # seed 0 only: seed 1 is another definition's cell

    assert main(["leaderboard", "--store", store, "--out", str(tmp_path / "b2"), "--no-plots", "--suite",
                 "default"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("plantseek: error: the store holds no cells of suite default@") and "\n" not in err
    assert main(["leaderboard", "--store", store, "--out", str(tmp_path / "b3"), "--suite", "smok"]) == 2
    assert "smoke" in capsys.readouterr().err  # did you mean
