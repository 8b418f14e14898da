"""The checks a finding's verdict runs: pure functions ``view -> Outcome`` over the stored cells of its grids.

``view`` maps a grid name (:mod:`plantseek.repro.scales`) to the frame of that grid's successful cells. A check
returns whether the paper's statement holds on them (True / False / None = the intervals cannot decide it), its
deciding interval in one line, and every group's numbers, one line each; ``missing`` when the cells it needs are
not there (the finding is then *not checked*). Every decision comes from :mod:`plantseek.repro.rules` (bootstrap
intervals over seeds); checks combine them with three-valued logic (:class:`Part`, :func:`conj`, :func:`disj`).
Checks are parametrised by grid and task and combined (:func:`all_of`, :func:`same_as`), so one check serves
several findings (e.g. depth 10 is checked by running the depth-5 checks on the depth-10 grid).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import pandas as pd

from plantseek.repro.evidence import (BELOW_ONE, MODERATE, NONE, collapse_decision, collapse_share, direction,
                                      pruners_of, reference_text, rows, seed_values, sparsest_ticket, task_tolerance,
                                      tasks_of, ticket)
from plantseek.repro.rules import MARK, Decision, all3, any3, better, not3

View = Mapping[str, pd.DataFrame]


@dataclass(frozen=True)
class Part:
    """One three-valued decision with how clearly it decided (``margin``) and its one-line interval."""

    holds: bool | None
    margin: float
    line: str


def part(label: str, decision: Decision, negate: bool = False) -> Part:
    """``decision`` as a :class:`Part` labelled ``label`` (``negate``: the statement is its negation)."""
    holds = not3(decision.holds) if negate else decision.holds
    return Part(holds, decision.margin, f"{label}: {decision.text()} {MARK[holds]}")


def fact(holds: bool | None, line: str) -> Part:
    """A part decided by combining decisions (no interval of its own): ``line`` with its mark."""
    return Part(holds, 0.0, f"{line} {MARK[holds]}")


def conj(parts: Sequence[Part], empty: str = "no groups") -> Part:
    """All hold (Kleene). The deciding line: the clearest failing part, else the first undecided one, else the
    holding part nearest its border."""
    if not parts:
        return Part(True, 0.0, empty)
    holds = all3(p.holds for p in parts)
    if holds is False:
        pick = max((p for p in parts if p.holds is False), key=lambda p: p.margin)
    elif holds is None:
        pick = next(p for p in parts if p.holds is None)
    else:
        pick = min(parts, key=lambda p: p.margin)
    return Part(holds, pick.margin, pick.line)


def disj(parts: Sequence[Part], empty: str = "no groups") -> Part:
    """Some holds (Kleene). The deciding line: the clearest holding part, else the first undecided one, else the
    failing part nearest its border."""
    if not parts:
        return Part(False, 0.0, empty)
    holds = any3(p.holds for p in parts)
    if holds is True:
        pick = max((p for p in parts if p.holds is True), key=lambda p: p.margin)
    elif holds is None:
        pick = next(p for p in parts if p.holds is None)
    else:
        pick = min(parts, key=lambda p: p.margin)
    return Part(holds, pick.margin, pick.line)


@dataclass(frozen=True)
class Outcome:
    """Whether a statement holds on the cells (None: the intervals cannot decide it), the deciding interval in one
    line, every group's numbers, and whether cells are missing (then nothing is decided)."""

    holds: bool | None
    evidence: tuple[str, ...] = ()
    deciding: str = ""
    missing: bool = False


Check = Callable[[View], Outcome]


def _missing(what: str) -> Outcome:
    return Outcome(None, (f"no cells: {what}",), f"no cells: {what}", missing=True)


def _outcome(p: Part, lines: Sequence[str]) -> Outcome:
    return Outcome(p.holds, tuple(lines), p.line)


def weak_somewhere(grid: str, tasks: Sequence[str], specs: Sequence[str] = MODERATE,
                   pruners: Sequence[str] | None = None, every: bool = True) -> Check:
    """Every (or, ``every=False``, some) pruner finds a weak ticket at one of ``specs`` on every task of ``tasks``."""
    def check(view: View) -> Outcome:
        df, per_task, lines = view.get(grid), [], []
        for task in tasks:
            if not len(rows(df, task)):
                return _missing(f"{task} in {grid}")
            lines.append(reference_text(df, task))
            per_pruner = []
            for p in pruners or pruners_of(rows(df, task)):
                ts = [(s, ticket(rows(df, task, p, s), "weak")) for s in specs]
                if any(t.missing for _, t in ts):
                    return _missing(f"{task} · {p} in {grid}")
                per_pruner.append(disj([part(f"{task} · {p} · {s} (weak)", t.decision) for s, t in ts]))
                lines.append(f"{task} · {p}: " + "; ".join(t.text(s) for s, t in ts))
            per_task.append(conj(per_pruner) if every else disj(per_pruner))
        return _outcome(conj(per_task), lines)
    return check


def no_ticket(grid: str, kind: str, tasks: Sequence[str] | None = None, specs: Sequence[str] = BELOW_ONE,
              pruners: Sequence[str] | None = None) -> Check:
    """No pruner finds a ``kind`` ticket at any of ``specs`` on any task (all of the grid's when None)."""
    def check(view: View) -> Outcome:
        df = view.get(grid)
        parts, lines = [], []
        if df is None or not len(df):
            return _missing(grid)
        for task in tasks or tasks_of(df):
            if not len(rows(df, task)):
                return _missing(f"{task} in {grid}")
            lines.append(reference_text(df, task))
            for p in pruners or pruners_of(rows(df, task)):
                ts = [(s, ticket(rows(df, task, p, s), kind)) for s in specs]
                present = [(s, t) for s, t in ts if not t.missing]
                if not present:
                    return _missing(f"{task} · {p} in {grid}")
                parts += [part(f"{task} · {p} · {s} ({kind})", t.decision, negate=True) for s, t in present]
                lines.append(f"{task} · {p} ({kind}): " + "; ".join(t.text(s) for s, t in present))
        return _outcome(conj(parts), lines)
    return check


def all_of(*checks: Check) -> Check:
    """Holds when every check holds; the evidence of all of them."""
    def check(view: View) -> Outcome:
        outcomes = [c(view) for c in checks]
        missing = next((o for o in outcomes if o.missing), None)
        if missing is not None:
            return missing
        lines = [line for o in outcomes for line in o.evidence]
        return _outcome(conj([Part(o.holds, 0.0, o.deciding) for o in outcomes]), lines)
    return check


def same_as(label: str, base: Sequence[tuple[str, Check]], other: Sequence[tuple[str, Check]]) -> Check:
    """Holds when each named check has the same outcome on ``other`` as on ``base`` (the statement "behaves like");
    undecided where either side is."""
    def check(view: View) -> Outcome:
        parts, lines = [], []
        for (name, a), (_, b) in zip(base, other):
            oa, ob = a(view), b(view)
            if oa.missing or ob.missing:
                return oa if oa.missing else ob
            same = None if oa.holds is None or ob.holds is None else oa.holds == ob.holds
            line = f"{name}: reference setting {_yes(oa.holds)}, {label} {_yes(ob.holds)}"
            parts.append(fact(same, line))
            lines.append(parts[-1].line)
        lines += [f"{label}: {line}" for _, b in other for line in b(view).evidence]
        return _outcome(conj(parts), lines)
    return check


def _yes(holds: bool | None) -> str:
    return {True: "holds", False: "does not hold", None: "undecided"}[holds]


def magnitude_on_par(grid: str, others: Sequence[str] = ("snip", "grasp", "synflow"),
                     specs: Sequence[str] = MODERATE) -> Check:
    """None of ``others`` is better than magnitude (weak metric, :func:`~plantseek.repro.rules.better`, paired by
    seed, the task's tolerance) at ``specs`` on any task: magnitude at least on par."""
    def check(view: View) -> Outcome:
        df, parts, lines = view.get(grid), [], []
        if not len(rows(df, None, "magnitude")):
            return _missing(f"magnitude in {grid}")
        for task in tasks_of(df):
            t = rows(df, task)
            hib, tol = direction(t), task_tolerance(t)
            lines.append(reference_text(df, task))
            for spec in specs:
                mag = seed_values(rows(t, None, "magnitude", spec), "weak_metric")
                for other in others:
                    o = seed_values(rows(t, None, other, spec), "weak_metric")
                    if not mag or not o:
                        return _missing(f"{task} · {other} or magnitude · {spec} in {grid}")
                    d = better(o, mag, tol, hib)
                    p = part(f"{task} · {spec} · {other} over magnitude (weak)", d, negate=True)
                    parts.append(p)
                    lines.append(p.line)
        return _outcome(conj(parts), lines) if parts else _missing(grid)
    return check


def collapse(grids: Sequence[str], specs: Sequence[str] = ("ticket",), pruners: Sequence[str] | None = None
             ) -> Check:
    """Most masks of every pruner at ``specs`` have no input-to-output path (layer collapse): the per-seed share of
    collapsed cells (over tasks) above 0.5."""
    def check(view: View) -> Outcome:
        parts, lines = [], []
        for grid in grids:
            df = view.get(grid)
            if df is None or not len(df):
                return _missing(grid)
            for p in pruners or pruners_of(df):
                for spec in specs:
                    cells = rows(df, None, p, spec)
                    if not len(cells):
                        return _missing(f"{p} · {spec} in {grid}")
                    q = part(f"{p} · {spec} collapsed", collapse_decision(cells))
                    parts.append(q)
                    lines.append(f"{q.line} (layer collapse in {collapse_share(cells):.0%} of {len(cells)} cells, "
                                 f"all tasks)")
        return _outcome(conj(parts), lines)
    return check


def _order(spec: str | None) -> int | None:
    return None if spec is None else (BELOW_ONE + (NONE,)).index(spec)


def sparser_than(multi: Mapping[str, str], multi_grid: str, single_grid: str, task: str, best: str) -> Check:
    """Each multi-shot pruner (``multi`` maps it to its single-shot counterpart) finds a weak ticket on ``task`` at a
    sparser density than its counterpart, and ``best`` is the sparsest of all and reaches the ticket density.
    A sparsest density behind an undecided group is undecided."""
    def check(view: View) -> Outcome:
        ms, ss = view.get(multi_grid), view.get(single_grid)
        if not len(rows(ms, task)) or not len(rows(ss, task)):
            return _missing(f"{task} in {multi_grid} or {single_grid}")
        parts, lines, reach = [], [reference_text(ms, task)], {}
        for m, s in multi.items():
            if not len(rows(ms, task, m)) or not len(rows(ss, task, s)):
                return _missing(f"{task} · {m} or {s}")
            a, b = sparsest_ticket(ms, task, m), sparsest_ticket(ss, task, s)
            reach[m] = _order(a)
            oa, ob = _order(a), _order(b)
            line = f"{task}: sparsest weak ticket of {m} {a or 'undecided'} vs {s} {b or 'undecided'}"
            parts.append(fact(None if oa is None or ob is None else oa < ob, line))
            lines.append(parts[-1].line)
        known = [r for r in reach.values() if r is not None]
        if reach.get(best) == 0:
            best_holds: bool | None = True  # nothing is sparser than the ticket density
        elif reach.get(best) is None:
            best_holds = None
        else:
            best_holds = False
        parts.append(fact(best_holds, f"{task}: {best} reaches the ticket density: {_yes(best_holds)}"
                          + ("" if len(known) == len(reach) else " (some pruners undecided)")))
        lines.append(parts[-1].line)
        for m in multi:
            lines.append(f"{task} · {m}: " + "; ".join(ticket(rows(ms, task, m, sp), "weak").text(sp)
                                                       for sp in BELOW_ONE))
        return _outcome(conj(parts), lines)
    return check


def poorest_with_early_collapse(grid: str, pruner: str) -> Check:
    """``pruner`` finds fewer weak tickets (over tasks and densities) than every other pruner of the grid, and its
    masks collapse (majority) at a density where no other pruner's do; counts bounded by undecided groups."""
    def check(view: View) -> Outcome:
        df = view.get(grid)
        if df is None or not len(rows(df, None, pruner)):
            return _missing(f"{pruner} in {grid}")
        found = {p: [ticket(rows(df, t, p, s), "weak").found for t in tasks_of(df) for s in BELOW_ONE]
                 for p in pruners_of(df)}
        low = {p: sum(f is True for f in fs) for p, fs in found.items()}
        high = {p: sum(f is not False for f in fs) for p, fs in found.items()}
        others = [p for p in found if p != pruner]
        if all(high[pruner] < low[p] for p in others):
            fewest: bool | None = True
        elif any(low[pruner] >= high[p] for p in others):
            fewest = False
        else:
            fewest = None
        counts = ", ".join(f"{p} {low[p]}–{high[p]}" if low[p] != high[p] else f"{p} {low[p]}" for p in found)
        collapsed = {(p, s): collapse_decision(rows(df, None, p, s)) for p in found for s in BELOW_ONE}
        early = any3(all3([collapsed[pruner, s].holds] + [not3(collapsed[p, s].holds) for p in others])
                     for s in BELOW_ONE)
        lines = [f"weak tickets found (task × density, of {len(tasks_of(df)) * len(BELOW_ONE)}; a range where "
                 f"groups are undecided): {counts}"]
        lines += [f"layer collapse at {s}: " + ", ".join(f"{p} {collapse_share(rows(df, None, p, s)):.0%} "
                                                         f"{collapsed[p, s].mark()}" for p in found)
                  for s in BELOW_ONE]
        holds = all3([fewest, early])
        deciding = (f"fewest weak tickets: {_yes(fewest)} ({counts}); collapse where no other pruner's masks do: "
                    f"{_yes(early)} {MARK[holds]}")
        return Outcome(holds, tuple(lines), deciding)
    return check


def best_density(grid: str, tasks: Sequence[str], spec: str) -> Check:
    """On each task the sparsest weak ticket of any pruner of the grid is at density ``spec``."""
    def check(view: View) -> Outcome:
        df, parts, lines = view.get(grid), [], []
        for task in tasks:
            if not len(rows(df, task)):
                return _missing(f"{task} in {grid}")
            found = {p: sparsest_ticket(df, task, p) for p in pruners_of(rows(df, task))}
            orders = [_order(s) for s in found.values()]
            line = f"{task}: sparsest weak ticket per pruner: " + ", ".join(
                f"{p} {s or 'undecided'}" for p, s in found.items())
            target = _order(spec)
            decided = [o for o in orders if o is not None]
            if len(decided) == len(orders):
                holds: bool | None = min(decided) == target
            elif target is not None and any(o < target for o in decided):
                holds = False  # a decided ticket sparser than spec
            else:
                holds = None
            parts.append(fact(holds, line))
            lines.append(parts[-1].line)
        return _outcome(conj(parts), lines)
    return check


def strong_only_at(grid: str, task: str, pruner: str, spec: str) -> Check:
    """``pruner`` finds a strong ticket on ``task`` at ``spec`` and at no other density below 1."""
    def check(view: View) -> Outcome:
        df = view.get(grid)
        ts = {s: ticket(rows(df, task, pruner, s), "strong") for s in BELOW_ONE}
        if any(t.missing for t in ts.values()):
            return _missing(f"{task} · {pruner} in {grid}")
        parts = [part(f"{task} · {pruner} · {s} (strong)", t.decision, negate=s != spec) for s, t in ts.items()]
        return _outcome(conj(parts), (reference_text(df, task),
                                      f"{task} · {pruner} (strong): " + "; ".join(t.text(s) for s, t in ts.items())))
    return check


def beats_untrained_host(grid: str, task: str, pruner: str, spec: str) -> Check:
    """``pruner``'s strong metric at ``spec`` is better than the untrained dense host's (``dense_metric``, the same
    fitted readout) by more than the task's tolerance: "reasonable", short of a ticket."""
    def check(view: View) -> Outcome:
        group = rows(view.get(grid), task, pruner, spec)
        if not len(group):
            return _missing(f"{task} · {pruner} · {spec} in {grid}")
        d = better(seed_values(group, "strong_metric"), seed_values(group, "dense_metric"), task_tolerance(group),
                   direction(group))
        p = part(f"{task} · {pruner} · {spec} strong over the untrained dense host", d)
        return _outcome(p, (reference_text(view[grid], task), p.line,
                            f"strong ticket: {ticket(group, 'strong').text(spec)}"))
    return check


def not_checked(reason: str) -> Check:
    """A finding plantseek has no setting for."""
    def check(view: View) -> Outcome:
        return Outcome(None, (reason,), reason, missing=True)
    return check
