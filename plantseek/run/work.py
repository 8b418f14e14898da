"""How much work a grid is, in the units of :mod:`plantseek.core.progress`, and how much of it is done.

A unit is one network trained for one epoch (``train`` ticks). A cell group is one unit for planting its instance,
:func:`prune_weight` units per prune job (a (pruner, density) pair; ablations reuse their pruner's mask) and its
networks' epochs (an upper bound: one network per cell and the dense host; :func:`plantseek.run.group.train_step`
reports the networks it did not need to train as done). A bundle is the sum of its groups. The weights make the
ETA, computed from the units, track time: a prune call of the default suite costs about as much as 17 network-epochs
(1.15 s against 0.067 s, docs/running.md "Progress and the summary"). :class:`WorkDone` is the parent's count:
ticks as they arrive, and, when a bundle ends, at least its whole estimate (so that a bundle whose ticks cannot
reach the parent, on a Dask cluster, still moves the count when it ends, and one that failed early counts its
skipped work as done)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

from plantseek.records.cells import CellConfig
from plantseek.run.bundle import networks_of
from plantseek.run.isolation.pruning import job_key


#: a prune call weighs this many times the weak-training epochs of one network (at least 1 unit)
PRUNE_EPOCHS_FACTOR = 2


def prune_weight(cells: Sequence[CellConfig]) -> int:
    """The units a prune call counts for in a run of ``cells`` (one weight for the run: the largest training)."""
    return max([1] + [PRUNE_EPOCHS_FACTOR * c.train.epochs for c in cells])


def group_work(cells: Sequence[CellConfig], prune_units: int) -> int:
    """The units of one cell group: planting, its prune calls, and its networks' training epochs."""
    return 1 + len({job_key(c) for c in cells}) * prune_units + networks_of(cells) * cells[0].train.epochs


def bundle_work(groups: Sequence[Sequence[CellConfig]], prune_units: int) -> int:
    return sum(group_work(g, prune_units) for g in groups)


#: The ETA stays hidden until this share of the work is done and this many seconds have passed (an early rate,
#: measured over the first instance's planting, extrapolates to absurd times).
ETA_MIN_SHARE = 0.05
ETA_MIN_SECONDS = 10.0


@dataclass
class WorkDone:
    """The work of a run, counted as it is reported: ``done`` never exceeds ``total`` and never moves back."""

    total: int
    groups: int = 0  # cell groups in the run
    prune_units: int = 1  # the units of one prune call (prune_weight)
    ticked: int = 0
    settled: int = 0  # the estimates of the bundles that ended
    planted: int = 0
    started: float = field(default_factory=time.monotonic)

    def tick(self, kind: str, n: int) -> None:
        self.ticked += n * (self.prune_units if kind == "prune" else 1)
        if kind == "plant":
            self.planted += n

    def bundle_done(self, units: int) -> None:
        self.settled += units

    @property
    def done(self) -> int:
        return min(self.total, max(self.ticked, self.settled))

    def eta_seconds(self, now: float | None = None) -> float | None:
        """Seconds left at the rate so far, or None while too little is done to tell."""
        elapsed = (time.monotonic() if now is None else now) - self.started
        if self.total <= 0 or self.done < ETA_MIN_SHARE * self.total or elapsed < ETA_MIN_SECONDS:
            return None
        return elapsed * (self.total - self.done) / self.done


def duration_text(seconds: float | None) -> str:
    """``1h02m``, ``3m05s``, ``42s``; ``?`` for None."""
    if seconds is None:
        return "?"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"
