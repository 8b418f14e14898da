"""pytest-benchmark cases for regenerating the leaderboard (``pytest benchmarks/ --benchmark-enable``): a full
regeneration into an empty folder against an incremental one after new cells in one setting (only that setting's page
and figures are redrawn: plantseek.report.incremental). The issue's target, on the published store: at most 30 s
after new cells; the measured numbers are in docs/leaderboard.md. With ``--benchmark-disable`` each runs once."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "report"))
from test_leaderboard import NOW, synthetic_results  # noqa: E402

from plantseek.report.leaderboard import write_leaderboard  # noqa: E402


@pytest.fixture(scope="module")
def frames():
    df = synthetic_results(tasks=("circle", "relu", "helix"), seeds=(0, 1, 2, 3, 4))
    return df[~(df["task"].eq("relu") & df["seed"].eq(4))], df  # relu's seed 4 arrives later


def test_full_regeneration(benchmark, frames, tmp_path):
    _, df = frames

    def full():
        shutil.rmtree(tmp_path / "board", ignore_errors=True)
        return write_leaderboard(df, tmp_path / "board", now=NOW)

    files = benchmark.pedantic(full, rounds=1, iterations=1)
    assert sum(p.parent.name == "settings" and p.suffix == ".html" for p in files) == 3


def test_incremental_regeneration_after_new_cells(benchmark, frames, tmp_path):
    old, df = frames

    def setup():
        shutil.rmtree(tmp_path / "board", ignore_errors=True)
        write_leaderboard(old, tmp_path / "board", now=NOW)
        return (df, tmp_path / "board"), {"now": NOW}

    files = benchmark.pedantic(write_leaderboard, setup=setup, rounds=1, iterations=1)
    assert sum(p.parent.name == "settings" and p.suffix == ".html" for p in files) == 1  # relu's alone
