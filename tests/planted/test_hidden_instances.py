"""Hidden instances: seeds from HMAC(key, spec); the key file and its configuration; cells that record them; the key
never stored or shown."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from plantseek.cli import main
from plantseek.core.errors import ConfigError
from plantseek.planted import secrets
from plantseek.planted.instance import plant
from plantseek.planted.task import DataConfig
from plantseek.records.cells import CellConfig, as_hidden

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))
SPEC = dict(depth=4, width=20, seed=3, data=DataConfig(n_samples=400))


def _digest(inst) -> str:
    """SHA-256 over every tensor that makes up an instance (host, ticket, scales, data)."""
    h = hashlib.sha256()
    parts = [*inst.initial_state.values(), *inst.ticket.values(), inst.scales, inst.data.train.x, inst.data.train.y,
             inst.data.test.x, inst.data.test.y]
    for t in parts:
        h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()


@pytest.fixture
def no_key(monkeypatch, tmp_path):
    """No key configured: the environment variables unset and the default key path in an empty folder."""
    monkeypatch.delenv(secrets.KEY_ENV, raising=False)
    monkeypatch.delenv(secrets.KEY_FILE_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path


def test_hidden_instance_differs_from_the_public_one_of_the_same_spec():
    public, hidden = plant("relu", **SPEC), plant("relu", key=KEY, **SPEC)
    assert not torch.equal(public.initial_state["layers.1.weight"], hidden.initial_state["layers.1.weight"])
    assert not torch.equal(public.data.train.x, hidden.data.train.x)
    assert any(not torch.equal(a, b) for a, b in zip(public.placement, hidden.placement))
    assert hidden.spec.key_fingerprint == hashlib.sha256(KEY).hexdigest()[:16] and not public.spec.hidden
    assert "key_fingerprint" not in public.spec.as_dict()  # public specs (and their saved files) are unchanged


def test_same_key_reproduces_bit_for_bit_in_another_process_and_another_key_does_not():
    here = _digest(plant("relu", key=KEY, **SPEC))
    code = ("import plantseek, sys; from plantseek.planted.task import DataConfig; "
            "sys.path.insert(0, 'tests/planted'); from test_hidden_instances import _digest; "
            f"print(_digest(plantseek.plant('relu', depth=4, width=20, seed=3, data=DataConfig(n_samples=400), "
            f"key=bytes.fromhex('{KEY.hex()}'))))")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(root)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == here
    assert _digest(plant("relu", key=OTHER, **SPEC)) != here
    assert _digest(plant("relu", key=KEY, **{**SPEC, "seed": 4})) != here  # the seed is part of the message


def test_secret_seed_depends_on_key_spec_and_stream():
    s = secrets.secret_seed(KEY, "spec", "host")
    assert s == secrets.secret_seed(KEY, "spec", "host") and 0 <= s < 2**63
    assert len({s, secrets.secret_seed(OTHER, "spec", "host"), secrets.secret_seed(KEY, "spec2", "host"),
                secrets.secret_seed(KEY, "spec", "data")}) == 4


def test_key_from_env_file_and_default_path(no_key, monkeypatch):
    with pytest.raises(ConfigError, match="keygen"):
        secrets.load_key()
    path = no_key / "config" / "plantseek" / "leaderboard.key"
    secrets.write_key(path, KEY)
    assert secrets.load_key() == KEY
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    other = no_key / "other.key"
    secrets.write_key(other, OTHER)
    monkeypatch.setenv(secrets.KEY_FILE_ENV, str(other))
    assert secrets.load_key() == OTHER
    monkeypatch.setenv(secrets.KEY_ENV, KEY.hex())
    assert secrets.load_key() == KEY
    monkeypatch.setenv(secrets.KEY_ENV, "not hex")
    with pytest.raises(ConfigError, match="hexadecimal"):
        secrets.load_key()
    monkeypatch.setenv(secrets.KEY_ENV, "abcd")
    with pytest.raises(ConfigError, match="too short"):
        secrets.load_key()


def test_keygen_writes_a_private_key_and_never_replaces_one(no_key, capsys):
    out = no_key / "k" / "leaderboard.key"
    assert main(["keygen", "--out", str(out)]) == 0
    key = secrets.parse_key(out.read_text(), "test")
    assert len(key) == secrets.KEY_BYTES and stat.S_IMODE(out.stat().st_mode) == 0o600
    printed = capsys.readouterr()
    assert secrets.key_fingerprint(key) in printed.out and key.hex() not in printed.out + printed.err
    assert main(["keygen", "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err and secrets.parse_key(out.read_text(), "test") == key
    assert main(["keygen", "--out", str(out), "--force"]) == 0
    assert secrets.parse_key(out.read_text(), "test") != key


def test_hidden_cells_have_new_ids_public_ones_keep_theirs():
    cell = CellConfig("relu", 4, 20, 0, "random", "ticket")
    assert "instances" not in cell.identity() and "key_fingerprint" not in cell.identity()
    hidden, = as_hidden([cell], "0123456789abcdef")
    assert hidden.identity()["instances"] == "hidden" and hidden.cell_id != cell.cell_id
    assert as_hidden([cell], "fedcba9876543210")[0].cell_id != hidden.cell_id
    assert hidden.instance_key != cell.instance_key
    with pytest.raises(ConfigError):
        CellConfig("relu", 4, 20, 0, "random", "ticket", instances="hidden")
    with pytest.raises(ConfigError):
        CellConfig("relu", 4, 20, 0, "random", "ticket", instances="secret", key_fingerprint="x")


def test_evaluate_hidden_needs_a_key(no_key, capsys):
    code = main(["evaluate", "--suite", "smoke", "--tasks", "relu", "--pruners", "random", "--densities", "ticket",
                 "--no-store", "--no-progress", "--instances", "hidden"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("plantseek: error: hidden instances need a leaderboard key")
    assert len(err.strip().splitlines()) == 1


def test_hidden_cells_are_stored_and_shown_as_hidden_and_the_key_never_is(no_key, monkeypatch, tmp_path, capsys):
    from plantseek.store.results import load_results

    monkeypatch.setenv(secrets.KEY_ENV, KEY.hex())
    store, board = tmp_path / "r.db", tmp_path / "board"
    grid = ["--suite", "smoke", "--tasks", "relu", "--pruners", "random", "--densities", "ticket", "--store",
            str(store), "--no-progress", "--jobs", "1"]
    assert main(["evaluate", *grid, "--instances", "hidden"]) == 0
    assert main(["evaluate", *grid]) == 0
    assert main(["leaderboard", "--store", str(store), "--out", str(board), "--no-plots"]) == 0
    df = load_results(store)
    configs = [json.loads(c) for c in df["config_json"]]
    assert sorted(c["instances"] for c in configs) == ["hidden", "public"]
    assert {c["key_fingerprint"] for c in configs} == {"", secrets.key_fingerprint(KEY)}
    assert set(df["status"]) == {"ok"} and df["recall"].notna().all()
    # the hidden cell's ticket is the hidden instance's: its strong reference differs from the public one's
    assert df["ticket_metric"].nunique() == 2
    page = (board / "index.html").read_text()
    assert f"hidden instances (key {secrets.key_fingerprint(KEY)})" in page
    assert "hidden instances" in (board / "README.md").read_text()
    for f in [store, *board.rglob("*")]:
        if f.is_file():
            data = f.read_bytes()
            assert KEY.hex().encode() not in data and KEY.hex().upper().encode() not in data and KEY not in data
    capsys.readouterr()
