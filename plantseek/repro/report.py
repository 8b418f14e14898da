"""``REPRODUCTION.md``: one row per finding of the paper, rendered from stored cells alone (a Jinja2 template,
``templates/reproduction.md.j2``), so ``reproduce --report-only`` re-renders it without running anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import pandas as pd

from plantseek.repro.checks import Outcome
from plantseek.repro.findings import FINDINGS, NOT_CHECKED, VERDICTS, Finding, Variant, verdict
from plantseek.repro.rules import BEATS_RULE, TICKET_RULE, WHY_DENSE
from plantseek.repro.runner import Coverage
from plantseek.repro.scales import Scale

TEMPLATE = "reproduction.md.j2"


@dataclass(frozen=True)
class Measured:
    """A variant of a finding (a setting that undoes a documented choice): its outcome and verdict where it is
    built and its grids ran, else why not (``note``)."""

    variant: Variant
    outcome: Outcome | None
    verdict: str
    note: str = ""


@dataclass(frozen=True)
class Judged:
    """A finding, its check's outcome on the stored cells, its verdict, and its variants' verdicts."""

    finding: Finding
    outcome: Outcome
    verdict: str
    variants: tuple[Measured, ...] = ()


def _not_run(grids: Sequence[str], available: Sequence[str] | None) -> Outcome | None:
    if available is None or set(grids) <= set(available):
        return None
    text = f"grid(s) not run at this scale: {', '.join(sorted(set(grids) - set(available)))}"
    return Outcome(None, (text,), text, missing=True)


def judge(views: Mapping[str, pd.DataFrame], findings: Sequence[Finding] = FINDINGS,
          grids: Sequence[str] | None = None) -> list[Judged]:
    """Every finding's verdict on ``views`` (grid name -> successful cells), and its variants'. A finding needing a
    grid outside ``grids`` (those the scale runs; all when None) is not checked."""
    out = []
    for f in findings:
        outcome = _not_run(f.grids, grids) or f.check(views)
        measured = []
        for v in (f.cause.variants if f.cause else ()):
            if v.check is None:
                measured.append(Measured(v, None, NOT_CHECKED, f"not built: needs {v.needs}"))
                continue
            vo = _not_run(v.grids, grids) or v.check(views)
            measured.append(Measured(v, vo, verdict(vo)))
        out.append(Judged(f, outcome, verdict(outcome), tuple(measured)))
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
    protocols = sorted({suite.training_protocol for suite in scale.suites().values()})
    return env.get_template(TEMPLATE).render(
        scale=scale, protocols=protocols, judged=judged, cover=cover, store=store, command=command,
        counts=counts(judged), ticket_rule=TICKET_RULE, beats_rule=BEATS_RULE, why_dense=WHY_DENSE,
        verdicts=VERDICTS)
