"""Named grids (suites) of tasks x pruners x densities x seeds. ``python -m plantseek list`` shows them."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from plantseek.core.errors import ConfigError
from plantseek.prune.masks import validate_density
from plantseek.core.registry import Registry
from plantseek.train.loop import TrainConfig

SUITES: Registry["Suite"] = Registry("suite")

SINGLE_SHOT = ("random", "magnitude", "snip", "grasp", "synflow")
MULTI_SHOT = ("magnitude-multishot", "snip-multishot", "grasp-multishot", "synflow-multishot")
STRONG = ("edge-popup", "edge-popup-annealed")
ALL_BASELINES = SINGLE_SHOT + ("synflow-100",) + MULTI_SHOT + STRONG
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
class Suite:
    name: str
    description: str
    tasks: tuple[str, ...]
    pruners: tuple[str, ...]
    densities: tuple[str, ...]
    seeds: tuple[int, ...]
    depth: int = 5
    width: int = 100
    task_options: dict[str, Any] = field(default_factory=dict)  # applied to every task (e.g. noise)
    n_samples: int = 10_000
    train: TrainConfig = TrainConfig()
    budget: TrainConfig = TrainConfig()

    @property
    def n_cells(self) -> int:
        return len(self.tasks) * len(self.pruners) * len(self.densities) * len(self.seeds)

    def with_overrides(self, **changes: Any) -> "Suite":
        changes = {k: v for k, v in changes.items() if v is not None}
        if "densities" in changes:
            changes["densities"] = tuple(canonical_density(d) for d in changes["densities"])
        for key in ("tasks", "pruners", "seeds"):
            if key in changes:
                changes[key] = tuple(changes[key])
        return replace(self, **changes)


def _register(suite: Suite) -> None:
    SUITES.register(suite.name, suite)


_register(Suite(
    "default", "every baseline on Circle, ReLU, Helix (depth 5, width 100), 4 densities, 1 seed",
    PAPER_TASKS, ALL_BASELINES, ("ticket", "0.01", "0.1", "0.5"), (0,),
))
_register(Suite(
    "paper-singleshot", "the paper's single-shot grid: 5 pruners x 5 densities x 25 seeds x 3 tasks",
    PAPER_TASKS, SINGLE_SHOT, ("ticket", "0.01", "0.1", "0.5", "1.0"), tuple(range(25)),
))
_register(Suite(
    "paper-multishot", "the paper's multi-shot grid: 4 pruners x 5 densities x 10 seeds x 3 tasks",
    PAPER_TASKS, MULTI_SHOT, ("ticket", "0.01", "0.1", "0.5", "1.0"), tuple(range(10)),
))
_register(Suite(
    "paper-strong", "edge-popup strong-ticket search: 2 variants x 5 densities x 25 seeds x 3 tasks",
    PAPER_TASKS, STRONG, ("ticket", "0.01", "0.1", "0.5", "1.0"), tuple(range(25)),
))
_register(Suite(
    "smoke", "a tiny grid for tests: 2 tasks at depth 4 width 20, 400 samples, 1 epoch",
    ("circle", "relu"), ("random", "magnitude"), ("ticket", "0.1"), (0,), depth=4, width=20, n_samples=400,
    train=TrainConfig(epochs=1), budget=TrainConfig(epochs=1),
))
