"""Which methods a setting's plots show by default (plantseek.report.selection): at most eight, the references
first, then the leaders alternately by recall and by weak metric."""

from __future__ import annotations

import pandas as pd

from plantseek.report.selection import SHOWN, default_methods


def summary(recall: dict[str, list[float]], weak: dict[str, list[float]], hib: bool = True) -> pd.DataFrame:
    """Summary rows of one setting at densities 0.01 and 0.1 (and 1, which must not count)."""
    rows = []
    for m in recall:
        for i, (spec, dens) in enumerate((("0.01", 0.01), ("0.1", 0.1), ("1", 1.0))):
            rows.append({"method": m, "density_spec": spec, "density": dens, "higher_is_better": hib,
                         "recall_mean": recall[m][i], "weak_metric_mean": weak[m][i]})
    return pd.DataFrame(rows)


def test_references_then_leaders_alternately_at_most_eight():
    names = [f"m{i:02d}" for i in range(12)] + ["random", "magnitude"]
    # recall order: m00 best, m01, m02, ...; weak order: m11 best, m10, ...; density 1 reversed (ignored)
    recall = {m: [1 - i / 20, 1 - i / 20, i] for i, m in enumerate(names)}
    weak = {m: [i / 20, i / 20, -i] for i, m in enumerate(names[:12])} | {"random": [0, 0, 0], "magnitude": [0, 0, 0]}
    chosen = default_methods(summary(recall, weak))
    assert len(chosen) == SHOWN == 8
    assert chosen == ["random", "magnitude", "m00", "m11", "m01", "m10", "m02", "m09"]


def test_lower_is_better_weak_metric_and_few_methods():
    recall = {"a": [0.1, 0.1, 1], "b": [0.2, 0.2, 1], "c": [0.3, 0.3, 1]}
    weak = {"a": [0.01, 0.01, 0], "b": [0.5, 0.5, 0], "c": [0.9, 0.9, 0]}  # MSE: a is best
    assert default_methods(summary(recall, weak, hib=False)) == ["c", "a", "b"]
    assert default_methods(summary(recall, weak, hib=False), shown=2) == ["c", "a"]
    assert default_methods(summary({}, {}).iloc[0:0]) == []


def test_the_stored_figures_draw_only_the_chosen_methods_of_the_chosen_settings(tmp_path, monkeypatch):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_leaderboard import synthetic_results

    from plantseek.frame.prepared import prepared
    from plantseek.report import plots

    drawn: dict[str, set] = {}

    def probe(cells, styles):
        drawn[cells["_slug"].iloc[0]] = set(cells["_method"])
        return None  # nothing to save

    monkeypatch.setattr(plots, "_figures", lambda family: [("probe", probe)])
    d = prepared(synthetic_results(tasks=("circle", "relu"), seeds=(0, 1)))
    circle = d.loc[d["task"].eq("circle"), "_slug"].iloc[0]
    plots.plots_by_setting(d, tmp_path, methods={circle: ["random", "snip"]})
    assert drawn == {circle: {"random", "snip"}}  # relu not redrawn; circle with its two methods only
