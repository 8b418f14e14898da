"""Named grids (suites) of tasks x pruners x densities x seeds. ``python -m plantseek list`` shows them. What a suite
is (:class:`Suite`, :class:`CompositeSuite`, :class:`PrunerSelector`) and the registry :data:`SUITES` live in
:mod:`plantseek.run.suite_types` (re-exported here); this module registers the paper's, the methods', the leak audit's
and the host families' suites, and :mod:`plantseek.run.setting_suites` the newer grids'.
"""

from __future__ import annotations

from plantseek.run.suite_types import (  # noqa: F401  (re-exported: the suites' public names)
    SUITES, PAPER_TASKS, LITERATURE_TAGS, NOT_EVERY_HOST, CompositeSuite, PrunerSelector, Suite, TaskSetting,
    canonical_density, check_overrides, _register,
)
from plantseek.train.config import TrainConfig

_register(Suite(
    "default", "every baseline on Circle, ReLU, Helix (depth 5, width 100), 4 densities, 1 seed",
    PAPER_TASKS, PrunerSelector(tags=frozenset({"paper", "iterative", "modern"})), ("ticket", "0.01", "0.1", "0.5"),
    (0,),
))
#: ``evaluate``'s default: every method family of ``default`` (single-shot scores, multi-shot prune-and-rewind,
#: learning-rate rewinding, strong-ticket search, dynamic sparse training) on the three paper tasks, sized for 3
#: minutes on 2 cores (107 CPU-seconds; docs/performance.md, "The Quickstart's run"); its cells are ``default``'s
#: (same ids), so ``--suite default`` on the same store runs only the rest
QUICKSTART_PRUNERS = ("random", "magnitude", "snip", "synflow", "magnitude-multishot", "lrr", "edge-popup", "rigl")
_register(Suite(
    "quickstart", "evaluate's default: one or more methods of every family (single-shot, multi-shot, rewinding, "
    "strong, dynamic sparse) on Circle, ReLU, Helix (depth 5, width 100), 4 densities, 1 seed; the full grid: "
    "--suite default",
    PAPER_TASKS, QUICKSTART_PRUNERS, ("ticket", "0.01", "0.1", "0.5"), (0,),
))
_register(Suite(
    "paper-singleshot", "the paper's single-shot grid: 5 pruners x 5 densities x 25 seeds x 3 tasks",
    PAPER_TASKS, PrunerSelector(("single-shot",), frozenset({"paper"})), ("ticket", "0.01", "0.1", "0.5", "1.0"),
    tuple(range(25)), training_protocol="paper",
))
_register(Suite(
    "paper-multishot", "the paper's multi-shot grid: 4 pruners x 5 densities x 10 seeds x 3 tasks",
    PAPER_TASKS, PrunerSelector(("multi-shot",), frozenset({"paper"})), ("ticket", "0.01", "0.1", "0.5", "1.0"),
    tuple(range(10)), training_protocol="paper",
))
_register(Suite(
    "paper-strong", "edge-popup strong-ticket search: 2 variants x 5 densities x 25 seeds x 3 tasks",
    PAPER_TASKS, PrunerSelector(("strong",), frozenset({"paper"})), ("ticket", "0.01", "0.1", "0.5", "1.0"),
    tuple(range(25)), training_protocol="paper",
))
_register(Suite(
    "smoke", "a tiny grid for tests: 2 tasks at depth 4 width 20, 400 samples, 1 epoch",
    ("circle", "relu"), ("random", "magnitude"), ("ticket", "0.1"), (0,), depth=4, width=20, n_samples=400,
    train=TrainConfig(epochs=1), budget=TrainConfig(epochs=1),
))
#: the leak-audit suite's hosts of the conv and attention tasks: conv-default's and attention-default's
LEAK_AUDIT_SETTINGS = {
    "bars": TaskSetting(depth=4, width=12, task_options={"image_size": 12}, n_samples=1000),
    "digits": TaskSetting(depth=5, width=32, task_options={}),
    "recall": TaskSetting(depth=3, width=32, task_options={}, n_samples=1000),
}
_register(Suite(
    "leak-audit", "every leak detector (tag leak-detector) and random on Circle, ReLU, Helix (depth 5, width 100), "
    "bars, digits and recall (the conv-default and attention-default hosts) at densities ticket and 0.01, 10 seeds; "
    "1 weak-training epoch (recall is what counts; python -m plantseek.perf.leak_audit measures the same recalls "
    "without training)",
    (*PAPER_TASKS, "bars", "digits", "recall"), PrunerSelector(tags=frozenset({"leak-detector"}), include=("random",)),
    ("ticket", "0.01"), tuple(range(10)), train=TrainConfig(epochs=1), task_settings=LEAK_AUDIT_SETTINGS,
))
_register(Suite(
    "methods-circle", "every paper, iterative and modern pruner on Circle depth 5 width 100 at densities ticket, 0.01 "
    "and 0.1, 5 seeds: recall, weak accuracy and compute per method (python -m plantseek.report.compute_table)",
    ("circle",), PrunerSelector(tags=frozenset({"paper", "iterative", "modern"})), ("ticket", "0.01", "0.1"),
    tuple(range(5)),
))
_register(Suite(
    "methods-paper", "every paper, iterative and modern pruner on Circle, ReLU and Helix (depth 5, width 100) at "
    "densities ticket, 0.01 and 0.1, 10 seeds: the published leaderboard's methods grid",
    PAPER_TASKS, PrunerSelector(tags=frozenset({"paper", "iterative", "modern"})), ("ticket", "0.01", "0.1"),
    tuple(range(10)),
))
#: digits (the trained 0.01 SynFlow target) in a host of the target's own size (width 32), as the paper's VGG16
DIGITS_SETTING = TaskSetting(depth=5, width=32, task_options={})
#: digits with every training image (the suite's sample count would cut the fixed split)
DIGITS_PAPER_SETTING = TaskSetting(depth=5, width=32, task_options={}, n_samples=10_000)

_register(Suite(
    "conv-default", "every registered pruner on the conv task bars (depth 4, width 12, 12x12 images, 1,000 samples) "
    "and on digits (depth 5, width 32, 900 training images), 4 densities, 1 seed; 2 epochs of pruning budget and weak "
    "training",
    ("bars", "digits"), PrunerSelector(exclude_tags=NOT_EVERY_HOST), ("ticket", "0.01", "0.1", "0.5"), (0,), depth=4,
    width=12,
    task_options={"image_size": 12}, n_samples=1000, train=TrainConfig(epochs=2), budget=TrainConfig(epochs=2),
    task_settings={"digits": DIGITS_SETTING},
))
_register(Suite(
    "conv-paper", "the paper's single-shot and multi-shot protocol (10 weak-training epochs; 10 rounds of 5 epochs) on "
    "the conv tasks bars (depth 4, width 12, 12x12 images, 1,000 samples: conv-default's host) and digits (depth 5, "
    "width 32, all 1,437 training images): 9 pruners x 5 densities x 10 seeds",
    ("bars", "digits"), PrunerSelector(("single-shot", "multi-shot"), frozenset({"paper"})),
    ("ticket", "0.01", "0.1", "0.5", "1.0"), tuple(range(10)), depth=4, width=12, task_options={"image_size": 12},
    n_samples=1000, training_protocol="paper", task_settings={"digits": DIGITS_PAPER_SETTING},
))

#: the suites of the published leaderboard (``leaderboard/``), in order; a suite that lands joins with one line
PUBLISHED_MEMBERS: tuple[str, ...] = (
    "paper-singleshot", "paper-multishot", "paper-strong", "methods-paper", "leak-audit", "conv-paper",
    "attention-paper",
    "default", "conv-default", "attention-default",  # the quick suites' cells too (default's overlap methods-paper
    # at seed 0: stored once)
)
_register(CompositeSuite(
    "published", "the published leaderboard: " + ", ".join(PUBLISHED_MEMBERS) + " (each cell once)",
    PUBLISHED_MEMBERS,
))
_register(Suite(
    "attention-default", "every registered pruner on the attention task recall (one block, width 32, heads of 8, 4 "
    "keys and values, 5 tokens, 1,000 samples), 4 densities, 1 seed; 2 epochs of pruning budget and weak training",
    ("recall",), PrunerSelector(exclude_tags=NOT_EVERY_HOST), ("ticket", "0.01", "0.1", "0.5"), (0,), depth=3,
    width=32, n_samples=1000,
    train=TrainConfig(epochs=2), budget=TrainConfig(epochs=2),
))
_register(Suite(
    "attention-paper", "the paper's single-shot, multi-shot and strong protocols (10 weak-training epochs) on the "
    "attention task recall (attention-default's host: one block, width 32, heads of 8, 1,000 samples): paper pruners "
    "x 5 densities x 10 seeds",
    ("recall",), PrunerSelector(("single-shot", "multi-shot", "strong"), frozenset({"paper"})),
    ("ticket", "0.01", "0.1", "0.5", "1.0"), tuple(range(10)), depth=3, width=32, n_samples=1000,
    training_protocol="paper",
))

#: The single-shot score pruners of the pattern suites: they select through plantseek.nets.masks.select_top, which
#: honours N:M and structured patterns (docs/patterns.md).
PATTERN_PRUNERS = ("random", "magnitude", "snip", "grasp", "synflow")
#: The pattern suites' densities: unstructured 0.5 beside 2:4 (the same density), 4:8 and whole units.
PATTERN_DENSITIES = ("0.5", "2:4", "4:8", "units:0.5")
_register(Suite(
    "patterns-default", "N:M and structured masks (docs/patterns.md): random, magnitude, snip, grasp and synflow on "
    "Circle and ReLU (depth 4, width 32, 1,000 samples) at 0.5, 2:4, 4:8 and units:0.5, 2 seeds; 2 epochs of pruning "
    "budget and weak training",
    ("circle", "relu"), PATTERN_PRUNERS, PATTERN_DENSITIES, (0, 1), depth=4, width=32, n_samples=1000,
    train=TrainConfig(epochs=2), budget=TrainConfig(epochs=2),
))
_register(Suite(
    "patterns-paper", "N:M and structured masks (docs/patterns.md) in the paper's single-shot protocol: random, "
    "magnitude, snip, grasp and synflow on Circle, ReLU and Helix (depth 5, width 100) at 0.5, 2:4, 4:8, units:0.5 and "
    "units:0.25, 10 seeds",
    PAPER_TASKS, PATTERN_PRUNERS, (*PATTERN_DENSITIES, "units:0.25"), tuple(range(10)), training_protocol="paper",
))

# The suites of the ticket literature's methods, the post-training protocol and the new planted settings live in
# their own module (registered on import, after the classes above exist).
from plantseek.run import setting_suites  # noqa: E402,F401
