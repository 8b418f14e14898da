"""A published store never holds the mask of a cell on a hidden instance (docs/hidden-instances.md, "What a published
row reveals"): scored with a fixed test key, public and hidden cells in one store, the hidden cells' masks recomputed
with the key in a second run, then searched for (raw and hex) in every file of the store and of its leaderboard.
``verify`` passes without the key (hidden cells: mask withheld, not refused), still refuses a tampered public row,
a public row without its mask and an edited hidden row, and re-checks a hidden mask when one is there and the key
is given (``verify`` and ``leaderboard`` then warn that the store must not be published)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from types import SimpleNamespace

import pytest

import tampering
from plantseek.core.errors import StoreError
from plantseek.planted.secrets import KEY_ENV, KEY_FILE_ENV, key_fingerprint
from plantseek.records.cells import as_hidden
from plantseek.run.bundle import run_group
from plantseek.run.grid import expand, run_cells
from plantseek.run.suites import SUITES
from plantseek.store.results import ResultStore, load_results

KEY = bytes(range(7, 39))  # a fixed test key: the hidden instances are the same every run
WITHHELD = "4 on hidden instances not recomputed (mask withheld (hidden instance): re-run with the key to check)"


def _no_key(mp: pytest.MonkeyPatch, home: Path) -> None:
    mp.delenv(KEY_ENV, raising=False)
    mp.delenv(KEY_FILE_ENV, raising=False)
    mp.setenv("XDG_CONFIG_HOME", str(home / "config"))  # no key file either
    mp.setenv("HOME", str(home))


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """The smoke suite's Circle cells (random, magnitude x ticket, 0.1; seed 0), public and hidden, in one store;
    and the masks of both kinds recomputed with the key in a second, independent run."""
    tmp = tmp_path_factory.mktemp("hidden-masks")
    public = [c for c in expand(SUITES.get("smoke")) if c.task == "circle"]
    hidden = as_hidden(public, key_fingerprint(KEY))
    assert len(public) == 4
    with pytest.MonkeyPatch.context() as mp:
        _no_key(mp, tmp)
        mp.setenv(KEY_ENV, KEY.hex())
        with ResultStore(tmp / "scored.db") as store:
            run_cells(public + hidden, store=store)
        masks = {c.cell_id: bytes(r.mask) for cells in (public, hidden) for c, r in run_group(cells)}
    return SimpleNamespace(path=tmp / "scored.db", public={c.cell_id for c in public},
                           hidden={c.cell_id for c in hidden}, masks=masks)


@pytest.fixture
def store(scored, tmp_path) -> Path:
    path = tmp_path / "leaderboard" / "plantseek.db"
    path.parent.mkdir()
    shutil.copy(scored.path, path)
    return path


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """``python -m plantseek ARGS`` in this process, without a leaderboard key (``key=True``: with the test key)."""
    from plantseek.cli import main

    def call(*args, key: bool = False):
        _no_key(monkeypatch, tmp_path)
        if key:
            monkeypatch.setenv(KEY_ENV, KEY.hex())
        capsys.readouterr()
        try:
            rc = main(list(args))
        except SystemExit as exc:
            rc = exc.code
        out, err = capsys.readouterr()
        return SimpleNamespace(returncode=rc, stdout=out, stderr=err)

    return call


def rows(path: Path) -> dict[str, dict]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    out = {r["cell_id"]: dict(r) for r in conn.execute("SELECT * FROM cells")}
    conn.close()
    return out


def edit(path: Path, sql: str, params=(), resign: bool = False) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(sql, params)
    if resign:
        tampering.resign(conn)  # every digest, ledger entry and the seal, with the key read from the file
    conn.close()


def secret(scored) -> set[str]:
    """The hidden cells whose masks no public cell has (the instance-dependent ones)."""
    public = {scored.masks[c] for c in scored.public}
    return {c for c in scored.hidden if scored.masks[c] not in public}


def test_the_recomputed_masks_are_the_scored_ones(scored):
    """The search below can fail: the second run reproduces the stored public masks bit for bit (so it gives the
    hidden masks the scorer would have stored), and the hidden masks differ from the public ones."""
    stored = rows(scored.path)
    assert set(stored) == scored.public | scored.hidden and len(stored) == 8
    for cell_id in scored.public:
        assert stored[cell_id]["status"] == "ok" and stored[cell_id]["mask"] == scored.masks[cell_id]
    # random's masks come from the cell's seed alone (not from the instance): the same on both kinds, published
    # with the public cells and telling nothing about a hidden ticket; magnitude's depend on the hidden host
    public = {scored.masks[c] for c in scored.public}
    assert {stored[c]["pruner"] for c in scored.hidden if scored.masks[c] in public} == {"random"}
    assert {stored[c]["pruner"] for c in secret(scored)} == {"magnitude"} and len(secret(scored)) == 2


def test_no_file_of_the_published_store_or_its_leaderboard_holds_a_hidden_mask(scored, store, cli):
    r = cli("leaderboard", "--store", str(store), "--out", str(store.parent / "board"), "--no-plots")
    assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
    stored = rows(store)
    for cell_id in scored.hidden:
        row = stored[cell_id]
        assert row["status"] == "ok" and row["mask"] is None, cell_id
        assert json.loads(row["metrics_json"])["per_layer"]["recall"]  # the recovery metrics stay
    files = [f for f in store.parent.rglob("*") if f.is_file()]
    assert {"plantseek.db", "README.md", "index.html", "results.csv", "results.parquet"} <= {f.name for f in files}
    everything = b"".join(f.read_bytes() for f in files)
    for cell_id in secret(scored):
        mask = scored.masks[cell_id]
        assert len(mask) > 32  # long enough not to occur by chance
        assert mask not in everything and mask.hex().encode() not in everything, cell_id
    assert all(scored.masks[c] in everything for c in scored.public)  # public masks are still published
    csv = (store.parent / "board" / "results.csv").read_text()
    assert csv.count(",hidden,") == 4 and "mask" not in csv.splitlines()[0]
    assert KEY.hex().encode() not in everything


def test_the_frame_and_the_store_api_say_a_hidden_mask_is_withheld(scored, store):
    df = load_results(store, include_masks=True)
    masks = dict(zip(df["cell_id"], df["mask"]))
    assert all(masks[c] is None for c in scored.hidden) and all(masks[c] == scored.masks[c] for c in scored.public)
    hidden = sorted(scored.hidden)[0]
    with ResultStore(store, readonly=True) as s, pytest.raises(StoreError) as info:
        s.mask(hidden, {})
    assert str(info.value) == (f"{store}: cell {hidden} has no stored mask (a cell on a hidden instance: its mask "
                               "is withheld; re-run it with the leaderboard key)")


def test_verify_passes_without_the_key_and_says_which_cells_it_could_not_recompute(store, cli):
    r = cli("verify", "--store", str(store))
    assert r.returncode == 0 and r.stdout == "", r.stdout + r.stderr
    assert f"verify: 4 ok cell(s) recomputed, 0 refused, {WITHHELD}: {store}" in r.stderr
    assert "warning" not in r.stderr
    with_key = cli("verify", "--store", str(store), key=True)
    assert with_key.returncode == 0 and f"4 ok cell(s) recomputed, 0 refused, {WITHHELD}" in with_key.stderr
    r = cli("leaderboard", "--store", str(store), "--out", str(store.parent / "lb"), "--no-plots", "--verify")
    assert r.returncode == 0 and "refused" not in r.stderr, r.stderr
    assert (store.parent / "lb" / "results.csv").read_text().count(",hidden,") == 4  # none left out


def test_verify_still_refuses_a_tampered_public_row(scored, store, cli):
    row = rows(store)[sorted(scored.public)[0]]
    recall = json.loads(row["metrics_json"])["recall"]
    edit(store, "UPDATE cells SET metrics_json = json_set(metrics_json, '$.recall', ?) WHERE cell_id = ?",
         (min(1.0, recall + 0.25), row["cell_id"]), resign=True)
    r = cli("verify", "--store", str(store))
    assert r.returncode == 1
    assert r.stdout.startswith(f"refused cell {row['cell_id']} (task circle, pruner {row['pruner']}, density "
                               f"{row['density_spec']}, seed 0): recomputed values differ: recall (stored ")
    assert len(r.stdout.splitlines()) == 1 and f"4 ok cell(s) recomputed, 1 refused, {WITHHELD}" in r.stderr


def test_a_public_row_without_its_mask_is_refused(scored, store, cli):
    cell_id = sorted(scored.public)[1]
    edit(store, "UPDATE cells SET mask = NULL WHERE cell_id = ?", (cell_id,), resign=True)
    r = cli("verify", "--store", str(store))
    assert r.returncode == 1 and cell_id in r.stdout
    assert r.stdout.rstrip().endswith("no stored mask to recompute the recovery metrics from")


def test_an_edited_hidden_row_is_refused_by_its_digest(scored, store, cli):
    cell_id = sorted(scored.hidden)[0]
    edit(store, "UPDATE cells SET metrics_json = json_set(metrics_json, '$.recall', 1.0) WHERE cell_id = ?",
         (cell_id,))
    r = cli("verify", "--store", str(store))
    assert r.returncode == 1 and cell_id in r.stdout and "digest mismatch" in r.stdout


def test_a_hidden_mask_in_an_older_store_is_rechecked_with_the_key_and_warned_about(scored, store, cli):
    """A store written before masks were withheld: the hidden mask is recomputed (with the key: it matches its
    stored metrics) and verify warns that the store must not be published."""
    cell_id = sorted(scored.hidden)[0]
    edit(store, "UPDATE cells SET mask = ? WHERE cell_id = ?", (scored.masks[cell_id], cell_id), resign=True)
    r = cli("verify", "--store", str(store), key=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "5 ok cell(s) recomputed, 0 refused, 3 on hidden instances not recomputed" in r.stderr
    assert ("verify: warning: 1 cell(s) on hidden instances carry their mask (written before plantseek withheld "
            "them); do not publish this store") in r.stderr
    r = cli("leaderboard", "--store", str(store), "--out", str(store.parent / "board"), "--no-plots")
    assert r.returncode == 0 and (f"plantseek: warning: 1 cell(s) on hidden instances in {store} carry their mask "
                                  "(written before plantseek withheld them); do not publish this store") in r.stderr
    other = scored.masks[sorted(scored.hidden)[1]]  # another hidden cell's mask: its metrics do not fit
    edit(store, "UPDATE cells SET mask = ? WHERE cell_id = ?", (other, cell_id), resign=True)
    r = cli("verify", "--store", str(store), key=True)
    assert r.returncode == 1 and cell_id in r.stdout and "recomputed values differ" in r.stdout
