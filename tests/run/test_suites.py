"""Suites pick their pruners from the registry by protocol and tags; pruners declare tags and rank."""

from __future__ import annotations

import pytest

from plantseek.core.errors import PrunerError
from plantseek.prune.contract import PRUNERS, check_pruner, declared, get_pruner, rank_of, tags_of
from plantseek.run.grid import expand
from plantseek.run.suites import SUITES, PrunerSelector

SINGLE = ("random", "magnitude", "snip", "grasp", "synflow")
MULTI = ("magnitude-multishot", "snip-multishot", "grasp-multishot", "synflow-multishot")
STRONG = ("edge-popup", "edge-popup-annealed")
# tag "modern", single-shot, in registry rank order (ranks interleave the two groups of methods)
MODERN_SINGLE = ("early-bird", "cts", "random-erk", "cts-kl", "random-balanced", "continuous-sparsification",
                 "random-pyramidal", "phew", "prospr", "set", "rigl")
MODERN_MULTI = ("lrr", "magnitude-rewind-iterate")
MODERN_STRONG = ("supermask",)


@pytest.mark.parametrize("suite, pruners", [
    ("default", SINGLE + ("synflow-100",) + MODERN_SINGLE + MULTI + MODERN_MULTI + STRONG + MODERN_STRONG),
    ("methods-circle", SINGLE + ("synflow-100",) + MODERN_SINGLE + MULTI + MODERN_MULTI + STRONG + MODERN_STRONG),
    ("methods-paper", SINGLE + ("synflow-100",) + MODERN_SINGLE + MULTI + MODERN_MULTI + STRONG + MODERN_STRONG),
    ("paper-singleshot", SINGLE),
    ("paper-multishot", MULTI),
    ("paper-strong", STRONG),
    ("smoke", ("random", "magnitude")),
])
def test_suites_resolve_to_the_papers_pruner_lists_in_order(suite, pruners):
    s = SUITES.get(suite)
    assert s.pruner_names() == pruners
    cells = expand(s)
    assert [c.pruner for c in cells[:len(pruners) * len(s.densities)]] == [p for p in pruners for _ in s.densities]
    assert s.n_cells == len(cells)


def test_command_line_pruners_override_a_selector():
    s = SUITES.get("paper-singleshot").with_overrides(pruners=["snip", "random"])
    assert s.pruner_names() == ("snip", "random")
    assert {c.pruner for c in expand(s)} == {"snip", "random"}


def test_selector_filters_by_protocol_and_tags():
    local = PrunerSelector(tags=frozenset({"local"})).resolve()
    assert local == ("random-local", "magnitude-local", "snip-local", "grasp-local", "synflow-local")
    assert PrunerSelector(("single-shot",), exclude_tags=frozenset({"local", "paper", "leak-detector", "modern",
                                                                  "ticket-literature"})
                          ).resolve() == ("synflow-100",)
    assert PrunerSelector(tags=frozenset({"leak-detector"}), include=("random",)).resolve() == (
        "random", "leak-magnitude-outlier", "leak-zero-bias", "leak-norm-ratio", "leak-sign-pattern",
        "leak-row-structure", "leak-equal-magnitude", "leak-smallest-magnitude", "leak-largest-magnitude",
        "leak-unit-norm", "leak-bias-ratio")  # include: chosen whatever its tags; order by protocol, rank, name
    everything = PrunerSelector().resolve()
    assert sorted(everything) == sorted(PRUNERS.names())
    assert tags_of(get_pruner("synflow-100")) == {"iterative"} and rank_of(get_pruner("grasp-multishot")) == 3


def test_a_declared_pruner_joins_the_suites_selecting_its_tags():
    name = "test-declared-tagged"
    PRUNERS.register(name)(declared(lambda: get_pruner("magnitude").__class__(name=name), tags={"test-tag"}, rank=-1))
    try:
        assert PrunerSelector(tags=frozenset({"test-tag"})).resolve() == (name,)
        assert name not in SUITES.get("default").pruner_names()
    finally:
        PRUNERS.unregister(name)  # the every-pruner suites (conv-default, ...) keep their pinned cells
    assert name not in PRUNERS.names()


class _Pruner:
    name = "p"

    def prune(self, model, data, density, *, generator, budget):
        return {}


@pytest.mark.parametrize("tags, rank, message", [
    (["paper"], 0, "tags must be a frozenset of non-empty strings"),
    (frozenset({""}), 0, "tags must be a frozenset of non-empty strings"),
    (frozenset({1}), 0, "tags must be a frozenset of non-empty strings"),
    (frozenset(), "1", "rank must be an int"),
])
def test_check_pruner_rejects_bad_tags_and_rank(tags, rank, message):
    p = _Pruner()
    p.tags, p.rank = tags, rank
    with pytest.raises(PrunerError, match=message):
        check_pruner(p, "x.py")


def test_tags_default_to_empty():
    p = check_pruner(_Pruner(), "x.py")
    assert tags_of(p) == frozenset() and rank_of(p) == 0


def test_the_quickstart_shows_every_family_of_default_on_the_paper_tasks_with_defaults_cells():
    from plantseek.prune.contract import protocol_of
    from plantseek.run.suites import PAPER_TASKS

    quick, default = SUITES.get("quickstart"), SUITES.get("default")
    names = quick.pruner_names()
    assert set(quick.tasks) == set(PAPER_TASKS) == {"circle", "relu", "helix"}
    assert {protocol_of(get_pruner(p)) for p in names} == {"single-shot", "multi-shot", "strong"}
    assert {"rigl", "lrr"} <= set(names)  # dynamic sparse training, learning-rate rewinding
    cells = expand(quick)
    assert len(cells) == quick.n_cells == len(names) * 4 * 3 == 96
    assert {c.cell_id for c in cells} <= {c.cell_id for c in expand(default)}  # --suite default reuses them


def test_evaluate_runs_the_quickstart_by_default():
    import argparse

    from plantseek.cli.evaluate import add_arguments

    p = argparse.ArgumentParser()
    add_arguments(p)
    assert p.parse_args([]).suite == "quickstart"
