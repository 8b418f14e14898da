"""The decision rules of the reproduction report, stated once and applied everywhere (pure, torch-free).

Every verdict rests on a **paired bootstrap interval over seeds**. A seed is one instance (host, planted ticket,
data); two groups of cells on the same seeds are paired seed by seed. Metrics are compared on an *oriented* scale
where higher is better: accuracy as it is, regression MSE as ``-log10(MSE)`` (decades; MSE floored at
:data:`MSE_FLOOR`). All differences are reported in the metric's own direction as a **shortfall** (how much worse)
or an **advantage** (how much better): accuracy points, or decades of MSE.

* :func:`interval`: the percentile bootstrap interval (:data:`LEVEL`, :data:`RESAMPLES` resamples of the seeds
  with replacement, generator seeded with :data:`BOOTSTRAP_SEED`) of the mean of per-seed values. Fewer than
  :data:`MIN_SEEDS` paired seeds decide nothing.
* :func:`tolerance`: ``TAU * |dense - ticket|``, the gap between the trained dense host and the planted ticket on
  the oriented scale (seed means). "Within the noise of a good network" then means the same on every task: a
  group may fall short of the trained dense host by at most the dense host's own distance from the optimum.
* :func:`within` ("is a ticket"): the interval of the per-seed shortfall of the group against the trained dense
  host lies at or below the tolerance -> yes; above it entirely -> no; otherwise undecided.
* :func:`better` ("better than"): the interval of the per-seed advantage of one group over another lies above the
  tolerance entirely -> yes; at or below it -> no (at least on par, seen from the other); otherwise undecided.
* :func:`exceeds` (a share, e.g. of collapsed masks): the interval of the per-seed share lies above the threshold
  -> yes; at or below it -> no; otherwise undecided.

Each returns a :class:`Decision` (True / False / None = undecided) carrying its deciding interval; findings combine
decisions with Kleene's three-valued logic (:func:`all3`, :func:`any3`, :func:`not3`): a finding none of whose
intervals can decide it is **undecided at this scale**. No correction for multiple comparisons: every interval is
a 95 % interval on its own, and the report shows them all.

**Replication** (:func:`halves`, :func:`replicated`): a finding is decided (reproduced / not reproduced) only when
its check gives that same verdict on all seeds *and* on each of two disjoint halves of the seeds (each grid's seeds
in increasing order, split at the middle; the first half takes the odd one out); otherwise it is undecided at this
scale. A decided verdict therefore never flips between two disjoint seed sets, and deciding anything takes at least
``2 * MIN_SEEDS`` seeds per grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence


from plantseek.stats.intervals import bootstrap_interval

#: The rule's constants, chosen before any verdict was computed under them (and stated in the report).
LEVEL = 0.95
RESAMPLES = 10_000
BOOTSTRAP_SEED = 0
MIN_SEEDS = 5
TAU = 1.0
MSE_FLOOR = 1e-12

TICKET_RULE = (
    f"**Finds a ticket**: per seed, the *shortfall* of the group against the **trained dense host** of the same "
    f"instance (the whole host trained with the same protocol, data order and epochs) on an oriented scale: "
    f"accuracy points, or decades of MSE (log10; MSE floored at {MSE_FLOOR:g}). A group finds a ticket when the "
    f"{LEVEL:.0%} percentile-bootstrap interval of the mean shortfall over seeds ({RESAMPLES:,} resamples of the "
    f"seeds, generator seed {BOOTSTRAP_SEED}) lies at or below the **tolerance** τ·|dense − ticket| with τ = {TAU:g}: "
    f"the gap between the trained dense host and the planted ticket (seed means, same scale), so a ticket falls "
    f"short of the trained dense host by at most the dense host's own distance from the planted optimum, on every "
    f"task alike. It finds none when the interval lies above the tolerance entirely; otherwise the group is "
    f"undecided. A *weak* ticket applies this to the weak metric (trained mask), a *strong* ticket to the strong "
    f"metric (the mask on the untrained host, readout fitted on the training split).")
REPLICATION_RULE = (
    f"**Replication**: a finding is *reproduced* or *not reproduced* only when its check gives that same verdict on "
    f"all seeds and on each of two disjoint halves of the seeds (each grid's seeds in increasing order split at the "
    f"middle, the first half taking the odd one out); otherwise it is **undecided at this scale**, with the halves' "
    f"verdicts beside it. So a verdict never flips between two disjoint seed sets, and deciding anything takes at "
    f"least {2 * MIN_SEEDS} seeds per grid.")
BEATS_RULE = (
    f"**Better than**: per seed, the *advantage* of one group over another (same scale); better when its "
    f"interval lies above the same tolerance entirely, **at least on par** (not better) when it lies at or below "
    f"it, undecided otherwise. **Most masks collapse**: the interval of the per-seed share of collapsed masks lies "
    f"above 0.5. Fewer than {MIN_SEEDS} paired seeds decide nothing. A finding combines its intervals with "
    f"three-valued logic: it is *reproduced* or *not reproduced* only where the intervals decide it, otherwise "
    f"**undecided at this scale**. Every interval is a {LEVEL:.0%} interval on its own (no multiple-comparison "
    f"correction); all of them are listed under each finding.")
WHY_DENSE = (
    "Why the trained dense host and not the planted ticket as the reference: the ticket's own metric is the task's "
    "noise floor, which ten epochs of training reach for no network on some tasks; measuring against it would mix "
    "the question *did pruning find a good subnetwork* with *can this network be trained at all*. The ticket enters "
    "through the tolerance instead (the dense host's distance from it).")


# ---------------------------------------------------------------------------------------------------------------
# display statistics (mean ± sd), not used by any decision


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
        return "— (n=0)" if self.empty else f"{self.brief(spec)} (n={self.n})"

    def brief(self, spec: str = ".3g") -> str:
        """``mean ± sd``; an em dash when empty."""
        if self.empty:
            return "—"
        spread = "" if math.isnan(self.sd) else f" ± {format(self.sd, '.2g')}"
        return f"{format(self.mean, spec)}{spread}"


def stat(values: Iterable[float]) -> Stat:
    """The :class:`Stat` of the finite values among ``values``."""
    xs = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    n = len(xs)
    if n == 0:
        return Stat(math.nan, math.nan, 0)
    mean = math.fsum(xs) / n
    sd = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else math.nan
    return Stat(mean, sd, n)


# ---------------------------------------------------------------------------------------------------------------
# the rules

PerSeed = Mapping[int, float]


def oriented(value: float, higher_is_better: bool) -> float:
    """``value`` on the oriented scale (higher is better): accuracy as is, MSE as ``-log10(max(MSE, floor))``;
    NaN for a non-finite or (MSE) negative value."""
    v = float(value)
    if not math.isfinite(v):
        return math.nan
    if higher_is_better:
        return v
    return math.nan if v < 0 else -math.log10(max(v, MSE_FLOOR))


def unit(higher_is_better: bool) -> str:
    return "accuracy" if higher_is_better else "decades of MSE"


@dataclass(frozen=True)
class Interval:
    """The seed mean of paired per-seed values and its bootstrap interval."""

    estimate: float
    low: float
    high: float
    n: int

    def text(self) -> str:
        return f"{self.estimate:+.3g} [{self.low:+.3g}, {self.high:+.3g}] (n={self.n})"


def interval(values: Sequence[float], *, level: float = LEVEL, resamples: int = RESAMPLES,
             seed: int = BOOTSTRAP_SEED) -> Interval:
    """The percentile bootstrap interval of the mean of ``values`` (finite ones; NaN bounds for none, and for one
    value): :func:`plantseek.stats.intervals.bootstrap_interval` at this report's level and resamples."""
    iv = bootstrap_interval(values, confidence=level, n_resamples=resamples, seed=seed)
    return Interval(iv.mean, iv.low, iv.high, iv.n)


def paired(a: PerSeed, b: PerSeed, higher_is_better: bool) -> list[float]:
    """Per seed present in both with finite values: oriented(a) - oriented(b) (how much better ``a`` is)."""
    out = []
    for seed in sorted(set(a) & set(b)):
        d = oriented(a[seed], higher_is_better) - oriented(b[seed], higher_is_better)
        if math.isfinite(d):
            out.append(d)
    return out


def tolerance(dense: PerSeed, ticket: PerSeed, higher_is_better: bool, tau: float = TAU) -> float:
    """``tau * |mean oriented(dense) - mean oriented(ticket)|`` (NaN when either has no finite value)."""
    def mean(xs: PerSeed) -> float:
        vs = [oriented(v, higher_is_better) for v in xs.values()]
        vs = [v for v in vs if math.isfinite(v)]
        return math.fsum(vs) / len(vs) if vs else math.nan
    return tau * abs(mean(dense) - mean(ticket))


@dataclass(frozen=True)
class Decision:
    """A three-valued decision (None: undecided) and the interval that decided it against ``threshold``.

    ``measure`` names the interval (``shortfall``, ``advantage``, ``share``); ``margin`` is how clearly it decided,
    in units of the threshold where it is positive (0 when undecided)."""

    holds: bool | None
    measure: str
    interval: Interval
    threshold: float
    units: str = ""

    @property
    def margin(self) -> float:
        if self.holds is None:
            return 0.0
        iv = self.interval
        gap = (self.threshold - iv.high) if iv.high <= self.threshold else (iv.low - self.threshold)
        return gap / self.threshold if self.threshold > 0 else gap

    def mark(self) -> str:
        return MARK[self.holds]

    def word(self) -> str:
        """What was decided, in words: ``ticket`` / ``no ticket`` (shortfall), ``better`` / ``not better``
        (advantage), ``most`` / ``not most`` (share), ``undecided``."""
        if self.holds is None:
            return "undecided"
        yes = {"shortfall": "ticket", "advantage": "better", "share": "most"}[self.measure]
        return yes if self.holds else f"no {yes}" if yes == "ticket" else f"not {yes}"

    def text(self) -> str:
        """``shortfall +0.01 [-0.002, +0.02] (n=25) ≤ 0.022 accuracy → ticket`` (the comparison the rule made)."""
        if self.interval.n < MIN_SEEDS:
            return f"{self.measure} {self.interval.text()}: fewer than {MIN_SEEDS} seeds → undecided"
        if not math.isfinite(self.threshold):
            return f"{self.measure} {self.interval.text()}: no tolerance → undecided"
        iv = self.interval
        op = "≤" if iv.high <= self.threshold else ">" if iv.low > self.threshold else "straddles"
        return f"{self.measure} {iv.text()} {op} {self.threshold:.3g}{self.units} → {self.word()}"


MARK = {True: "✓", False: "✗", None: "?"}


def _decide(values: Sequence[float], threshold: float, measure: str, units: str) -> Decision:
    iv = interval(values)
    if iv.n < MIN_SEEDS or not math.isfinite(threshold):
        return Decision(None, measure, iv, threshold, units)
    low_side = measure == "shortfall"
    if iv.high <= threshold:
        holds: bool | None = low_side
    elif iv.low > threshold:
        holds = not low_side
    else:
        holds = None
    return Decision(holds, measure, iv, threshold, units)


def within(group: PerSeed, reference: PerSeed, tol: float, higher_is_better: bool) -> Decision:
    """Whether ``group`` is a ticket against ``reference`` (paired by seed): shortfall interval vs ``tol``."""
    return _decide(paired(reference, group, higher_is_better), tol, "shortfall", f" {unit(higher_is_better)}")


def better(a: PerSeed, b: PerSeed, tol: float, higher_is_better: bool) -> Decision:
    """Whether ``a`` is better than ``b`` (paired by seed) by more than ``tol``: advantage interval vs ``tol``."""
    return _decide(paired(a, b, higher_is_better), tol, "advantage", f" {unit(higher_is_better)}")


def exceeds(shares: PerSeed, threshold: float = 0.5) -> Decision:
    """Whether the mean per-seed ``shares`` exceed ``threshold``: share interval vs ``threshold``."""
    return _decide([float(v) for _, v in sorted(shares.items())], threshold, "share", "")


# ---------------------------------------------------------------------------------------------------------------
# replication


def halves(seeds: Iterable[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The seeds in increasing order split at the middle (the first half takes the odd one out)."""
    ordered = tuple(sorted(set(seeds)))
    cut = (len(ordered) + 1) // 2
    return ordered[:cut], ordered[cut:]


def replicated(full: bool | None, first: bool | None, second: bool | None) -> bool | None:
    """A three-valued outcome that stands only where both halves give it too (else None)."""
    return full if full is not None and full == first == second else None


# ---------------------------------------------------------------------------------------------------------------
# three-valued logic


def not3(x: bool | None) -> bool | None:
    return None if x is None else not x


def all3(xs: Iterable[bool | None]) -> bool | None:
    """Kleene conjunction: False if any is False, True if all are True, else None (True for none)."""
    xs = list(xs)
    if any(x is False for x in xs):
        return False
    return True if all(x is True for x in xs) else None


def any3(xs: Iterable[bool | None]) -> bool | None:
    """Kleene disjunction: True if any is True, False if all are False, else None (False for none)."""
    xs = list(xs)
    if any(x is True for x in xs):
        return True
    return False if all(x is False for x in xs) else None
