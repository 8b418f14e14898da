"""The per-head recovery figure (plantseek.families.attention.plots) from stored metrics alone."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from plantseek.families.attention.plots import figure_heads, head_table


def frame(with_heads: bool = True) -> pd.DataFrame:
    rows = []
    for method, density, recalls in (("random", "ticket", [0.0]), ("random", "ticket", [0.5]),
                                     ("magnitude", "0.1", [1.0, 0.5]), ("magnitude", "ticket", [0.25])):
        metrics = {"recall": 0.1, **({"per_head": {"heads": [[0, 1]] * len(recalls), "recall": recalls}}
                                     if with_heads else {})}
        rows.append({"_ok": True, "_method": method, "density_spec": density, "metrics_json": json.dumps(metrics),
                     "_setting": "recall · depth 3 · width 32"})
    rows.append({**rows[0], "_ok": False, "metrics_json": json.dumps({"per_head": {"recall": [1.0]}})})
    return pd.DataFrame(rows)


def test_head_table_means_over_heads_and_seeds():
    table = head_table(frame())
    assert list(table.columns) == ["ticket", "0.1"] and list(table.index) == ["magnitude", "random"]
    assert table.loc["random", "ticket"] == pytest.approx(0.25)  # failed cells are left out
    assert table.loc["magnitude", "0.1"] == pytest.approx(0.75) and table.loc["magnitude", "ticket"] == 0.25


def test_figure_only_where_heads_were_stored():
    assert figure_heads(frame()) is not None
    assert figure_heads(frame(with_heads=False)) is None


def test_attention_section_of_the_leaderboard():
    from plantseek.families.attention.report import attention_markdown

    d = frame()
    d["metrics_json"] = [json.dumps({**json.loads(m), "per_projection": {"recall": {
        "q": 1.0, "k": 0.0, "v": None, "o": 0.5, "up": 1.0, "down": 0.0, "readout": 1.0}}}) for m in d["metrics_json"]]
    lines = attention_markdown(d)
    assert lines[1] == "## Attention: recovery by head and projection"
    row = next(line for line in lines if line.startswith("| random |"))
    assert row == "| random | H 0.25 Q 1.00 K 0.00 V – O 0.50 MLP 0.50 R 1.00 |  |"  # no cell at 0.1
    assert attention_markdown(frame(with_heads=False)) == []
