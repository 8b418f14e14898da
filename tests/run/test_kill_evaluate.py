"""kill -9 of `evaluate --jobs 2` at random moments: no process of it survives (pool workers and prune workers die
with their parents), and resuming the run stores every cell exactly once. A pruner that clears its own
PR_SET_PDEATHSIG still dies within 5 s of a kill -9 of `evaluate` (--jobs 1 and 2). Ctrl-C (SIGINT to the process
group, as a terminal sends it) gives one line and exit 130, keeps what was stored and leaves no process."""

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from plantseek.run.grid import expand
from plantseek.run.suites import SUITES
from plantseek.store.results import ResultStore
from survivors import no_survivors, wait_for

ROOT = Path(__file__).resolve().parents[2]
ORPHAN = f"{ROOT / 'tests' / 'pruners' / 'hostile' / 'orphan.py'}:Orphan"
HEADER = "plantseek evaluate: suite "


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


def orphan_run(tmp: Path, jobs: str, seeds: str, pruners: str, timeout: str) -> tuple[list[str], dict[str, str]]:
    marker = f"PLANTSEEK_ORPHAN_{uuid.uuid4().hex}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), marker: "1"}
    command = [sys.executable, "-m", "plantseek", "evaluate", "--suite", "smoke", "--tasks", "circle", "--seeds", seeds,
               "--densities", "ticket", "--pruners", pruners, "--jobs", jobs, "--timeout", timeout, "--json",
               "--no-progress", "--store", str(tmp / "store.db")]
    return command, {**env, "MARKER": marker}


@pytest.mark.parametrize("jobs, start", [("1", "template"), ("2", "template"), ("1", "exec")])
def test_a_pruner_that_clears_its_pdeathsig_dies_with_a_killed_evaluate(tmp_path, jobs, start):
    command, env = orphan_run(tmp_path, jobs, "0,1", ORPHAN, "300")
    env["PLANTSEEK_PRUNE_START"] = start
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ready = wait_for(env["MARKER"], "orphan-ready", int(jobs))
    finally:
        proc.kill()
        proc.wait()
    assert len(ready) == int(jobs)  # the pruners run, their PR_SET_PDEATHSIG cleared
    assert no_survivors(env["MARKER"], within=5.0) == []


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_prints_one_line_exits_130_and_keeps_what_was_stored(tmp_path, jobs):
    command, env = orphan_run(tmp_path, jobs, "0,1,2,3,4,5", f"magnitude,{ORPHAN}", "2")
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    first = proc.stdout.readline()  # a group stored (the orphan's cells fail after 2 s; 5 groups to go)
    wait_for(env["MARKER"], "orphan-ready", 1)  # and a pruner that outlives its parent unless killed
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert [line for line in err.splitlines() if not line.startswith(HEADER)] == ["plantseek: interrupted"], err
    rows = [json.loads(line) for line in [first, *out.splitlines()]]
    assert rows and len(rows) < 12
    with ResultStore(tmp_path / "store.db") as store:
        for row in rows:
            stored = store.get(row["cell_id"]).result
            assert stored.status == row["status"] and (stored.error or "") == (row["error"] or "")
    orphans = [r for r in rows if r["pruner"] == "orphan"]
    assert all(r["status"] == "failed" and r["error"].endswith("exceeded the time limit of 2 s") for r in orphans)
    assert all(r["status"] == "ok" for r in rows if r["pruner"] == "magnitude")
    assert no_survivors(env["MARKER"], within=5.0) == []
