"""``REPRODUCTION.md``: one row per finding of the paper, rendered from stored cells alone (a Jinja2 template,
``templates/reproduction.md.j2``), so ``reproduce --report-only`` re-renders it without running anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import pandas as pd

from plantseek.repro.checks import Outcome
from plantseek.repro.checks import Check
from plantseek.repro.findings import (FINDINGS, NOT_CHECKED, NOT_REPRODUCED, REPRODUCED, UNDECIDED, VERDICTS,
                                      Finding, Variant, verdict)
from plantseek.repro.rules import BEATS_RULE, REPLICATION_RULE, TICKET_RULE, WHY_DENSE, halves, replicated
from plantseek.repro.runner import Coverage
from plantseek.repro.scales import Scale

TEMPLATE = "reproduction.md.j2"


@dataclass(frozen=True)
class Replicated:
    """A check's outcome on all seeds and on each half of the seeds, and the verdict that replication allows."""

    outcome: Outcome  # all seeds
    first: Outcome  # the first half of every grid's seeds
    second: Outcome  # the second half
    verdict: str

    @property
    def deciding(self) -> str:
        """The deciding interval on all seeds, or, where the halves disagree, their verdicts."""
        if self.verdict != UNDECIDED or self.outcome.holds is None:
            return self.outcome.deciding
        return (f"not replicated on both halves: first half {verdict(self.first)}, second half "
                f"{verdict(self.second)}; all seeds {verdict(self.outcome)}: {self.outcome.deciding}")


@dataclass(frozen=True)
class Measured:
    """A variant of a finding (a setting that undoes a documented choice): its outcome and verdict where it is
    built and its grids ran, else why not (``note``)."""

    variant: Variant
    result: Replicated | None
    verdict: str
    note: str = ""


@dataclass(frozen=True)
class Judged:
    """A finding, its check's outcome on the stored cells (all seeds and halves), its verdict, and its variants'."""

    finding: Finding
    result: Replicated
    variants: tuple[Measured, ...] = ()
    split: str = ""  # each grid's halves, in words

    @property
    def outcome(self) -> Outcome:
        return self.result.outcome

    @property
    def verdict(self) -> str:
        return self.result.verdict

    @property
    def deciding(self) -> str:
        return self.result.deciding


def half_views(views: Mapping[str, pd.DataFrame], which: int) -> dict[str, pd.DataFrame]:
    """Every grid's cells restricted to half ``which`` (0 or 1) of that grid's seeds
    (:func:`plantseek.repro.rules.halves`)."""
    out = {}
    for grid, df in views.items():
        keep = halves(int(s) for s in df["seed"])[which] if len(df) else ()
        out[grid] = df[df["seed"].isin(keep)].reset_index(drop=True) if len(df) else df
    return out


def _seed_text(seeds: Sequence[int]) -> str:
    if not seeds:
        return "none"
    return f"{seeds[0]}–{seeds[-1]}" if tuple(seeds) == tuple(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 1 \
        else ", ".join(map(str, seeds))


def split_text(views: Mapping[str, pd.DataFrame], grids: Sequence[str]) -> str:
    """``singleshot: seeds 0–12 | 13–24`` for every grid of ``grids`` that has cells."""
    parts = []
    for g in grids:
        df = views.get(g)
        if df is not None and len(df):
            a, b = halves(int(s) for s in df["seed"])
            parts.append(f"{g}: seeds {_seed_text(a)} | {_seed_text(b)}")
    return "; ".join(parts)


def _judge_check(check: Check, grids: Sequence[str], available: Sequence[str] | None,
                 views: Mapping[str, pd.DataFrame], halves_: Sequence[Mapping[str, pd.DataFrame]]) -> Replicated:
    gone = _not_run(grids, available)
    if gone is not None:
        return Replicated(gone, gone, gone, NOT_CHECKED)
    full, first, second = check(views), check(halves_[0]), check(halves_[1])
    if full.missing:
        return Replicated(full, first, second, NOT_CHECKED)
    holds = replicated(full.holds, first.holds, second.holds)
    return Replicated(full, first, second, UNDECIDED if holds is None else REPRODUCED if holds else NOT_REPRODUCED)


def _not_run(grids: Sequence[str], available: Sequence[str] | None) -> Outcome | None:
    if available is None or set(grids) <= set(available):
        return None
    text = f"grid(s) not run at this scale: {', '.join(sorted(set(grids) - set(available)))}"
    return Outcome(None, (text,), text, missing=True)


def judge(views: Mapping[str, pd.DataFrame], findings: Sequence[Finding] = FINDINGS,
          grids: Sequence[str] | None = None) -> list[Judged]:
    """Every finding's verdict on ``views`` (grid name -> successful cells), replicated on both halves of the seeds
    (:func:`plantseek.repro.rules.replicated`), and its variants'. A finding needing a grid outside ``grids`` (those
    the scale runs; all when None) is not checked."""
    halves_ = (half_views(views, 0), half_views(views, 1))
    out = []
    for f in findings:
        result = _judge_check(f.check, f.grids, grids, views, halves_)
        measured = []
        for v in (f.cause.variants if f.cause else ()):
            if v.check is None:
                measured.append(Measured(v, None, NOT_CHECKED, f"not built: needs {v.needs}"))
                continue
            r = _judge_check(v.check, v.grids, grids, views, halves_)
            measured.append(Measured(v, r, r.verdict))
        out.append(Judged(f, result, tuple(measured), split_text(views, f.grids)))
    return out


def counts(judged: Sequence[Judged]) -> dict[str, int]:
    """How many findings have each verdict (every verdict, zeros included)."""
    return {v: sum(j.verdict == v for j in judged) for v in VERDICTS}


def table_text(text: object) -> str:
    """Text made safe inside a Markdown table cell: one line, ``|`` escaped (the report's text is its own: the
    findings' words and registered task and pruner names)."""
    return " ".join(str(text).split()).replace("|", "\\|")


def render(scale: Scale, judged: Sequence[Judged], cover: Sequence[Coverage], *, store: str,
           command: str) -> str:
    """The report's Markdown."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("plantseek.repro", "templates"), autoescape=False,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["md"] = table_text
    env.filters["verdict"] = verdict
    protocols = sorted({suite.training_protocol for suite in scale.suites().values()})
    return env.get_template(TEMPLATE).render(
        scale=scale, protocols=protocols, judged=judged, cover=cover, store=store, command=command,
        counts=counts(judged), ticket_rule=TICKET_RULE, beats_rule=BEATS_RULE, replication_rule=REPLICATION_RULE,
        why_dense=WHY_DENSE,
        verdicts=VERDICTS)
