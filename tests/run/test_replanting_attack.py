"""The re-planting attack (tests/pruners/hostile/replant.py: the public `plantseek.plant` over seeds 0-24, keeping
the instance whose host weights match): on public instances it returns the exact ticket (so this test can fail),
on hidden instances (`evaluate --instances hidden`, a key file, given to evaluate both as a key file and as
$PLANTSEEK_KEY) it finds nothing and falls back to a random mask: recall no better than random's. Both runs go into
one store, whose leaderboard (`leaderboard`) ranks on the hidden cells and flags the re-planter's public recall as far
above its hidden recall, and not random's (rule: plantseek.stats.gap)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from plantseek.planted.secrets import key_fingerprint, write_key

ROOT = Path(__file__).resolve().parents[2]
REPLANT = str(ROOT / "tests" / "pruners" / "hostile" / "replant.py:Replant")
GRID = ["--suite", "smoke", "--tasks", "circle", "--seeds", "0,1", "--densities", "ticket", "--pruners",
        f"random,{REPLANT}", "--json", "--jobs", "1"]
KEY = bytes(range(7, 39))  # fixed, so that the hidden instances (and random's recall on them) are the same every run


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
    write_key(key_file, KEY)
    keyed = {**env, "PLANTSEEK_KEY_FILE": str(key_file), "PLANTSEEK_KEY": key_file.read_text().strip()}
    rows = {}
    for kind in ("public", "hidden"):
        out = plantseek(["evaluate", *GRID, "--instances", kind, "--store", str(tmp / "both.db")], keyed, tmp).stdout
        rows[kind] = [json.loads(line) for line in out.splitlines()]
    plantseek(["leaderboard", "--store", str(tmp / "both.db"), "--out", str(tmp / "board"), "--no-plots"], env, tmp)
    rows["board"] = tmp / "board"
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


def test_the_leaderboard_ranks_on_hidden_cells_and_flags_the_replanter_not_random(runs):
    board = runs["board"]
    readme = (board / "README.md").read_text()
    assert f"Ranked on hidden instances only (planted from the maintainers' leaderboard key, fingerprint(s) " \
           f"{key_fingerprint(KEY)}" in readme
    gap = readme.split("\n## Public vs hidden instances\n", 1)[1].split("\n## ", 1)[0]
    table = [[c.strip() for c in line.strip("|").split("|")] for line in gap.splitlines() if line.startswith("| ")]
    rows = {cells[0]: cells for cells in table[1:]}  # no header row
    assert set(rows) == {"replant", "random"}
    assert rows["replant"][-1] == "**FLAGGED**" and rows["replant"][-2] == "2"  # two matched (setting, seed) pairs
    assert float(rows["replant"][2]) == 1.0  # public recall: the exact ticket, re-planted
    assert rows["random"][-1] == "no"
    page = (board / "index.html").read_text()
    assert re.search(r'data-v="replant">replant</td>.*?data-v="FLAGGED">FLAGGED</td></tr>', page)
    for f in board.rglob("*"):
        if f.is_file():  # the board has folders (settings/, one page per setting)
            assert KEY.hex().encode() not in f.read_bytes()
