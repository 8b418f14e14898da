"""``REPRODUCTION.md``: one row per finding of the paper, rendered from stored cells alone (a Jinja2 template,
``templates/reproduction.md.j2``), so ``reproduce --report-only`` re-renders it without running anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import pandas as pd

from plantseek.repro.checks import Outcome
from plantseek.repro.findings import DIFFERS, FINDINGS, NOT_CHECKED, NOT_REPRODUCED, REPRODUCED, Finding, verdict
from plantseek.repro.rules import BEATS_RULE, TICKET_RULE, WHY_DENSE
from plantseek.repro.runner import Coverage
from plantseek.repro.scales import Scale

TEMPLATE = "reproduction.md.j2"
VERDICTS = (REPRODUCED, NOT_REPRODUCED, DIFFERS, NOT_CHECKED)


@dataclass(frozen=True)
class Judged:
    """A finding, its check's outcome on the stored cells, and its verdict."""

    finding: Finding
    outcome: Outcome
    verdict: str


def judge(views: Mapping[str, pd.DataFrame], findings: Sequence[Finding] = FINDINGS,
          grids: Sequence[str] | None = None) -> list[Judged]:
    """Every finding's verdict on ``views`` (grid name -> successful cells). A finding needing a grid outside
    ``grids`` (those the scale runs; all when None) is not checked."""
    out = []
    for f in findings:
        if grids is not None and not set(f.grids) <= set(grids):
            outcome = Outcome(None, (f"grid(s) not run at this scale: {', '.join(sorted(set(f.grids) - set(grids)))}",))
        else:
            outcome = f.check(views)
        out.append(Judged(f, outcome, verdict(f, outcome)))
    return out


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
    counts = {v: sum(j.verdict == v for j in judged) for v in VERDICTS}
    protocols = sorted({suite.training_protocol for suite in scale.suites().values()})
    return env.get_template(TEMPLATE).render(
        scale=scale, protocols=protocols, judged=judged, cover=cover, store=store, command=command, counts=counts,
        ticket_rule=TICKET_RULE, beats_rule=BEATS_RULE, why_dense=WHY_DENSE, verdicts=VERDICTS)
