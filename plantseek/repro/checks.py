"""The checks a finding's verdict runs: pure functions ``view -> Outcome`` over the stored cells of its grids.

``view`` maps a grid name (:mod:`plantseek.repro.scales`) to the frame of that grid's successful cells. A check
returns whether the paper's statement holds on them (None when cells are missing) and the deciding numbers, one
line each. Checks are parametrised by grid and task and combined (:func:`all_of`, :func:`same_as`), so one check
serves several findings (e.g. depth 10 is checked by running the depth-5 checks on the depth-10 grid).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import pandas as pd

from plantseek.repro.evidence import (BELOW_ONE, MODERATE, collapse_share, direction, per_seed,
                                      pruners_of, reference_text, rows, sparsest_ticket, tasks_of, ticket)
from plantseek.repro.rules import beats, stat

View = Mapping[str, pd.DataFrame]


@dataclass(frozen=True)
class Outcome:
    """Whether a statement holds on the cells (None: not decidable, cells missing) and the deciding numbers."""

    holds: bool | None
    evidence: tuple[str, ...] = ()


Check = Callable[[View], Outcome]


def _missing(what: str) -> Outcome:
    return Outcome(None, (f"no cells: {what}",))


def _conclude(results: Sequence[bool | None], lines: list[str]) -> Outcome:
    if not results or any(r is None for r in results):
        return Outcome(None, tuple(lines) or ("no cells",))
    return Outcome(all(results), tuple(lines))


def weak_somewhere(grid: str, tasks: Sequence[str], specs: Sequence[str] = MODERATE,
                   pruners: Sequence[str] | None = None, every: bool = True) -> Check:
    """Every (or, ``every=False``, some) pruner finds a weak ticket at one of ``specs`` on every task of ``tasks``."""
    def check(view: View) -> Outcome:
        df, results, lines = view.get(grid), [], []
        for task in tasks:
            names = pruners or pruners_of(rows(df, task))
            if not len(rows(df, task)):
                return _missing(f"{task} in {grid}")
            lines.append(reference_text(df, task))
            found = []
            for p in names:
                ts = [(s, ticket(rows(df, task, p, s), "weak")) for s in specs]
                found.append(any(t.found for _, t in ts) if all(t.found is not None for _, t in ts) else None)
                lines.append(f"{task} · {p}: " + "; ".join(t.text(s) for s, t in ts))
            results.append(None if None in found else (all(found) if every else any(found)))
        return _conclude(results, lines)
    return check


def no_ticket(grid: str, kind: str, tasks: Sequence[str] | None = None, specs: Sequence[str] = BELOW_ONE,
              pruners: Sequence[str] | None = None) -> Check:
    """No pruner finds a ``kind`` ticket at any of ``specs`` on any task (all of the grid's when None)."""
    def check(view: View) -> Outcome:
        df = view.get(grid)
        results, lines = [], []
        if df is None or not len(df):
            return _missing(grid)
        for task in tasks or tasks_of(df):
            if not len(rows(df, task)):
                return _missing(f"{task} in {grid}")
            lines.append(reference_text(df, task))
            for p in pruners or pruners_of(rows(df, task)):
                ts = [(s, ticket(rows(df, task, p, s), kind)) for s in specs]
                found = [t.found for _, t in ts if t.found is not None]
                results.append(not any(found) if found else None)
                shown = [t.text(s) for s, t in ts if t.found is not None]
                lines.append(f"{task} · {p} ({kind}): " + "; ".join(shown))
        return _conclude(results, lines)
    return check


def all_of(*checks: Check) -> Check:
    """Holds when every check holds; the evidence of all of them."""
    def check(view: View) -> Outcome:
        outcomes = [c(view) for c in checks]
        return _conclude([o.holds for o in outcomes], [line for o in outcomes for line in o.evidence])
    return check


def same_as(label: str, base: Sequence[tuple[str, Check]], other: Sequence[tuple[str, Check]]) -> Check:
    """Holds when each named check has the same outcome on ``other`` as on ``base`` (the statement "behaves like")."""
    def check(view: View) -> Outcome:
        results, lines = [], []
        for (name, a), (_, b) in zip(base, other):
            oa, ob = a(view), b(view)
            results.append(None if oa.holds is None or ob.holds is None else oa.holds == ob.holds)
            lines.append(f"{name}: reference setting {_yes(oa.holds)}, {label} {_yes(ob.holds)}")
        lines += [f"{label}: {line}" for _, b in other for line in b(view).evidence]
        return _conclude(results, lines)
    return check


def _yes(holds: bool | None) -> str:
    return {True: "holds", False: "does not hold", None: "not decidable"}[holds]


def magnitude_on_par(grid: str, others: Sequence[str] = ("snip", "grasp", "synflow"),
                     specs: Sequence[str] = MODERATE) -> Check:
    """None of ``others`` is better than magnitude (weak metric, :func:`~plantseek.repro.rules.beats`) at ``specs``
    on any task: magnitude at least on par."""
    def check(view: View) -> Outcome:
        df, results, lines = view.get(grid), [], []
        if not len(rows(df, None, "magnitude")):
            return _missing(f"magnitude in {grid}")
        for task in tasks_of(df):
            hib = direction(rows(df, task))
            for spec in specs:
                mag = stat(rows(df, task, "magnitude", spec)["weak_metric"])
                for other in others:
                    o = stat(rows(df, task, other, spec)["weak_metric"])
                    worse, better = beats(o, mag, hib), beats(mag, o, hib)
                    results.append(None if worse is None else not worse)
                    word = "?" if worse is None else f"{other} better" if worse else \
                        "magnitude better" if better else "on par"
                    lines.append(f"{task} · {spec}: magnitude {mag.text()} vs {other} {o.text()}: {word}")
        return _conclude(results, lines) if results else _missing(grid)
    return check


def collapse(grids: Sequence[str], specs: Sequence[str] = ("ticket",), pruners: Sequence[str] | None = None
             ) -> Check:
    """Most cells (share > 0.5) of every pruner at ``specs`` have no input-to-output path (layer collapse)."""
    def check(view: View) -> Outcome:
        results, lines = [], []
        for grid in grids:
            df = view.get(grid)
            for p in pruners or pruners_of(df):
                for spec in specs:
                    cells = rows(df, None, p, spec)
                    share = collapse_share(cells)
                    results.append(None if share != share else share > 0.5)
                    lines.append(f"{p} · {spec}: layer collapse in {share:.0%} of {len(cells)} cells (all tasks)"
                                 if share == share else f"{p} · {spec}: no cells")
        return _conclude(results, lines)
    return check


def sparser_than(multi: Mapping[str, str], multi_grid: str, single_grid: str, task: str, best: str) -> Check:
    """Each multi-shot pruner (``multi`` maps it to its single-shot counterpart) finds a weak ticket on ``task`` at a
    sparser density than its counterpart, and ``best`` is the sparsest of all and reaches the ticket density."""
    def check(view: View) -> Outcome:
        ms, ss = view.get(multi_grid), view.get(single_grid)
        if not len(rows(ms, task)) or not len(rows(ss, task)):
            return _missing(f"{task} in {multi_grid} or {single_grid}")
        order = {s: i for i, s in enumerate(BELOW_ONE + ("none",))}
        results, lines, reach = [], [reference_text(ms, task)], {}
        for m, s in multi.items():
            a, b = sparsest_ticket(ms, task, m) or "none", sparsest_ticket(ss, task, s) or "none"
            reach[m] = order[a]
            results.append(order[a] < order[b])
            lines.append(f"{task}: sparsest weak ticket of {m} {a} vs {s} {b}")
        results.append(reach.get(best) == 0 and reach[best] == min(reach.values()))
        for m in multi:
            lines.append(f"{task} · {m}: " + "; ".join(ticket(rows(ms, task, m, sp), "weak").text(sp)
                                                       for sp in BELOW_ONE))
        return _conclude(results, lines)
    return check


def poorest_with_early_collapse(grid: str, pruner: str) -> Check:
    """``pruner`` finds fewer weak tickets (over tasks and densities) than every other pruner of the grid, and its
    masks collapse (majority) at a density where no other pruner's do."""
    def check(view: View) -> Outcome:
        df = view.get(grid)
        if df is None or not len(rows(df, None, pruner)):
            return _missing(f"{pruner} in {grid}")
        count = {p: sum(bool(ticket(rows(df, t, p, s), "weak").found) for t in tasks_of(df) for s in BELOW_ONE)
                 for p in pruners_of(df)}
        fewest = all(count[pruner] < c for p, c in count.items() if p != pruner)
        early = [s for s in BELOW_ONE if collapse_share(rows(df, None, pruner, s)) > 0.5
                 and all(not collapse_share(rows(df, None, p, s)) > 0.5 for p in count if p != pruner)]
        lines = [f"weak tickets found (task × density, of {len(tasks_of(df)) * len(BELOW_ONE)}): "
                 + ", ".join(f"{p} {c}" for p, c in count.items())]
        lines += [f"layer collapse at {s}: " + ", ".join(f"{p} {collapse_share(rows(df, None, p, s)):.0%}"
                                                         for p in count) for s in BELOW_ONE]
        return Outcome(fewest and bool(early), tuple(lines))
    return check


def best_density(grid: str, tasks: Sequence[str], spec: str) -> Check:
    """On each task the sparsest weak ticket of any pruner of the grid is at density ``spec``."""
    def check(view: View) -> Outcome:
        df, results, lines = view.get(grid), [], []
        for task in tasks:
            if not len(rows(df, task)):
                return _missing(f"{task} in {grid}")
            found = {p: sparsest_ticket(df, task, p) for p in pruners_of(rows(df, task))}
            order = [s for s in BELOW_ONE if s in found.values()]
            results.append(bool(order) and order[0] == spec)
            lines.append(f"{task}: sparsest weak ticket per pruner: "
                         + ", ".join(f"{p} {s or 'none'}" for p, s in found.items()))
        return _conclude(results, lines)
    return check


def strong_only_at(grid: str, task: str, pruner: str, spec: str) -> Check:
    """``pruner`` finds a strong ticket on ``task`` at ``spec`` and at no other density below 1."""
    def check(view: View) -> Outcome:
        df = view.get(grid)
        ts = {s: ticket(rows(df, task, pruner, s), "strong") for s in BELOW_ONE}
        if any(t.found is None for t in ts.values()):
            return _missing(f"{task} · {pruner} in {grid}")
        holds = bool(ts[spec].found) and not any(t.found for s, t in ts.items() if s != spec)
        return Outcome(holds, (reference_text(df, task),
                               f"{task} · {pruner} (strong): " + "; ".join(t.text(s) for s, t in ts.items())))
    return check


def beats_untrained_host(grid: str, task: str, pruner: str, spec: str) -> Check:
    """``pruner``'s strong metric at ``spec`` is better than the untrained dense host's (``dense_metric``, the same
    fitted readout) by more than one standard deviation: "reasonable", short of a ticket."""
    def check(view: View) -> Outcome:
        group = rows(view.get(grid), task, pruner, spec)
        if not len(group):
            return _missing(f"{task} · {pruner} · {spec} in {grid}")
        s, host = stat(group["strong_metric"]), per_seed(group, "dense_metric")
        better = beats(s, host, direction(group))
        return Outcome(better, (f"{task} · {pruner} · {spec}: strong {s.text()} vs untrained dense host {host.text()}",
                                f"strong ticket: {ticket(group, 'strong').mark()} (trained dense host "
                                f"{ticket(group, 'strong').reference.text()})"))
    return check


def not_checked(reason: str) -> Check:
    """A finding plantseek has no setting for."""
    def check(view: View) -> Outcome:
        return Outcome(None, (reason,))
    return check
