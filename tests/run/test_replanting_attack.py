"""The re-planting attack (tests/pruners/hostile/replant.py: the public `plantseek.plant` over seeds 0-24, keeping
the instance whose host weights match): on public instances it returns the exact ticket (so this test can fail),
on hidden instances (`evaluate --instances hidden`, a key from `keygen`, given to evaluate both as a key file and
as $PLANTSEEK_KEY) it finds nothing and falls back to a random mask: recall no better than random's."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REPLANT = str(ROOT / "tests" / "pruners" / "hostile" / "replant.py:Replant")
GRID = ["--suite", "smoke", "--tasks", "circle", "--seeds", "0,1", "--densities", "ticket", "--pruners",
        f"random,{REPLANT}", "--no-store", "--json", "--jobs", "1"]


def plantseek(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "plantseek", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("replant")
    key_file = tmp / "keys" / "leaderboard.key"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(tmp / "config")}
    env.pop("PLANTSEEK_KEY", None)
    env.pop("PLANTSEEK_KEY_FILE", None)
    plantseek(["keygen", "--out", str(key_file)], env, tmp)
    keyed = {**env, "PLANTSEEK_KEY_FILE": str(key_file), "PLANTSEEK_KEY": key_file.read_text().strip()}
    rows = {}
    for kind in ("public", "hidden"):
        out = plantseek(["evaluate", *GRID, "--instances", kind], keyed, tmp).stdout
        rows[kind] = [json.loads(line) for line in out.splitlines()]
    return rows


def by_pruner(rows: list[dict], name: str) -> list[dict]:
    mine = [r for r in rows if r["pruner"] == name]
    assert len(mine) == 2 and all(r["status"] == "ok" for r in mine), mine
    return mine


def test_replanting_finds_the_ticket_of_a_public_instance(runs):
    for row in by_pruner(runs["public"], "replant"):
        assert row["recall"] == 1.0 and row["precision"] == 1.0


def test_replanting_a_hidden_instance_is_no_better_than_random(runs):
    replant, random = by_pruner(runs["hidden"], "replant"), by_pruner(runs["hidden"], "random")
    public_ids = {r["cell_id"] for r in runs["public"]}
    assert not public_ids & {r["cell_id"] for r in runs["hidden"]}  # other instances, not the public ones
    for row in replant + random:
        # random's expected recall is the ticket density (~0.1 here); the ticket's is 1
        assert row["recall"] < 0.4 and row["precision"] < 0.4, row
    assert max(r["recall"] for r in replant) <= max(r["recall"] for r in random) + 0.2
