"""What a suite is: named grids (suites) of tasks x pruners x densities x seeds, their registry and selectors (the
suites themselves are registered in :mod:`plantseek.run.suites` and :mod:`plantseek.run.setting_suites`).

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
from plantseek.core.types import REPRO_VARIANT_TAG
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


#: the issue-28 methods (tag ticket-literature) run in the literature-* suites, not in conv-default and
#: attention-default (whose every-registered-pruner grids, and pinned cell ids, stay as they were)
LITERATURE_TAGS = frozenset({"ticket-literature"})
#: the tags kept out of the every-registered-pruner grids conv-default and attention-default: the literature methods
#: (their own suites), the post-training pruners (a post-training cell trains the host first: their own suites) and
#: the reproduction's variants of the paper's pruners (plantseek.core.types.REPRO_VARIANT_TAG: its grids only)
NOT_EVERY_HOST = LITERATURE_TAGS | {"post-training", REPRO_VARIANT_TAG}
