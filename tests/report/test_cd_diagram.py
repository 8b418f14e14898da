"""Critical-difference diagrams: written per comparison by `plot` and `leaderboard`, from stored results alone."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_leaderboard import synthetic_results  # noqa: E402

from plantseek.core.errors import ConfigError  # noqa: E402
from plantseek.report.cd_diagram import cd_title, figure_cd, write_cd_diagrams  # noqa: E402
from plantseek.stats.comparisons import comparisons  # noqa: E402


def test_one_diagram_per_comparison_with_safe_names(tmp_path):
    df = synthetic_results(tasks=("circle", "relu"), pruners=("random", "magnitude", "snip", "edge-popup"),
                           seeds=(0, 1))
    df.loc[df["task"] == "circle", "task"] = "../../etc/circle"  # a task name is no path
    found = comparisons(df)
    assert [c.key for c in found] == ["single-shot-weak-metric", "single-shot-..-..-etc-circle-weak-metric",
                                      "single-shot-relu-weak-metric"]  # edge-popup is alone in its protocol
    files = write_cd_diagrams(found, tmp_path / "p", fmt="svg")
    assert sorted(p.name for p in files.values()) == sorted(f"cd_{c.key}.svg" for c in found)
    assert all(p.parent == tmp_path / "p" and p.read_text().startswith("<?xml") for p in files.values())
    title = cd_title(found[0])
    assert title.startswith("single-shot · all tasks · weak metric: ") and f"{found[0].instances} instances" in title
    with pytest.raises(ConfigError):
        write_cd_diagrams(found, tmp_path / "q", fmt="gif")


def test_no_diagram_for_a_single_method():
    df = synthetic_results(tasks=("relu",), pruners=("random", "magnitude"), seeds=(0,))
    (c,) = comparisons(df)
    assert figure_cd(c) is not None
    lone = type(c)(**{**c.__dict__, "friedman": type(c.friedman)(1, c.instances, float("nan"), float("nan"),
                                                                   float("nan"), {"random": 1.0})})
    assert figure_cd(lone) is None


def test_cli_plot_writes_the_diagrams(monkeypatch, tmp_path, capsys):
    from plantseek.cli import main

    df = synthetic_results(tasks=("relu",), pruners=("random", "magnitude"), seeds=(0, 1))
    mod = types.ModuleType("plantseek.store.results")
    mod.load_checked = lambda path: types.SimpleNamespace(frame=df.copy(), refused=[], problems=[], hidden_masks=0)
    monkeypatch.setitem(sys.modules, "plantseek.store.results", mod)
    store = tmp_path / "r.db"
    store.write_bytes(b"")
    assert main(["plot", "--store", str(store), "--out", str(tmp_path / "figs"), "--format", "svg"]) == 0
    printed = capsys.readouterr().out.split()
    cd = [p for p in printed if Path(p).name.startswith("cd_")]
    assert sorted(Path(p).name for p in cd) == ["cd_single-shot-recall.svg", "cd_single-shot-weak-metric.svg"]
    assert all(Path(p).exists() for p in printed)
