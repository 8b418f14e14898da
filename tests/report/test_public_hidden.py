"""Public development instances against hidden leaderboard instances on the pages: the ranking is computed on hidden
cells only, public cells form the development ranking, and a method whose public recall is far above its hidden
recall is flagged (rule: plantseek.stats.gap). Synthetic frames with hand-computed expectations (torch-free)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_leaderboard import NOW, _md_table, _row  # noqa: E402

from plantseek.frame.leak import published_cells  # noqa: E402
from plantseek.frame.prepared import prepare  # noqa: E402
from plantseek.report.markdown import render_markdown  # noqa: E402
from plantseek.report.page import render_html  # noqa: E402
from plantseek.report.tables import ranking  # noqa: E402
from plantseek.stats.gap import GAP_MARGIN, public_hidden_gap  # noqa: E402
from plantseek.stats.intervals import bootstrap_interval  # noqa: E402

FP = "0123456789abcdef"
HIDDEN = json.dumps({"instances": "hidden", "key_fingerprint": FP})
PUBLIC = json.dumps({})


def cell(pruner, kind, seed, spec, recall, weak, **kw):
    density = 0.05 if spec == "ticket" else float(spec)
    return _row(pruner=pruner, seed=seed, density_spec=spec, density=density, recall=recall, weak_metric=weak,
                config_json=HIDDEN if kind == "hidden" else PUBLIC, **kw)


# (pruner, seed, spec) -> (public recall, hidden recall); weak metric follows recall
RECALLS = {
    ("replant", 0, "ticket"): (1.0, 0.05), ("replant", 1, "ticket"): (1.0, 0.07), ("replant", 2, "ticket"): (1.0, 0.04),
    ("replant", 0, "0.1"): (1.0, 0.12), ("replant", 1, "0.1"): (1.0, 0.09), ("replant", 2, "0.1"): (1.0, 0.10),
    ("honest", 0, "ticket"): (0.20, 0.30), ("honest", 1, "ticket"): (0.30, 0.20), ("honest", 2, "ticket"): (0.25, 0.25),
    ("honest", 0, "0.1"): (0.40, 0.45), ("honest", 1, "0.1"): (0.50, 0.40), ("honest", 2, "0.1"): (0.45, 0.45),
}


def board() -> pd.DataFrame:
    rows = []
    for (pruner, seed, spec), (pub, hid) in RECALLS.items():
        rows.append(cell(pruner, "public", seed, spec, pub, 0.5 + 0.4 * pub))
        rows.append(cell(pruner, "hidden", seed, spec, hid, 0.5 + 0.4 * hid))
        rows.append(cell(pruner, "public", seed, "1", 1.0, 0.97))  # density 1: every method keeps the ticket
        rows.append(cell(pruner, "hidden", seed, "1", 1.0, 0.97))
    rows.append(cell("dev-only", "public", 0, "ticket", 0.9, 0.3))  # a submitter's public run, never scored hidden
    rows.append(cell("replant", "public", 0, "ticket", 0.0, 0.5, ablation="shuffled"))  # an ablation: not compared
    return pd.DataFrame(rows)


def test_gap_by_hand_flags_the_replanter_and_not_the_honest_method():
    gap = public_hidden_gap(board()).set_index("method")
    assert set(gap.index) == {"replant", "honest", "dev-only"}  # competitors only: no ablation
    for method in ("replant", "honest"):
        pairs = [(p, h) for (m, _, _), (p, h) in RECALLS.items() if m == method]
        diffs = [p - h for p, h in pairs]  # density 1 is no comparison: left out
        expected = bootstrap_interval(diffs)
        r = gap.loc[method]
        assert r["pairs"] == 6 and r["public_cells"] == 6 and r["hidden_cells"] == 6
        assert r["gap_mean"] == pytest.approx(np.mean(diffs))
        assert (r["gap_low"], r["gap_high"]) == pytest.approx((expected.low, expected.high))
        assert r["public_recall"] == pytest.approx(np.mean([p for p, _ in pairs]))
        assert r["hidden_recall"] == pytest.approx(np.mean([h for _, h in pairs]))
    assert gap.loc["replant", "flagged"] and gap.loc["replant", "gap_low"] > GAP_MARGIN
    assert not gap.loc["honest", "flagged"] and gap.loc["honest", "gap_low"] < 0 < gap.loc["honest", "gap_high"]
    dev = gap.loc["dev-only"]
    assert not dev["flagged"] and dev["pairs"] == 0 and np.isnan(dev["hidden_recall"])
    assert dev["note"] == "not scored on hidden instances"


@pytest.mark.parametrize("diff,flagged", [(GAP_MARGIN, False), (GAP_MARGIN + 0.01, True)])
def test_the_whole_interval_must_lie_above_the_margin(diff, flagged):
    rows = [cell("m", kind, seed, "0.1", 0.5 + (diff if kind == "public" else 0.0), 0.9)
            for seed in (0, 1, 2) for kind in ("public", "hidden")]
    gap = public_hidden_gap(pd.DataFrame(rows)).iloc[0]
    assert gap["gap_low"] == pytest.approx(diff) and bool(gap["flagged"]) is flagged  # all pairs alike: [d, d]


def test_one_pair_gives_no_interval_and_no_flag():
    rows = [cell("m", "public", 0, "0.1", 1.0, 0.9), cell("m", "hidden", 0, "0.1", 0.1, 0.6)]
    gap = public_hidden_gap(pd.DataFrame(rows)).iloc[0]
    assert gap["pairs"] == 1 and not gap["flagged"] and gap["note"] == "1 pair: no interval"


def test_pairs_match_setting_density_and_seed_only():
    rows = [cell("m", "public", 0, "0.1", 1.0, 0.9), cell("m", "hidden", 1, "0.1", 0.1, 0.6),  # other seed
            cell("m", "public", 2, "0.1", 1.0, 0.9), cell("m", "hidden", 2, "0.01", 0.1, 0.6)]  # other density
    gap = public_hidden_gap(pd.DataFrame(rows)).iloc[0]
    assert gap["pairs"] == 0 and not gap["flagged"] and gap["note"] == "no matched (setting, density, seed)"


def test_without_hidden_cells_there_is_no_comparison_and_the_page_says_development_board():
    public = board()
    public = public[public["config_json"].eq(PUBLIC)]
    assert public_hidden_gap(public).empty
    page, md = render_html(public, now=NOW), render_markdown(public, now=NOW)
    for text in (page, md):
        assert "Public vs hidden instances" not in text and "Development ranking" not in text
        assert "Public instances only: anyone can re-plant them from their seeds" in text


def test_the_ranking_is_on_hidden_cells_and_public_cells_are_the_development_ranking():
    df = board()
    d = prepare(df)
    # on public instances the replanter wins every comparison, on hidden ones the honest method does
    assert list(ranking(d[d["instances"].eq("public")])["method"])[0] == "replant"
    assert list(ranking(published_cells(d))["method"]) == ["honest", "replant"]
    md = render_markdown(df, now=NOW)
    assert [r[1] for r in _md_table(md, "## Overall ranking")] == ["honest", "replant"]
    assert [r[1] for r in _md_table(md, "## Development ranking (public instances)")][0] == "replant"
    assert f"Ranked on hidden instances only (planted from the maintainers' leaderboard key, fingerprint(s) {FP}" in md
    gap_rows = {r[0]: r for r in _md_table(md, "## Public vs hidden instances")}
    assert gap_rows["replant"][-1] == "**FLAGGED**" and gap_rows["honest"][-1] == "no"
    assert gap_rows["dev-only"][-1] == "not scored on hidden instances"
    page = render_html(df, now=NOW)
    ranked = re.search(r'id="ranking-table">.*?</table>', page, re.S).group(0)
    assert re.findall(r'<td class="l" data-v="([^"]+)">\1</td><td class="l" data-v="single-shot"', ranked) == \
        ["honest", "replant"]
    gap_html = re.search(r'id="gap-table">.*?</table>', page, re.S).group(0)
    verdicts = dict(re.findall(r'<tr data-protocol="[^"]*"><td class="l" data-v="([^"]+)">.*?'
                               r'<td class="l[^"]*" data-v="([^"]+)">[^<]*</td></tr>', gap_html))
    assert verdicts == {"replant": "FLAGGED", "honest": "no", "dev-only": "not scored on hidden instances"}
    assert 'id="development-table"' in page and FP in page
