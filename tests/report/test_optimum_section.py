"""The distance-to-the-certified-optimum section of the leaderboard (README.md and index.html)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from plantseek.report.markdown import render_markdown
from plantseek.report.page import render_html

from tests.report.test_leaderboard import NOW, _row


def frame(with_optimum: bool) -> pd.DataFrame:
    rows = []
    for seed in (0, 1):
        for density, kept, strong in ((0.25, 9, 0.95), (0.5, 18, 0.97)):
            extra = dict(optimum_nnz=3.0, optimum_ratio=kept / 3, optimum_metric=0.9) if with_optimum else {}
            rows.append(_row(task="circle", depth=3, width=6, pruner="magnitude", seed=seed, density=density,
                             achieved_density=density, density_spec=str(density), strong_metric=strong,
                             weak_metric=0.9, recall=0.5, **extra))
    return pd.DataFrame(rows)


def test_the_section_shows_the_sparsest_reaching_ratio():
    md, page = render_markdown(frame(True), now=NOW), render_html(frame(True), now=NOW)
    assert "## Distance to the certified optimum" in md
    # both seeds reach the optimum's 0.9 at density 0.25 with 9 kept weights: ratio 3 on each
    assert "| circle · depth 3 · width 6 | magnitude | 2 | 2 | 3 |" in md
    assert 'id="optimum-table"' in page and ">magnitude<" in page


def test_no_known_optimum_means_no_section():
    plain = frame(False)
    assert "optimum_ratio" not in plain.columns or plain["optimum_ratio"].isna().all()
    assert "Distance to the certified optimum" not in render_markdown(plain, now=NOW)
    assert 'id="optimum"' not in render_html(plain, now=NOW)
    assert np.isfinite(plain["strong_metric"]).all()
