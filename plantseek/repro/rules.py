"""The decision rules of the reproduction report, stated once and applied everywhere (pure, torch-free).

A *group* is the cells of one (setting, pruner, density) over seeds; :class:`Stat` is its mean, sample standard
deviation and count. Two rules decide every verdict:

* :func:`matches` ("is a ticket"): a group is a ticket when its mean is worse than the reference's mean by at most
  one standard deviation **of the reference** (better than the reference always matches). The group's own spread
  never helps it: a group with one good seed and two failed ones has a wide spread, not a ticket. The
  reference is the **trained dense host** of the same instances (``dense_weak_metric``: the whole host trained
  with the same protocol, data order and epochs). A *weak* ticket applies the rule to the weak metric, a *strong*
  ticket to the strong metric (untrained, readout fitted per mask): a strong ticket is a subnetwork of the
  untrained host that does what training the host does.
* :func:`beats`: a group is better than another when its mean is better by more than one standard deviation (the
  larger of the two). "At least on par" is the other not being better.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

#: The rules as the report states them (once, in its header).
TICKET_RULE = (
    "**Finds a ticket**: a (setting, pruner, density) finds a *weak* ticket when the mean of its weak metric over "
    "seeds is worse than the mean of the *trained dense host* (the same instances, trained with the same protocol, "
    "data order and epochs) by at most one standard deviation of the trained dense host over seeds; being better "
    "always counts, and the group's own spread never helps it (one good seed among failed ones is no ticket). A "
    "*strong* ticket is the same rule applied to the strong metric (the mask on the untrained host, readout fitted "
    "on the training split): a subnetwork of the untrained host that does what training the whole host does.")
BEATS_RULE = (
    "**Better than**: one group is better than another when its mean is better by more than one standard deviation "
    "(the larger of the two); **at least on par**: the other is not better.")
WHY_DENSE = (
    "Why the trained dense host and not the planted ticket: the ticket's own metric is the task's noise floor, "
    "which ten epochs of training reach for no network on some tasks; measuring against it would mix the question "
    "*did pruning find a good subnetwork* with *can this network be trained at all*. The dense host trained the "
    "same way is what the lottery-ticket literature, the paper included, calls a matching network. The planted "
    "ticket's metric is shown beside every verdict.")


@dataclass(frozen=True)
class Stat:
    """Mean, sample standard deviation (ddof 1; NaN for fewer than 2 values) and count of finite values."""

    mean: float
    sd: float
    n: int

    @property
    def empty(self) -> bool:
        return self.n == 0

    def text(self, spec: str = ".3g") -> str:
        """``mean ± sd (n=N)``; an em dash when empty."""
        if self.empty:
            return "— (n=0)"
        spread = "" if math.isnan(self.sd) else f" ± {format(self.sd, '.2g')}"
        return f"{format(self.mean, spec)}{spread} (n={self.n})"


def stat(values: Iterable[float]) -> Stat:
    """The :class:`Stat` of the finite values among ``values``."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(xs)
    if n == 0:
        return Stat(math.nan, math.nan, 0)
    mean = math.fsum(xs) / n
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else math.nan
    return Stat(mean, sd, n)


def spread(a: Stat, b: Stat) -> float:
    """The larger of the two standard deviations (0 where neither has one)."""
    return max((s for s in (a.sd, b.sd) if not math.isnan(s)), default=0.0)


def worse_by(a: Stat, b: Stat, higher_is_better: bool) -> float:
    """How much ``a``'s mean is worse than ``b``'s (negative: better)."""
    return (b.mean - a.mean) if higher_is_better else (a.mean - b.mean)


def matches(group: Stat, reference: Stat, higher_is_better: bool) -> bool | None:
    """Whether ``group`` is a ticket against ``reference``: worse by at most the reference's standard deviation (0
    for a single seed); None when either is empty."""
    if group.empty or reference.empty:
        return None
    return worse_by(group, reference, higher_is_better) <= (0.0 if math.isnan(reference.sd) else reference.sd)


def beats(a: Stat, b: Stat, higher_is_better: bool) -> bool | None:
    """Whether ``a`` is better than ``b`` by more than one standard deviation; None when either is empty."""
    if a.empty or b.empty:
        return None
    return worse_by(b, a, higher_is_better) > spread(a, b)
