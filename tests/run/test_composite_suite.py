"""Composite suites (``published``): the union of named suites' cells, in member order, each cell id once."""

from __future__ import annotations

import dataclasses

import pytest

from plantseek.cli import main
from plantseek.core.errors import ConfigError
from plantseek.run.grid import expand
from plantseek.run.suites import PUBLISHED_MEMBERS, SUITES, CompositeSuite


def test_published_is_the_union_of_its_members_in_order():
    published = SUITES.get("published")
    assert [s.name for s in published.parts()] == list(PUBLISHED_MEMBERS)
    assert PUBLISHED_MEMBERS[:5] == ("paper-singleshot", "paper-multishot", "paper-strong", "methods-paper",
                                     "leak-audit")
    cells = expand(published)
    expected = [c.cell_id for name in PUBLISHED_MEMBERS for c in expand(SUITES.get(name))]
    assert [c.cell_id for c in cells] == list(dict.fromkeys(expected))
    # the only shared cells: default's at densities ticket, 0.01 and 0.1 are methods-paper's at seed 0 (same
    # pruners, training and host); its density-0.5 cells are new
    default = expand(SUITES.get("default"))
    methods = {c.cell_id for c in expand(SUITES.get("methods-paper"))}
    assert {c.cell_id for c in default if c.cell_id in methods} == {c.cell_id for c in default if c.density != "0.5"}
    assert len(expected) - len(cells) == sum(c.density != "0.5" for c in default) == 234
    # 1,875 + 600 + 750 + 2,340 + 1,320 (leak-audit: 11 pruners, 6 tasks, 2 densities, 10 seeds) cells, conv-paper's,
    # default's 78 at density 0.5, conv-default's
    assert SUITES.get("leak-audit").n_cells == 1320
    assert len(cells) == 6885 + 78 + sum(SUITES.get(n).n_cells for n in ("conv-paper", "attention-paper",
                                                                         "conv-default", "attention-default"))
    assert published.n_cells == len(expected)  # the members' sum: an upper bound


def test_a_cell_two_members_share_is_expanded_once():
    smoke = SUITES.get("smoke")
    wider = dataclasses.replace(smoke, name="smoke-2", seeds=(0, 1))  # seed 0's cells are smoke's own
    both = CompositeSuite("both", "", (smoke, wider))
    ids = [c.cell_id for c in expand(both)]
    assert len(ids) == len(set(ids)) == 2 * smoke.n_cells
    assert ids[:smoke.n_cells] == [c.cell_id for c in expand(smoke)]
    assert set(ids) == {c.cell_id for c in expand(wider)}


def test_members_are_looked_up_by_name_when_used():
    later = CompositeSuite("later", "", ("smoke", "test-registered-after"))
    with pytest.raises(ConfigError, match="unknown suite 'test-registered-after'"):
        later.parts()
    if "test-registered-after" not in SUITES:
        SUITES.register("test-registered-after", dataclasses.replace(SUITES.get("smoke"), seeds=(7,)))
    assert [s.seeds for s in later.parts()] == [(0,), (7,)]
    assert len(expand(later)) == 16


def test_overrides_apply_to_every_member_and_tasks_keep_the_members_that_run_them():
    published = SUITES.get("published")
    one_seed = published.with_overrides(seeds=[3])
    assert {s.seeds for s in one_seed.parts()} == {(3,)}
    assert {c.seed for c in expand(one_seed)} == {3}
    relu = published.with_overrides(tasks=["relu"], seeds=[0])
    assert [s.name for s in relu.parts()] == [n for n in PUBLISHED_MEMBERS if not n.startswith(("conv-", "attention-"))]
    assert {c.task for c in expand(relu)} == {"relu"}
    with pytest.raises(ConfigError, match="runs none of the tasks nosuch"):
        published.with_overrides(tasks=["nosuch"])


def test_list_shows_the_composite(capsys):
    assert main(["list"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("published "))
    assert f"{len(expand(SUITES.get('published')))} cells" in line and "paper-singleshot" in line


def test_evaluate_narrows_a_composite_from_the_command_line():
    import argparse

    from plantseek.cli import evaluate

    parser = argparse.ArgumentParser()
    evaluate.add_arguments(parser)
    args = parser.parse_args(["--suite", "published", "--tasks", "bars", "--seeds", "0-1", "--epochs", "1"])
    suite = evaluate.build_suite(args)
    evaluate.validate_grid(suite)
    assert [(s.name, s.tasks, s.seeds, s.train.epochs) for s in suite.parts()] == [
        ("leak-audit", ("bars",), (0, 1), 1), ("conv-paper", ("bars",), (0, 1), 1),
        ("conv-default", ("bars",), (0, 1), 1)]  # the leak audit runs bars too
    args = parser.parse_args(["--suite", "published", "--width", "2"])
    with pytest.raises(ConfigError):  # every member is checked: no ticket fits a width-2 host
        evaluate.validate_grid(evaluate.build_suite(args))


@pytest.mark.slow
def test_evaluate_runs_a_composite_and_resumes_it(tmp_path, capsys):
    if "test-composite-smoke" not in SUITES:
        smoke = SUITES.get("smoke")
        SUITES.register("test-composite-smoke", CompositeSuite("test-composite-smoke", "smoke twice", (
            "smoke", dataclasses.replace(smoke, name="smoke-seed-1", seeds=(1,)))))
    store = tmp_path / "r.db"
    args = ["evaluate", "--suite", "test-composite-smoke", "--tasks", "relu", "--pruners", "random",
            "--store", str(store), "--no-progress"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "suite 'test-composite-smoke', 4 cells (0 already in the store), 4 to run" in err
    from plantseek.store.results import load_results

    df = load_results(store)
    assert sorted(zip(df["seed"], df["density_spec"])) == [(0, "0.1"), (0, "ticket"), (1, "0.1"), (1, "ticket")]
    assert set(df["task"]) == {"relu"} and (df["status"] == "ok").all()
    assert main(args) == 0  # resumed: nothing left to run
    assert "4 cells (4 already in the store), 0 to run" in capsys.readouterr().err
