"""``bench --submission`` (plantseek.perf.submission): what it measures is what a submitter meets."""

import os
from pathlib import Path

import pytest

from plantseek.perf import submission
from plantseek.run.grid import expand, run_cells
from plantseek.run.suites import SUITES
from plantseek.store.results import ResultStore


def test_broken_files_are_refused_by_the_check_in_one_line(tmp_path):
    out = submission.check_seconds(tmp_path, Path.cwd(), dict(os.environ))
    assert set(out) == {"syntax error", "no pruner class"}
    assert out["syntax error"]["exit_status"] == 2 and "SyntaxError" in out["syntax error"]["line"]
    assert out["no pruner class"]["exit_status"] == 2 and "0 pruner classes" in out["no pruner class"]["line"]
    assert all(v["line"].startswith("plantseek: error:") and v["seconds"] > 0 for v in out.values())


def test_the_page_after_new_cells_rewrites_only_the_settings_they_touch(tmp_path):
    suite = SUITES.get("smoke").with_overrides(pruners=["random", "magnitude"])
    cells = expand(suite)
    one_task = [c for c in cells if c.pruner == "random" or c.task == cells[0].task]  # magnitude on one task only
    with ResultStore(tmp_path / "s.db") as store:
        run_cells(one_task, store=store)
    tasks = {c.task for c in cells}
    assert len(tasks) == 2
    page = submission.page_seconds(tmp_path / "s.db", tmp_path, "smoke", name="magnitude")
    n_magnitude = sum(c.pruner == "magnitude" for c in one_task)
    assert page["new_cells"] == n_magnitude > 0
    assert page["settings"] == 2
    assert page["cold"]["setting_pages_written"] == 2  # a fresh folder: every setting
    assert page["incremental"]["setting_pages_written"] == 1  # magnitude's cells are on one task's setting
    assert page["incremental"]["cells"] == page["cold"]["cells"] + n_magnitude


@pytest.mark.slow
def test_the_whole_measurement_on_the_smoke_suite():
    r = submission.measure("smoke", jobs=1)
    s = r["submit"]
    assert s["exit_status"] == 0 and s["cells"] == 12  # 4 cells, each with its shuffled and reinit ablations
    assert any("bench-magnitude" in line and "0 failed" in line for line in s["last_lines"])
    text = submission.table(r)
    assert "target <= 600 s" in text and "target <= 30 s" in text
