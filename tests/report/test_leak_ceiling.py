"""The leak ceiling (best leak detector's recall at the ticket density, next to random's) and the instance kinds
(public / hidden) in the report, from synthetic results frames."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from plantseek.frame.leak import instance_columns, leak_ceiling
from plantseek.report.markdown import render_markdown
from plantseek.report.page import render_html
from plantseek.frame.prepared import prepare
from plantseek.report.tables import summary_table

from tests.report.test_leaderboard import NOW, _row

# (pruner, task) -> recall per seed at the ticket density
RECALLS = {
    ("random", "circle"): [0.0, 0.01, 0.02], ("leak-a", "circle"): [0.3, 0.4, 0.5],
    ("leak-b", "circle"): [0.1, 0.1, 0.1], ("magnitude", "circle"): [0.9, 0.9, 0.9],
    ("random", "relu"): [0.0, 0.0, 0.0], ("leak-a", "relu"): [0.0, 0.25, 0.25], ("leak-b", "relu"): [0.0, 0.0, 0.5],
}


def frame(recalls=RECALLS, config=None) -> pd.DataFrame:
    rows = []
    for (pruner, task), values in recalls.items():
        metric = "accuracy" if task == "circle" else "mse"
        for seed, r in enumerate(values):
            for spec, rec in (("ticket", r), ("0.5", 0.99)):
                rows.append(_row(task=task, pruner=pruner, seed=seed, density_spec=spec, metric_name=metric,
                                 density=0.005 if spec == "ticket" else 0.5, recall=rec, weak_metric=0.5,
                                 config_json=json.dumps(config or {})))
    return pd.DataFrame(rows)


def test_leak_ceiling_is_the_best_detector_at_the_ticket_density_next_to_random():
    lc = leak_ceiling(prepare(frame())).set_index("setting")
    circle = lc.loc["circle · depth 5 · width 100 · noise 0.01 · calibrated training"]
    relu = lc.loc["relu · depth 5 · width 100 · noise 0.01 · calibrated training"]
    assert circle["detector"] == "leak-a"  # magnitude (0.9) is no leak detector
    assert math.isclose(circle["detector_recall_mean"], 0.4) and math.isclose(circle["detector_recall_std"], 0.1)
    assert math.isclose(circle["random_recall_mean"], 0.01) and math.isclose(circle["ratio"], 40.0)
    assert circle["seeds"] == 3
    # equal means (1/6 each): the name decides; random's recall 0 leaves the ratio undefined
    assert relu["detector"] == "leak-a" and relu["detector_recall_mean"] == 0.5 / 3
    assert relu["random_recall_mean"] == 0.0 and np.isnan(relu["ratio"])


def test_failed_and_ablation_cells_do_not_count_and_no_detector_means_no_section():
    df = frame()
    best = (df["pruner"] == "leak-a") & (df["task"] == "circle") & (df["density_spec"] == "ticket")
    df.loc[best & (df["seed"] == 2), ["status", "recall"]] = ["failed", np.nan]
    df = pd.concat([df, pd.DataFrame([_row(pruner="leak-b", ablation="shuffled", density_spec="ticket",
                                           density=0.005, recall=1.0)])], ignore_index=True)
    lc = leak_ceiling(prepare(df)).set_index("setting")
    row = lc.loc["circle · depth 5 · width 100 · noise 0.01 · calibrated training"]
    assert math.isclose(row["detector_recall_mean"], 0.35) and row["seeds"] == 2
    plain = frame({k: v for k, v in RECALLS.items() if not k[0].startswith("leak-")})
    assert len(leak_ceiling(prepare(plain))) == 0
    assert "Leak ceiling" not in render_markdown(plain, now=NOW)
    assert 'id="leak"' not in render_html(plain, now=NOW)


def test_leak_ceiling_on_both_pages():
    md, page = render_markdown(frame(), now=NOW), render_html(frame(), now=NOW)
    section = md.split("## Leak ceiling")[1].split("\n## ")[0]
    assert ("| circle · depth 5 · width 100 · noise 0.01 · calibrated training | leak-a | 0.4 ± 0.1 | 0.01 ± 0.01 "
            "| 40 | 3 |") in section
    assert 'id="leak-table"' in page and "leak-a" in page.split('id="leak-table"')[1].split("</table>")[0]


def test_instances_are_read_from_the_stored_configuration():
    df = pd.concat([frame(config={"instances": "public"}),
                    frame(config={"instances": "hidden", "key_fingerprint": "0123456789abcdef"}),
                    frame().drop(columns=["config_json"]).assign(config_json="not json")], ignore_index=True)
    kinds, keys = instance_columns(df)
    n = len(frame())
    assert kinds == ["public"] * n + ["hidden"] * n + ["public"] * n
    assert keys == [""] * n + ["0123456789abcdef"] * n + [""] * n
    d = prepare(df)
    settings = sorted(set(d["_setting"]))
    assert ("circle · depth 5 · width 100 · noise 0.01 · hidden instances (key 0123456789abcdef) · calibrated "
            "training") in settings
    assert len(settings) == 4  # public and hidden instances of two tasks are separate settings
    assert set(summary_table(d)["instances"]) == {"public", "hidden"}
    assert len(set(d["_slug"])) == 4
