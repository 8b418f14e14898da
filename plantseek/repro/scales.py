"""The grids a reproduction runs, and its scales (``paper``: the paper's seeds and epochs; ``small``: a quick look).

A grid is a registered suite (``plantseek.run.suites``: ``paper-singleshot``, ``paper-multishot``,
``paper-strong``, protocol ``paper``) with overrides (depth, width, noise, pruners). A scale applies its own
overrides on top (seeds, densities, a smaller width); every override of a scale that changes a number is one of
its named ``choices``, which the report's header lists. The cells are the suites' own cells (same
``CellConfig``, same ids), so a reproduction and ``evaluate`` share a store and skip each other's finished cells.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from plantseek.core.registry import Registry
from plantseek.repro.rules import MIN_SEEDS
from plantseek.run.suites import SUITES, Suite

SCALES: Registry["Scale"] = Registry("scale")
#: the multi-shot pruners of the revival variant (plantseek.prune.schedules.MultiShot ``revive``)
REVIVAL_PRUNERS = ("magnitude-multishot-revival", "snip-multishot-revival", "synflow-multishot")


@dataclass(frozen=True)
class GridSpec:
    """One grid: a registered suite and the overrides that make it the setting a finding needs."""

    name: str
    suite: str
    description: str
    overrides: tuple[tuple[str, Any], ...] = ()


GRIDS: tuple[GridSpec, ...] = (
    GridSpec("singleshot", "paper-singleshot", "single-shot pruners, depth 5, width 100"),
    GridSpec("synflow-100", "paper-singleshot", "SynFlow over 100 rounds, depth 5, width 100",
             (("pruners", ("synflow-100",)),)),
    GridSpec("grasp-local", "paper-singleshot", "GraSP with layer-wise density, depth 5, width 100",
             (("pruners", ("grasp-local",)),)),
    GridSpec("depth-3", "paper-singleshot", "single-shot pruners at depth 3", (("depth", 3),)),
    GridSpec("depth-10", "paper-singleshot", "single-shot pruners at depth 10", (("depth", 10),)),
    GridSpec("width-base", "paper-singleshot", "single-shot pruners on Circle at depth 6, width 100",
             (("tasks", ("circle",)), ("depth", 6))),
    GridSpec("width-wide", "paper-singleshot", "single-shot pruners on Circle at depth 6, width 1000",
             (("tasks", ("circle",)), ("depth", 6), ("width", 1000))),
    GridSpec("noise-0", "paper-singleshot", "single-shot pruners without noise", (("task_options", {"noise": 0.0}),)),
    GridSpec("noise-0.1", "paper-singleshot", "single-shot pruners with noise 0.1 (Circle: label-flip probability)",
             (("task_options", {"noise": 0.1}),)),
    GridSpec("multishot", "paper-multishot", "multi-shot pruners, depth 5, width 100"),
    GridSpec("multishot-revival", "paper-multishot", "variant: multi-shot Magnitude and SNIP reviving pruned weights "
             "as the reference code does (SynFlow never revives: its cells are the multishot grid's), depth 5, width "
             "100", (("pruners", REVIVAL_PRUNERS),)),
    GridSpec("strong", "paper-strong", "edge-popup and annealed edge-popup, depth 5, width 100"),
    GridSpec("vgg-digits", "paper-strong", "edge-popup and annealed edge-popup on digits (a trained 0.01 SynFlow CNN "
             "ticket) in a host of the target's own size, depth 5, width 32 (the paper: VGG16 / CIFAR-10)",
             (("tasks", ("digits",)), ("width", 32), ("densities", ("ticket", "0.01")))),
)
GRID_NAMES = tuple(g.name for g in GRIDS)


@dataclass(frozen=True)
class Scale:
    """How much of each grid runs: overrides for every grid (``common``) and per grid (``per_grid``), and the
    number-changing ones named in words (``choices``, the report's header)."""

    name: str
    description: str
    common: tuple[tuple[str, Any], ...] = ()
    per_grid: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    choices: tuple[str, ...] = ()
    grids: tuple[str, ...] = GRID_NAMES  # the grids this scale runs (a test scale may run fewer)
    base: dict[str, str] = field(default_factory=dict)  # grid name -> suite, replacing GridSpec.suite (tests)

    def suite(self, grid: GridSpec) -> Suite:
        """The suite of ``grid`` at this scale (named ``repro-<grid>``; the name is not part of any cell id)."""
        changes = dict(grid.overrides)
        changes.update(dict(self.common))
        changes.update(dict(dict(self.per_grid).get(grid.name, ())))
        base = SUITES.get(self.base.get(grid.name, grid.suite))
        if not isinstance(base, Suite):
            raise TypeError(f"grid {grid.name!r}: suite {grid.suite!r} is a composite suite, not one grid")
        options = changes.pop("task_options", None)
        if options is not None:
            changes["task_options"] = {**base.task_options, **options}
        return dataclasses.replace(base.with_overrides(**changes), name=f"repro-{grid.name}")

    def suites(self) -> dict[str, Suite]:
        """Every grid of this scale as a suite, by grid name."""
        return {g.name: self.suite(g) for g in GRIDS if g.name in self.grids}


#: seeds of the width-1000 grid at the paper scale: the fewest that decide (two halves of MIN_SEEDS)
WIDE_SEEDS = tuple(range(2 * MIN_SEEDS))
SCALES.register("paper", Scale(
    "paper", "the paper's grids: its seeds (25 single-shot and edge-popup, 10 multi-shot; the width-1000 grid "
    f"{len(WIDE_SEEDS)}), epochs, densities (ticket, 0.01, 0.1, 0.5, 1) and widths",
    per_grid=(("width-wide", (("seeds", WIDE_SEEDS),)),),
    choices=(
        f"the width-1000 grid (Circle, depth 6) runs seeds 0–{len(WIDE_SEEDS) - 1}, not the paper's 25: a width-1000 "
        "network costs ~100 times a width-100 one, so its 625 cells at 25 seeds would take hours on 2 cores; "
        f"{len(WIDE_SEEDS)} seeds are the fewest that decide (two halves of {MIN_SEEDS} paired seeds, the replication "
        "rule). Its reference, the width-100 grid, keeps all 25 seeds",
    ),
))
_SMALL_TASKS = ("circle", "relu")
# two halves of MIN_SEEDS each (plantseek.repro.rules: replication): fewer decide nothing
SMALL_SEEDS = tuple(range(2 * MIN_SEEDS))
SCALES.register("small", Scale(
    "small", f"a quick look: {2 * MIN_SEEDS} seeds, densities ticket to 0.5, width 250 instead of 1000, depth and "
    "noise on Circle and ReLU with 3 single-shot pruners",
    common=(("seeds", SMALL_SEEDS), ("densities", ("ticket", "0.01", "0.1", "0.5"))),
    per_grid=(
        ("width-base", (("pruners", ("random", "magnitude", "synflow")),)),
        ("width-wide", (("width", 250), ("pruners", ("random", "magnitude", "synflow")))),
        ("depth-3", (("tasks", _SMALL_TASKS), ("pruners", ("random", "magnitude", "synflow")))),
        ("depth-10", (("tasks", _SMALL_TASKS + ("helix",)), ("pruners", ("random", "magnitude", "synflow")))),
        ("noise-0", (("tasks", _SMALL_TASKS), ("pruners", ("random", "magnitude", "synflow")))),
        ("noise-0.1", (("tasks", _SMALL_TASKS), ("pruners", ("random", "magnitude", "synflow")))),
    ),
    choices=(
        f"seeds 0–{2 * MIN_SEEDS - 1} in every grid (the paper: 25 single-shot and edge-popup, 10 multi-shot): the "
        f"fewest that decide anything (two halves of {MIN_SEEDS} paired seeds, the replication rule), so intervals "
        "are wide and many verdicts stay undecided",
        "densities ticket, 0.01, 0.1, 0.5 (density 1, the dense host, is left out: its trained metric is every "
        "cell's reference anyway)",
        "the width finding compares width 250 with width 100 (the paper: 1000) on Circle at depth 6",
        "depth 3, depth 10, width and noise grids run random, magnitude and synflow only (the paper: all "
        "single-shot pruners); depth 3 and noise on Circle and ReLU only (depth 10: all three tasks)",
    ),
))
