"""Hostile pruners (tests/pruners/hostile/, one attack per file) in one `evaluate --json --jobs 2` grid with two
honest pruners: every attack fails its own cells with a one-line reason or has no effect, the honest cells equal
a clean run's bit for bit, stdout stays parseable JSON, the store and the results folder are untouched, and no
process of the run survives it."""

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import plantseek
from plantseek.store.results import ResultStore
from survivors import no_survivors

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ROOT / "tests" / "pruners" / "hostile"
GRID = ["--suite", "smoke", "--tasks", "circle", "--seeds", "0,1", "--densities", "ticket", "--no-progress",
        "--json", "--jobs", "2", "--timeout", "3", "--memory-limit", "4"]
# pruner file:class -> what its cells must say ("ok": the attack had no effect on anything but itself)
EXPECTED = {
    "gc_objects.py:GcObjects": "crashed: RuntimeError: no instance found among the objects",
    "stack_frames.py:StackFrames": "crashed: RuntimeError: no instance found on the stack",
    "metric_patch.py:MetricPatch": "ok",
    "store_writer.py:StoreWriter": "crashed: OperationalError: unable to open database file",
    "results_writer.py:ResultsWriter": "crashed: PermissionError: [Errno 13] Permission denied",
    "instance_reader.py:InstanceReader": "crashed: RuntimeError: read: ['PermissionError', 'PermissionError']",
    "exits.py:Exits": "worker exited with status 0 before answering",
    "segfault.py:Segfault": "worker killed by SIGSEGV",
    "sigkill.py:KillsItself": "worker killed by SIGKILL",
    "endless.py:Endless": "exceeded the time limit of 3 s",
    "loss_swap.py:LossSwap": "ok",
    "budget_zero.py:BudgetZero": "ok",
    "flip_thread.py:FlipThread": "ok",
    "fake_json.py:FakeJson": "ok",
    "mutate.py:Mutate": "ok",
    "fork_bomb.py:ForkBomb": "crashed: PermissionError: [Errno 1] Operation not permitted",
    "allocate.py:Allocate": "exceeded the memory limit of 4.0 GB",
    "kill_parent.py:KillParent": "crashed: PermissionError: [Errno 1] Operation not permitted",
    "descriptors.py:Descriptors": "crashed: RuntimeError: other descriptors: []",
}
TIMING = ("prune_seconds", "train_seconds")


def evaluate(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "plantseek", "evaluate", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    (tmp / "results").mkdir()
    plantseek.plant("circle", depth=4, width=20, seed=0).save(tmp / "instance.pt")
    marker = f"PLANTSEEK_HOSTILE_{uuid.uuid4().hex}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), marker: "1", "HOSTILE_STORE": str(tmp / "hostile.db"),
           "HOSTILE_RESULTS": str(tmp / "results"), "HOSTILE_INSTANCE": str(tmp / "instance.pt")}
    pruners = ",".join(["magnitude", "random"] + [f"{HOSTILE / ref}" for ref in EXPECTED])
    hostile = evaluate(GRID + ["--pruners", pruners, "--store", str(tmp / "hostile.db")], env, tmp)
    survivors = no_survivors(marker)
    clean = evaluate(GRID + ["--pruners", "magnitude,random", "--store", str(tmp / "clean.db")], env, tmp)
    return tmp, hostile, clean, survivors


def rows_of(proc: subprocess.CompletedProcess) -> list[dict]:
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [json.loads(line) for line in proc.stdout.splitlines()]  # every line parses


def test_every_attack_fails_alone_or_changes_nothing(runs):
    _, hostile, _, _ = runs
    rows = rows_of(hostile)
    assert len(rows) == 2 * (2 + len(EXPECTED)) and {r["pruner"] for r in rows} >= {"magnitude", "random"}
    wrong = {}
    for ref, expected in EXPECTED.items():
        errors = {r["error"] for r in rows if r["pruner_source"] == str(HOSTILE / ref)}
        if not all(expected in (e or "ok") for e in errors):
            wrong[ref] = errors
    assert not wrong
    for ref, expected in EXPECTED.items():
        mine = [r for r in rows if r["pruner_source"] == str(HOSTILE / ref)]
        assert len(mine) == 2, ref
        for r in mine:
            assert "\n" not in (r["error"] or "")
            if expected == "ok":
                assert r["status"] == "ok", (ref, r["error"])
                assert r["recall"] < 0.5 and r["precision"] < 0.5, ref  # random's; the ticket's would be 1
                assert r["achieved_density"] < 0.5, ref  # the mask as returned, not flipped afterwards
            else:
                assert r["status"] == "failed" and expected in r["error"], (ref, r["error"])


def test_honest_cells_equal_a_clean_run_bit_for_bit(runs):
    tmp, hostile, clean, _ = runs
    honest = {r["cell_id"]: r for r in rows_of(hostile) if r["pruner"] in ("magnitude", "random")}
    reference = {r["cell_id"]: r for r in rows_of(clean)}
    assert honest.keys() == reference.keys() and len(reference) == 4
    for cell_id, row in reference.items():
        assert row["status"] == "ok"
        assert {k: v for k, v in honest[cell_id].items() if k not in TIMING} == \
            {k: v for k, v in row.items() if k not in TIMING}
    with ResultStore(tmp / "hostile.db") as a, ResultStore(tmp / "clean.db") as b:
        for cell_id in reference:
            mask = b.get(cell_id).result.mask
            assert mask is not None and a.get(cell_id).result.mask == mask


def test_store_results_folder_and_working_directory_are_untouched(runs):
    tmp, hostile, _, _ = runs
    rows_of(hostile)
    with sqlite3.connect(tmp / "hostile.db") as con:
        tables = {name for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "forged" not in tables
    assert list((tmp / "results").iterdir()) == []
    assert not any(p.name.startswith("forged") for p in tmp.rglob("*"))
    assert "\"pruner\": \"forged\"" not in hostile.stdout


def test_no_process_of_the_run_survives_it(runs):
    assert runs[3] == []
