"""Hostile pruners (tests/pruners/hostile/, one attack per file) in one `evaluate --json --jobs 2` grid with two
honest pruners: every attack fails its own cells with a one-line reason or has no effect, the honest cells equal
a clean run's bit for bit, stdout stays parseable JSON, the store and the results folder are untouched, no
process of the run survives it, nothing of it is left in /dev/shm, no leaderboard key (planted in the run's
environment: ``XDG_CONFIG_HOME``, ``PLANTSEEK_KEY_FILE``, ``PLANTSEEK_KEY``) appears in any output, and every
stored reason is one sanitised line."""

import json
import math
import os
import re
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
    "output_links.py:OutputLinks": "worker exited with status 1 before answering (last output: links in place)",
    "output_hardlink.py:OutputHardlink": "status 1 before answering (last output: hard link tried)",
    "output_fifo.py:OutputFifo": "worker exited with status 1 before answering (last output: fifo in place)",
    "key_reader.py:KeyReader": "crashed: RuntimeError: found '' at key_reader.py",
    "escape_codes.py:EscapeCodes": "crashed: RuntimeError: red second line end at escape_codes.py",
    "compute_forgery.py:ComputeForgery": "ok",
    "shm_hoard.py:ShmHoard": "crashed: RuntimeError: hoarding refused: ['/dev/shm: PermissionError', "
                             "'memfd: PermissionError']",
    "system_reader.py:SystemReader": "crashed: RuntimeError: opened: []; refused needed: []",
}
KEYS = {"XDG_CONFIG_HOME": "11" * 32, "PLANTSEEK_KEY_FILE": "22" * 32, "PLANTSEEK_KEY": "33" * 32}
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
    (tmp / "config" / "plantseek").mkdir(parents=True)
    (tmp / "config" / "plantseek" / "leaderboard.key").write_text(KEYS["XDG_CONFIG_HOME"] + "\n")
    (tmp / "other.key").write_text(KEYS["PLANTSEEK_KEY_FILE"] + "\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), marker: "1", "HOSTILE_STORE": str(tmp / "hostile.db"),
           "HOSTILE_RESULTS": str(tmp / "results"), "HOSTILE_INSTANCE": str(tmp / "instance.pt"),
           "XDG_CONFIG_HOME": str(tmp / "config"), "HOSTILE_CONFIG": str(tmp / "config"),
           "PLANTSEEK_KEY_FILE": str(tmp / "other.key"), "PLANTSEEK_KEY": KEYS["PLANTSEEK_KEY"]}
    pruners = ",".join(["magnitude", "random"] + [f"{HOSTILE / ref}" for ref in EXPECTED])
    hostile = evaluate(GRID + ["--pruners", pruners, "--store", str(tmp / "hostile.db")], env, tmp)
    survivors = no_survivors(marker)
    clean = evaluate(GRID + ["--pruners", "magnitude,random", "--store", str(tmp / "clean.db")], env, tmp)
    return tmp, hostile, clean, survivors


def rows_of(proc: subprocess.CompletedProcess) -> list[dict]:
    failed = any(json.loads(line)["status"] != "ok" for line in proc.stdout.splitlines())
    assert proc.returncode == (1 if failed else 0), proc.stderr[-2000:]  # exit 1 when a cell failed
    return [json.loads(line) for line in proc.stdout.splitlines()]  # every line parses


def test_every_attack_fails_alone_or_changes_nothing(runs):
    _, hostile, _, _ = runs
    rows = rows_of(hostile)
    assert len(rows) == 2 * (2 + len(EXPECTED)) and {r["pruner"] for r in rows} >= {"magnitude", "random"}
    wrong = {}
    for ref, expected in EXPECTED.items():
        errors = {r["error"] for r in rows if r["pruner_source"] == ref}
        if not all(expected in (e or "ok") for e in errors):
            wrong[ref] = errors
    assert not wrong
    for ref, expected in EXPECTED.items():
        mine = [r for r in rows if r["pruner_source"] == ref]
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


def test_nothing_is_left_in_shared_memory(runs):
    assert not list(Path("/dev/shm").glob("plantseek-hoard-*"))  # hoarding refused, not merely cleaned up


def test_no_key_and_no_environment_of_ours_in_any_output(runs):
    tmp, hostile, _, _ = runs
    rows_of(hostile)
    stored = b"".join(p.read_bytes() for p in tmp.glob("hostile.db*"))  # the store (and its journal, if any)
    for text in (hostile.stdout, hostile.stderr, stored.decode("latin-1")):
        for key in KEYS.values():
            assert key not in text
        assert str(tmp / "config") not in text and "PYTHONPATH=" not in text  # no environ / cmdline of ours


def test_every_stored_reason_is_one_sanitised_line(runs):
    _, hostile, _, _ = runs
    for r in rows_of(hostile):
        error = r["error"] or ""
        assert error == error.strip() and len(error) <= 500
        assert not re.search(r"[\x00-\x1f\x7f-\x9f\u202e]", error), error


def test_forged_compute_is_replaced_by_the_parents_measurement(runs):
    tmp, hostile, _, _ = runs
    forged = [r for r in rows_of(hostile) if r["pruner_source"] == "compute_forgery.py:ComputeForgery"]
    with ResultStore(tmp / "hostile.db") as store:
        for r in forged:
            result = store.get(r["cell_id"]).result
            assert result.prune_seconds >= 0.3 and r["prune_seconds"] == result.prune_seconds  # not the forged 0
            compute = result.compute
            assert compute["prune_cpu_seconds"] >= 0.3 and compute["prune_parent_seconds"] >= 0.3
            assert compute["worker_prune_seconds"] == 0.0 and compute["prune_flops"] == 0.0  # forged, and labelled:
            assert compute["self_reported"] == 1.0 and not math.isnan(compute["prune_cpu_seconds"])
