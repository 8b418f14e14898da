"""The leaderboard's distance-to-optimum section (cells on instances with a certified optimum)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from plantseek.report.format import fmt, md_escape
from plantseek.stats.optimum import OPTIMUM_RULE, distance_to_optimum


def optimum_section(df: pd.DataFrame) -> list[str]:
    """Markdown lines; [] when no cell has a known optimum."""
    table = distance_to_optimum(df)
    if not len(table):
        return []
    out = ["", "## Distance to the certified optimum", "", OPTIMUM_RULE + " See docs/certified-optimum.md.", "",
           "| setting | pruner | instances | reached | kept / optimum (mean) | 95 % interval | density |",
           "|---|---|---:|---:|---:|---:|---:|"]
    for r in table.itertuples(index=False):
        interval = f"[{fmt(r.ratio_lo)}, {fmt(r.ratio_hi)}]" if np.isfinite(r.ratio_lo) else "—"
        out.append(f"| {md_escape(f'{r.task} · depth {r.depth} · width {r.width}')} | {md_escape(str(r.pruner))} | "
                   f"{r.instances} | {r.reached} | {fmt(r.ratio)} | {interval} | {fmt(r.density)} |")
    return out
