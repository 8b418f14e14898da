"""Named grids (suites) of tasks x pruners x densities x seeds. ``python -m plantseek list`` shows them.

A suite's pruners are either a list of names (``--pruners`` on the command line gives one) or a
:class:`PrunerSelector`: the registered pruners of some protocols carrying some tags (``plantseek.prune.contract``:
every pruner declares its ``protocol``, ``tags`` and ``rank``). A selector is resolved when the suite is expanded,
so this module imports no pruner, and a newly registered, tagged pruner joins its suites by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from plantseek.core.errors import ConfigError
from plantseek.core.limits import MAX_CELLS, MAX_DEPTH, MAX_N_SAMPLES, MAX_SEED, MAX_SEEDS, MAX_WIDTH
from plantseek.prune.masks import validate_density
from plantseek.core.registry import Registry
from plantseek.train.config import DEFAULT_TRAINING_PROTOCOL, TrainConfig

SUITES: Registry["Suite"] = Registry("suite")

PAPER_TASKS = ("circle", "relu", "helix")


def canonical_density(text: Any) -> str:
    """``"ticket"`` or a validated density written canonically (``0.010`` -> ``"0.01"``)."""
    if isinstance(text, str) and text.strip().lower() == "ticket":
        return "ticket"
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ConfigError(f"density must be a number in (0, 1] or 'ticket', got {text!r}") from None
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
class Suite:
    name: str
    description: str
    tasks: tuple[str, ...]
    pruners: tuple[str, ...] | PrunerSelector  # names, or the registered pruners a selector picks
    densities: tuple[str, ...]
    seeds: tuple[int, ...]
    depth: int = 5
    width: int = 100
    task_options: dict[str, Any] = field(default_factory=dict)  # applied to every task (e.g. noise)
    n_samples: int = 10_000
    train: TrainConfig = TrainConfig()
    budget: TrainConfig = TrainConfig()
    training_protocol: str = DEFAULT_TRAINING_PROTOCOL  # where weak training starts (plantseek.train.protocols)

    def pruner_names(self) -> tuple[str, ...]:
        """The suite's pruners, in cell order (a selector resolved against the registry now)."""
        return self.pruners.resolve() if isinstance(self.pruners, PrunerSelector) else tuple(self.pruners)

    @property
    def n_cells(self) -> int:
        return len(self.tasks) * len(self.pruner_names()) * len(self.densities) * len(self.seeds)

    def with_overrides(self, **changes: Any) -> "Suite":
        changes = {k: v for k, v in changes.items() if v is not None}
        if "densities" in changes:
            changes["densities"] = tuple(canonical_density(d) for d in changes["densities"])
        for key in ("tasks", "pruners", "seeds"):
            if key in changes:
                changes[key] = tuple(changes[key])
        check_overrides(changes)
        suite = replace(self, **changes)
        if not isinstance(suite.pruners, PrunerSelector) and suite.n_cells > MAX_CELLS:
            raise ConfigError(f"the grid has {suite.n_cells} cells, more than {MAX_CELLS}: narrow it")
        return suite


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


def _register(suite: Suite) -> None:
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
_register(Suite(
    "leak-audit", "every leak detector (tag leak-detector) and random on Circle, ReLU, Helix at densities ticket and "
    "0.01, 5 seeds; 1 weak-training epoch (recall is what counts)",
    PAPER_TASKS, PrunerSelector(tags=frozenset({"leak-detector"}), include=("random",)), ("ticket", "0.01"),
    tuple(range(5)), train=TrainConfig(epochs=1),
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
_register(Suite(
    "conv-default", "every registered pruner on the conv task bars (depth 4, width 12, 12x12 images, 1,000 samples), "
    "4 densities, 1 seed; 2 epochs of pruning budget and weak training",
    ("bars",), PrunerSelector(), ("ticket", "0.01", "0.1", "0.5"), (0,), depth=4, width=12,
    task_options={"image_size": 12}, n_samples=1000, train=TrainConfig(epochs=2), budget=TrainConfig(epochs=2),
))
_register(Suite(
    "conv-paper", "the paper's single-shot and multi-shot protocol on the conv task bars (depth 4, width 32): "
    "9 pruners x 5 densities x 10 seeds",
    ("bars",), PrunerSelector(("single-shot", "multi-shot"), frozenset({"paper"})),
    ("ticket", "0.01", "0.1", "0.5", "1.0"), tuple(range(10)), depth=4, width=32, training_protocol="paper",
))
_register(Suite(
    "attention-default", "every registered pruner on the attention task recall (one block, width 32, heads of 8, 4 "
    "keys and values, 5 tokens, 1,000 samples), 4 densities, 1 seed; 2 epochs of pruning budget and weak training",
    ("recall",), PrunerSelector(), ("ticket", "0.01", "0.1", "0.5"), (0,), depth=3, width=32, n_samples=1000,
    train=TrainConfig(epochs=2), budget=TrainConfig(epochs=2),
))
_register(Suite(
    "attention-paper", "the paper's single-shot, multi-shot and strong protocols on the attention task recall (one "
    "block, width 64, heads of 8): paper pruners x 5 densities x 10 seeds",
    ("recall",), PrunerSelector(("single-shot", "multi-shot", "strong"), frozenset({"paper"})),
    ("ticket", "0.01", "0.1", "0.5", "1.0"), tuple(range(10)), depth=3, width=64, training_protocol="paper",
))
