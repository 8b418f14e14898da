"""Named grids (suites) of tasks x pruners x densities x seeds. ``python -m plantseek list`` shows them.

A suite's pruners are either a list of names (``--pruners`` on the command line gives one) or a
:class:`PrunerSelector`: the registered pruners of some protocols carrying some tags (``plantseek.prune.contract``:
every pruner declares its ``protocol``, ``tags`` and ``rank``). A selector is resolved when the suite is expanded,
so this module imports no pruner, and a newly registered, tagged pruner joins its suites by itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from plantseek.core.errors import ConfigError
from plantseek.core.limits import MAX_CELLS, MAX_DEPTH, MAX_N_SAMPLES, MAX_SEED, MAX_SEEDS, MAX_WIDTH
from plantseek.core.registry import Registry
from plantseek.train.config import DEFAULT_TRAINING_PROTOCOL, TRAINING_PROTOCOLS, TrainConfig

SUITES: Registry["Suite | CompositeSuite"] = Registry("suite")

PAPER_TASKS = ("circle", "relu", "helix")


def canonical_density(text: Any) -> str:
    """``"ticket"``, a validated density written canonically (``0.010`` -> ``"0.01"``) or a pattern written
    canonically (``" 2 : 4"`` -> ``"2:4"``, ``"UNITS:0.250"`` -> ``"units:0.25"``; :mod:`plantseek.nets.patterns`)."""
    from plantseek.nets.masks import validate_density  # torch: imported when used, so that the CLI's options
    # (generated from Suite's fields, plantseek.cli.overrides) leave the torch-free commands torch-free
    from plantseek.core.patterns import canonical_pattern, is_pattern_spec

    if isinstance(text, str) and text.strip().lower() == "ticket":
        return "ticket"
    if is_pattern_spec(text):
        return canonical_pattern(text)
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ConfigError(f"density must be a number in (0, 1], 'ticket' or a pattern such as '2:4' or "
                          f"'units:0.25', got {text!r}") from None
    return repr(validate_density(value))


@dataclass(frozen=True)
class PrunerSelector:
    """The registered pruners whose protocol is one of ``protocols`` (all if empty) that carry at least one of
    ``tags`` (any if empty) and none of ``exclude_tags``, plus the pruners named in ``include``. Ordered by protocol
    (single-shot, multi-shot, strong), then by the pruners' declared ``rank``, then by name."""

    protocols: tuple[str, ...] = ()
    tags: frozenset[str] = frozenset()
    exclude_tags: frozenset[str] = frozenset()
    include: tuple[str, ...] = ()  # registered pruners chosen whatever their protocol and tags (e.g. "random")

    def resolve(self) -> tuple[str, ...]:
        from plantseek.prune.contract import PROTOCOLS, PRUNERS, protocol_of, rank_of, tags_of

        chosen = []
        for name in PRUNERS.names():
            pruner = PRUNERS.get(name)()
            protocol, tags = protocol_of(pruner), tags_of(pruner)
            if name not in self.include and not self._selects(protocol, tags):
                continue
            chosen.append((PROTOCOLS.index(protocol), rank_of(pruner), name))
        return tuple(name for *_, name in sorted(chosen))

    def _selects(self, protocol: str, tags: frozenset[str]) -> bool:
        if self.protocols and protocol not in self.protocols:
            return False
        return not ((self.tags and not tags & self.tags) or tags & self.exclude_tags)


@dataclass(frozen=True)
class TaskSetting:
    """Where one task of a suite departs from the suite's depth, width, task options or sample count (None = the
    suite's own); e.g. a task whose trained target fixes its depth and minimum width (``digits``)."""

    depth: int | None = None
    width: int | None = None
    task_options: dict[str, Any] | None = None  # replaces the suite's task options for this task
    n_samples: int | None = None


@dataclass(frozen=True)
class Suite:
    """A grid. A field with ``help`` metadata is a command-line override of ``evaluate`` (``plantseek.cli.overrides``);
    ``train`` takes the training options, ``budget`` only the Adam kernel."""

    name: str
    description: str
    tasks: tuple[str, ...] = field(metadata={
        "help": "comma-separated task names (overrides the suite's)", "parse": "names"})
    pruners: tuple[str, ...] | PrunerSelector = field(metadata={  # names, or the registered pruners a selector picks
        "help": "comma-separated registered names and/or path/to/file.py:ClassName", "parse": "names"})
    densities: tuple[str, ...] = field(metadata={
        "help": "comma-separated densities in (0, 1], 'ticket', or patterns such as '2:4' or 'units:0.25'",
        "parse": "densities"})
    seeds: tuple[int, ...] = field(metadata={
        "help": f"comma-separated seeds in 0..2**31-1, or ranges like 0-24 (at most {MAX_SEEDS})", "parse": "seeds"})
    depth: int = field(default=5, metadata={
        "help": f"host depth (layers incl. input and output; at most {MAX_DEPTH})", "range": (1, MAX_DEPTH)})
    width: int = field(default=100, metadata={
        "help": "host hidden width (width**2 * depth * 8 bytes must fit 1/16 of the available memory)",
        "range": (1, MAX_WIDTH)})
    task_options: dict[str, Any] = field(default_factory=dict, metadata={  # applied to every task
        "flag": "--noise", "key": "noise", "range": (0.0, math.inf),
        "help": "task noise level (default: the task's, 0.01; a label-flip probability is at most 1)"})
    n_samples: int = field(default=10_000, metadata={
        "help": "samples per instance (train + test; default 10000)", "range": (10, MAX_N_SAMPLES)})
    train: TrainConfig = field(default=TrainConfig(), metadata={"nested": True})
    budget: TrainConfig = field(default=TrainConfig(), metadata={"nested": ("adam_kernel",)})
    training_protocol: str = field(default=DEFAULT_TRAINING_PROTOCOL, metadata={
        "flag": "--protocol", "choices": TRAINING_PROTOCOLS,
        "help": "where weak training starts: paper = the masked initial network as is (the paper's protocol; default "
                "of the paper-* suites), calibrated = a fitted readout and balanced units (default of the default "
                "suite); see plantseek.train.training_protocols"})
    task_settings: dict[str, TaskSetting] = field(default_factory=dict)  # per-task departures (by task name)
    #: > 0: a post-training grid (plantseek.prune.posttraining): the dense host is trained, every pruner gets it and
    #: ``calibration_size`` training samples, once per calibration seed; the masks are scored without retraining
    calibration_size: int = 0
    calibration_seeds: tuple[int, ...] = (0,)

    def setting(self, task: str) -> dict[str, Any]:
        """The ``depth``, ``width``, ``task_options`` and ``n_samples`` of ``task``'s cells."""
        own = self.task_settings.get(task, TaskSetting())
        return {"depth": self.depth if own.depth is None else own.depth,
                "width": self.width if own.width is None else own.width,
                "task_options": dict(self.task_options if own.task_options is None else own.task_options),
                "n_samples": self.n_samples if own.n_samples is None else own.n_samples}

    def pruner_names(self) -> tuple[str, ...]:
        """The suite's pruners, in cell order (a selector resolved against the registry now)."""
        return self.pruners.resolve() if isinstance(self.pruners, PrunerSelector) else tuple(self.pruners)

    @property
    def n_cells(self) -> int:
        draws = len(self.calibration_seeds) if self.calibration_size else 1
        return len(self.tasks) * len(self.pruner_names()) * len(self.densities) * len(self.seeds) * draws

    def with_overrides(self, **changes: Any) -> "Suite":
        changes = {k: v for k, v in changes.items() if v is not None}
        if "densities" in changes:
            changes["densities"] = tuple(canonical_density(d) for d in changes["densities"])
        for key in ("tasks", "pruners", "seeds"):
            if key in changes:
                changes[key] = tuple(changes[key])
        check_overrides(changes)
        changes["task_settings"] = self._overridden_settings(changes)
        suite = replace(self, **changes)
        if not isinstance(suite.pruners, PrunerSelector) and suite.n_cells > MAX_CELLS:
            raise ConfigError(f"the grid has {suite.n_cells} cells, more than {MAX_CELLS}: narrow it")
        return suite

    def _overridden_settings(self, changes: dict[str, Any]) -> dict[str, TaskSetting]:
        """Task settings under overrides: an overridden depth, width or sample count applies to every task; changed
        task options (e.g. ``--noise``) are changed in every task's own options too."""
        cleared = {k: None for k in ("depth", "width", "n_samples") if k in changes}
        options = changes.get("task_options")
        delta = {} if options is None else {k: v for k, v in options.items()
                                            if k not in self.task_options or self.task_options[k] != v}
        out = {}
        for task, own in self.task_settings.items():
            own = replace(own, **cleared)
            if delta and own.task_options is not None:
                own = replace(own, task_options={**own.task_options, **delta})
            out[task] = own
        return out


def _check_int(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{name} must be an integer >= {lo} and <= {hi}, got {value!r}")


def check_overrides(changes: dict[str, Any]) -> None:
    """One-line errors for overrides no grid can run: empty lists, seeds, sizes out of range."""
    for key in ("tasks", "pruners", "densities", "seeds"):
        if key in changes and not changes[key]:
            raise ConfigError(f"{key} is empty: give at least one")
    if len(changes.get("seeds", ())) > MAX_SEEDS:
        raise ConfigError(f"{len(changes['seeds'])} seeds, more than {MAX_SEEDS}")
    for seed in changes.get("seeds", ()):
        _check_int("a seed", seed, 0, MAX_SEED)
    for key, lo, hi in (("depth", 1, MAX_DEPTH), ("width", 1, MAX_WIDTH), ("n_samples", 10, MAX_N_SAMPLES)):
        if key in changes:
            _check_int(key, changes[key], lo, hi)


@dataclass(frozen=True)
class CompositeSuite:
    """A suite made of named suites (or suites): its cells are the union of theirs, in member order, each cell id
    once (:func:`plantseek.run.grid.expand`). Members are looked up by name when used, so a suite registered later
    (by another module or a plug-in) joins by adding its name to ``members``."""

    name: str
    description: str
    members: tuple["str | Suite", ...]

    def parts(self) -> tuple[Suite, ...]:
        """The member suites, names resolved now (an unknown name is a one-line error); a composite member
        contributes its own parts."""
        out: list[Suite] = []
        for m in self.members:
            suite = SUITES.get(m) if isinstance(m, str) else m
            out += suite.parts() if isinstance(suite, CompositeSuite) else [suite]
        return tuple(out)

    def pruner_names(self) -> tuple[str, ...]:
        """Every member's pruners, each once, in member order."""
        return tuple(dict.fromkeys(p for s in self.parts() for p in s.pruner_names()))

    @property
    def n_cells(self) -> int:
        """The members' cells summed: an upper bound (cells two members share count once in
        :func:`~plantseek.run.grid.expand`, which ``list`` counts)."""
        return sum(s.n_cells for s in self.parts())

    def narrowed(self, narrow: Callable[[Suite], Suite]) -> "CompositeSuite":
        """The composite with ``narrow`` applied to every member (the command line's overrides: e.g. fewer seeds)."""
        return replace(self, members=tuple(narrow(s) for s in self.parts()))

    def only_tasks(self, tasks: tuple[str, ...]) -> "CompositeSuite":
        """The members that run one of ``tasks``, each narrowed to those of its tasks (a one-line error when no
        member runs any)."""
        kept = [replace(s, tasks=tuple(t for t in s.tasks if t in tasks)) for s in self.parts()]
        kept = [s for s in kept if s.tasks]
        if not kept:
            have = sorted({t for s in self.parts() for t in s.tasks})
            raise ConfigError(f"suite {self.name!r} runs none of the tasks {', '.join(tasks)} (it runs: "
                              f"{', '.join(have)})")
        return replace(self, members=tuple(kept))

    def with_overrides(self, **changes: Any) -> "CompositeSuite":
        """Every member with the same overrides; ``tasks`` keeps only the members (and their tasks) named."""
        tasks = changes.pop("tasks", None)
        suite = self.only_tasks(tuple(tasks)) if tasks is not None else self
        return suite.narrowed(lambda s: s.with_overrides(**changes))


def _register(suite: Suite | CompositeSuite) -> None:
    SUITES.register(suite.name, suite)


_register(Suite(
    "default", "every baseline on Circle, ReLU, Helix (depth 5, width 100), 4 densities, 1 seed",
    PAPER_TASKS, PrunerSelector(tags=frozenset({"paper", "iterative", "modern"})), ("ticket", "0.01", "0.1", "0.5"),
    (0,),
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
#: the issue-28 methods (tag ticket-literature) run in the literature-* suites, not in conv-default and
#: attention-default (whose every-registered-pruner grids, and pinned cell ids, stay as they were)
LITERATURE_TAGS = frozenset({"ticket-literature"})
#: the tags kept out of the every-registered-pruner grids conv-default and attention-default: the literature methods
#: (their own suites) and the post-training pruners (a post-training cell trains the host first: their own suites)
NOT_EVERY_HOST = LITERATURE_TAGS | {"post-training"}
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
