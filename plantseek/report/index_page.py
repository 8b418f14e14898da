"""index.html of the leaderboard: a compact page that answers "which method is best here?" in seconds.

At the top, one answer per (setting, requested density) (:func:`plantseek.stats.leaders.leaders`): the leader and the
runner-up by recall and by weak metric, each mean with its interval on its own line, and whether the lead is
significant (a paired test over seeds, never a single mean). Filters by task family, task, density and protocol
choose the answers and the overall ranking shown (a ranking per family and per task, precomputed; the protocol
filter keeps that protocol's rows and answers within it). Below: the public vs hidden table when there are hidden
cells, and links to one page per setting (:mod:`plantseek.report.setting_page`) and to ``all.html``, the complete
page (:mod:`plantseek.report.page`). The answers and the ranking use the published cells
(:func:`plantseek.frame.leak.published_cells`: hidden ones when there are any).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import numpy as np
import pandas as pd

from plantseek.families.registry import family_order
from plantseek.frame.labels import spec_key
from plantseek.frame.leak import published_cells
from plantseek.frame.prepared import competitors, prepared
from plantseek.report.format import density_label, fmt, h, metric_label
from plantseek.report.page import gap_cells, ranking_cells, static_text, environment
from plantseek.report.provenance import board_note, provenance_line, submitted_sources
from plantseek.report.rules import COMPUTE_NOTE, RANKING_RULE
from plantseek.report.tables import ranking
from plantseek.stats.gap import GAP_RULE, public_hidden_gap
from plantseek.stats.intervals import NO_INTERVAL
from plantseek.stats.leaders import LEAD_RULE, leaders

TEMPLATE = "index.html.j2"
QUANTITY_NAMES = {"recall": "recall", "weak_metric": "weak metric"}


def setting_href(slug: str) -> str:
    """Where a setting's page lies, relative to the index."""
    return f"settings/{slug}.html"


def render_index(df: pd.DataFrame, now: _dt.datetime | None = None, leads: pd.DataFrame | None = None) -> str:
    """index.html text of a results frame (``df`` may be prepared; ``leads``: :func:`leaders` of its published
    cells when already at hand)."""
    d = prepared(df)
    board = published_cells(d)
    leads = leaders(board) if leads is None else leads
    gap = public_hidden_gap(d)
    fam = dict(zip(d["task"], d["_family"]))
    families = family_order(d["_family"])
    specs = sorted(set(leads["density_spec"]), key=spec_key)
    dens = leads.groupby("density_spec")["density"].mean().to_dict() if len(leads) else {}
    context = {
        "css": static_text("leaderboard.css") + static_text("pages.css"),
        "js": static_text("leaderboard.js") + static_text("index.js"),
        "provenance": provenance_line(df, now), "sources": submitted_sources(df),
        "families": families, "tasks": sorted(set(zip(d["task"], d["_family"]))),
        "densities": [(sp, density_label(sp, dens.get(sp, np.nan))) for sp in specs],
        "protocols": sorted(set(d["protocol"]) - {""}),
        "board": board_note(d), "lead_rule": LEAD_RULE, "ranking_rule": RANKING_RULE, "compute_note": COMPUTE_NOTE,
        "answers": answer_rows(leads, fam),
        "rankings": _rankings(board, families, fam),
        "gap": gap_cells(gap) if len(gap) else None, "gap_rule": GAP_RULE,
        "settings": _setting_links(competitors(d), families),
    }
    return environment().get_template(TEMPLATE).render(context)


def _ci_line(low: float, high: float, n: int) -> str:
    if n >= 2 and np.isfinite(low):
        return f'<span class="ci" title="95 % bootstrap interval over {n} seeds">[{h(fmt(low))}, {h(fmt(high))}]</span>'
    return f'<span class="ci">{h(NO_INTERVAL if n == 1 else "no value")}</span>'


def _method_td(r: dict, who: str, cls: str = "") -> str:
    """A leader's (or runner-up's) cell: its name and protocol, its mean, its interval, each on its own line."""
    name = r[who]
    if not isinstance(name, str) or not name:
        return '<td class="l ans" data-v="">—</td>'
    proto = r[f"{who}_protocol"]
    return (f'<td class="l ans{cls}" data-v="{h(name)}"><b class="m">{h(name)}</b>'
            + (f' <span class="proto">{h(proto)}</span>' if proto else "")
            + f'<br><span class="mean">{h(fmt(r[f"{who}_mean"]))}</span><br>'
            + _ci_line(r[f"{who}_low"], r[f"{who}_high"], int(r[f"{who}_n"])) + "</td>")


def _verdict_td(r: dict) -> str:
    cls = "verdict-yes" if r["significant"] else "nosig"
    p = "" if not np.isfinite(r["p"]) else repr(float(r["p"]))
    return f'<td class="l lead {cls}" data-v="{p}">{h(r["verdict"])}</td>'


def answer_rows(leads: pd.DataFrame, fam: dict[str, str], href: bool = True) -> list[str]:
    """The answer table's rows (escaped HTML): one per (setting, density, protocol view), recall then weak metric.
    ``href``: link the setting to its page (the index) or not (a setting's own page)."""
    rows = []
    if not len(leads):
        return rows
    by: dict[tuple, dict[str, dict]] = {}
    for r in leads.to_dict("records"):
        by.setdefault((r["sid"], r["density_spec"], r["view"]), {})[r["quantity"]] = r
    for key in sorted(by, key=lambda k: (k[0], spec_key(k[1]), k[2])):
        g = by[key]
        first = next(iter(g.values()))
        sid, spec, view = key
        setting = h(first["setting"])
        link = f'<a href="{h(setting_href(first["slug"]))}">{setting}</a>' if href else setting
        metric = metric_label(first["metric_name"], first["higher_is_better"])
        cells = [f'<td class="l set">{link}<br><span class="proto">{h(metric)}</span></td>',
                 f'<td class="l" data-v="{h(spec)}">{h(density_label(spec, first["density"]))}'
                 + (f'<br><span class="proto">{h(view)} only</span>' if view else "") + "</td>"]
        for q in ("recall", "weak_metric"):
            r = g.get(q)
            if r is None:
                cells.append('<td class="l ans gs">—</td><td class="l ans"></td><td class="l lead"></td>')
                continue
            cells += [_method_td(r, "best", " gs best"), _method_td(r, "second"), _verdict_td(r)]
        rows.append(f'<tr data-family="{h(fam.get(first["task"], first["family"]))}" data-task="{h(first["task"])}" '
                    f'data-density="{h(spec)}" data-view="{h(view)}">' + "".join(cells) + "</tr>")
    return rows


def _rankings(board: pd.DataFrame, families: list[str], fam: dict[str, str]) -> list[dict[str, Any]]:
    """The overall ranking over all cells, per task family (when there are several) and per task: the filters pick
    one."""
    scopes: list[tuple[str, str, pd.DataFrame]] = [("", "", board)]
    if len(families) > 1:
        scopes += [(f, "", board[board["_family"].eq(f)]) for f in families]
    scopes += [(fam.get(t, ""), t, board[board["task"].eq(t)]) for t in sorted(set(board["task"]))]
    out = []
    for i, (f, t, cells) in enumerate(scopes):
        title = f"task {t}" if t else (f"task family {f}" if f else "all tasks")
        out.append({"id": "ranking-table" if i == 0 else f"ranking-{i}", "family": f if not t else "", "task": t,
                    "title": title, "table": ranking_cells(ranking(cells))})
    return out


def _setting_links(d: pd.DataFrame, families: list[str]) -> list[dict[str, Any]]:
    groups = []
    for f in families:
        g = d[d["_family"].eq(f)]
        items = [{"href": setting_href(s["_slug"].iloc[0]), "setting": s["_setting"].iloc[0],
                  "task": s["task"].iloc[0], "methods": s["_method"].nunique(), "seeds": s["seed"].nunique()}
                 for _, s in g.groupby("_sid", sort=True)]
        groups.append({"family": f, "items": items})
    return groups


__all__ = ["TEMPLATE", "render_index", "answer_rows", "setting_href"]
