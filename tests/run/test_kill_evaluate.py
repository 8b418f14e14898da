"""kill -9 of `evaluate --jobs 2` at random moments: no process of it survives (pool workers and prune workers die
with their parents), and resuming the run stores every cell exactly once."""

import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from plantseek.run.grid import expand
from plantseek.run.suites import SUITES
from plantseek.store.results import ResultStore
from survivors import no_survivors

ROOT = Path(__file__).resolve().parents[2]


def kill_and_resume(tmp: Path, kills: int) -> None:
    store = tmp / "killed.db"
    marker = f"PLANTSEEK_KILL_{uuid.uuid4().hex}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), marker: "1"}
    command = [sys.executable, "-m", "plantseek", "evaluate", "--suite", "smoke", "--jobs", "2", "--no-progress",
               "--store", str(store)]
    rng = random.Random(kills)
    for _ in range(kills):
        proc = subprocess.Popen(command, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.0, 8.0))
        proc.kill()
        proc.wait()
        assert no_survivors(marker) == []
    done = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert no_survivors(marker) == []
    expected = {c.cell_id for c in expand(SUITES.get("smoke"))}
    with ResultStore(store) as s:
        assert s.finished_ids() == expected and len(s) == len(expected)


def test_kill_9_of_evaluate_leaves_no_process_and_loses_no_cell(tmp_path):
    kill_and_resume(tmp_path, kills=2)  # the default run; the 10 random moments: the slow variant below


@pytest.mark.slow
def test_kill_9_of_evaluate_ten_times(tmp_path):
    kill_and_resume(tmp_path, kills=10)
