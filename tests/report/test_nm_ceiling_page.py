"""Issue 27: on a pattern setting's page the N:M ceiling (the best recall any mask of the pattern can reach on the
planted ticket, docs/patterns.md) stands beside recall, per N:M density."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_leaderboard import NOW, _row  # noqa: E402

from plantseek.frame.prepared import prepared  # noqa: E402
from plantseek.report.leaderboard import write_leaderboard  # noqa: E402
from plantseek.report.setting_page import nm_ceilings  # noqa: E402


def _pattern_frame() -> pd.DataFrame:
    rows = []
    for seed, ceiling in ((0, 0.7), (1, 0.8)):  # the ceiling depends on the seed's ticket, not on the pruner
        for pruner, recall in (("random", 0.4), ("snip", 0.6)):
            for spec, dens, nm in (("0.5", 0.5, np.nan), ("2:4", 0.5, ceiling)):
                rows.append(_row(pruner=pruner, seed=seed, density_spec=spec, density=dens, achieved_density=dens,
                                 recall=recall + 0.01 * seed, weak_metric=0.9, strong_metric=0.5, nm_ceiling=nm))
    return pd.DataFrame(rows)


def test_nm_ceilings_are_means_over_seeds_at_nm_densities_only():
    assert nm_ceilings(_pattern_frame()) == {"2:4": 0.75}
    assert nm_ceilings(_pattern_frame().drop(columns="nm_ceiling")) == {}


def test_the_setting_page_shows_the_ceiling_beside_recall(tmp_path):
    df = _pattern_frame()
    write_leaderboard(df, tmp_path, with_plots=False, now=NOW)
    page = (tmp_path / "settings" / f"{prepared(df)['_slug'].iloc[0]}.html").read_text()
    recall_head = page.split('id="q-recall"')[1].split("</thead>")[0]
    weak_head = page.split('id="q-weak-metric"')[1].split("</thead>")[0]
    assert re.search(r"density 2:4<br><span [^>]*>N:M ceiling 0\.75</span>", recall_head)
    assert "N:M ceiling" not in recall_head.split("density 2:4")[0]  # not at the unstructured 0.5
    assert "N:M ceiling" not in weak_head
