"""The leaderboard's attention section: per attention setting (cells that stored ``per_head`` metrics, i.e. on
transformer hosts), a table of methods x densities with the mean recall of the ticket's heads (H) and the recall per
projection type (Q, K, V, O, MLP = the mean of up and down, R = read-out), means over seeds.
Text from the results frame alone; nothing where no cell stored per-head metrics."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from plantseek.frame.labels import spec_key
from plantseek.report.format import md_escape

RULE = ("Recall of the planted attention circuit by part: H = mean recall of the ticket's heads (each head: its "
        "query, key, value and output ticket weights), then per projection type Q, K, V, O, MLP (up, down) and "
        "R (read-out); means over seeds. A dash: the ticket has no weight of that type.")
PARTS = (("Q", ("q",)), ("K", ("k",)), ("V", ("v",)), ("O", ("o",)), ("MLP", ("up", "down")), ("R", ("readout",)))


def _parts(value: Any) -> dict[str, float] | None:
    try:
        m = json.loads(value.decode() if isinstance(value, (bytes, bytearray)) else value)
    except (TypeError, ValueError, AttributeError):
        return None
    heads, proj = m.get("per_head"), (m.get("per_projection") or {}).get("recall")
    if not isinstance(heads, dict) or not isinstance(proj, dict):
        return None
    out = {"H": float(np.mean(heads["recall"])) if heads.get("recall") else np.nan}
    for label, kinds in PARTS:
        values = [proj[k] for k in kinds if proj.get(k) is not None]
        out[label] = float(np.mean(values)) if values else np.nan
    return out


def attention_markdown(d: pd.DataFrame) -> list[str]:
    """Lines of the attention section (a prepared frame, see :func:`plantseek.frame.prepared.prepare`)."""
    if "metrics_json" not in d.columns:
        return []
    ok = d[d["_ok"]].assign(_parts=lambda x: x["metrics_json"].map(_parts))
    ok = ok[ok["_parts"].notna()]
    if ok.empty:
        return []
    out = ["", "## Attention: recovery by head and projection", "", RULE]
    for setting, cells in ok.groupby("_setting", sort=True):
        specs = sorted(cells["density_spec"].unique(), key=spec_key)
        out += ["", f"### {md_escape(setting)}", "", "| method | " + " | ".join(map(md_escape, specs)) + " |",
                "|---|" + "---|" * len(specs)]
        for method, g in cells.groupby("_method", sort=True):
            row = [md_escape(method)]
            for spec in specs:
                parts = pd.DataFrame(list(g.loc[g["density_spec"] == spec, "_parts"])).mean()
                row.append(" ".join(f"{k} {'–' if np.isnan(v) else f'{v:.2f}'}" for k, v in parts.items())
                           if len(parts) else "")
            out.append("| " + " | ".join(row) + " |")
    return out
