"""Regenerating a leaderboard after new cells rewrites only the settings that changed, and what it leaves in place is
byte for byte what a full regeneration writes (plantseek.report.incremental)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_leaderboard import NOW, synthetic_results  # noqa: E402

from plantseek.frame.prepared import prepared  # noqa: E402
from plantseek.report import incremental  # noqa: E402
from plantseek.report.leaderboard import write_leaderboard  # noqa: E402


def _pages(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((out / "settings").glob("*.html"))}


def _setting_pages_written(files: list[Path]) -> set[str]:
    return {p.name for p in files if p.parent.name == "settings" and p.suffix == ".html"}


def test_only_changed_settings_are_rewritten_and_equal_a_full_rebuild(tmp_path):
    df = synthetic_results(tasks=("circle", "relu"), pruners=("random", "snip", "synflow"), seeds=(0, 1, 2))
    slug = dict(zip(df["task"], prepared(df)["_slug"]))
    old = df[~((df["task"] == "relu") & (df["seed"] == 2))]  # relu's seed 2 arrives later
    out = tmp_path / "board"
    first = write_leaderboard(old, out, with_plots=False, now=NOW)
    assert _setting_pages_written(first) == {f"{slug['circle']}.html", f"{slug['relu']}.html"}
    again = write_leaderboard(old, out, with_plots=False, now=NOW)
    assert _setting_pages_written(again) == set()  # nothing new: no setting page rewritten
    after = write_leaderboard(df, out, with_plots=False, now=NOW)
    assert _setting_pages_written(after) == {f"{slug['relu']}.html"}  # only the setting with new cells
    assert {p.name for p in after} >= {"index.html", "all.html", "README.md", "results.csv"}  # the global pages
    fresh = tmp_path / "fresh"
    write_leaderboard(df, fresh, with_plots=False, now=NOW)
    assert _pages(out) == _pages(fresh)
    for name in ("index.html", "all.html", "README.md"):
        assert (out / name).read_bytes() == (fresh / name).read_bytes()


def test_a_changed_value_a_deleted_page_or_changed_code_rewrites(tmp_path, monkeypatch):
    df = synthetic_results(tasks=("circle", "relu"), pruners=("random", "snip"), seeds=(0, 1))
    slug = dict(zip(df["task"], prepared(df)["_slug"]))
    out = tmp_path / "board"
    write_leaderboard(df, out, with_plots=False, now=NOW)
    changed = df.copy()
    changed.loc[changed.index[changed["task"].eq("circle")][0], "recall"] = 0.123  # one stored value, same cells
    assert _setting_pages_written(write_leaderboard(changed, out, with_plots=False, now=NOW)) == {
        f"{slug['circle']}.html"}
    (out / "settings" / f"{slug['relu']}.html").unlink()
    assert _setting_pages_written(write_leaderboard(changed, out, with_plots=False, now=NOW)) == {
        f"{slug['relu']}.html"}
    monkeypatch.setattr(incremental, "code_fingerprint", lambda: "another version of the report code")
    assert len(_setting_pages_written(write_leaderboard(changed, out, with_plots=False, now=NOW))) == 2


def test_fingerprints_ignore_row_order_and_see_every_stored_column():
    df = prepared(synthetic_results(tasks=("circle",), pruners=("random", "snip"), seeds=(0, 1)))
    base = incremental.setting_fingerprints(df, with_plots=True)
    assert incremental.setting_fingerprints(df.sample(frac=1, random_state=1), with_plots=True) == base
    assert incremental.setting_fingerprints(df, with_plots=False) != base
    other = df.copy()
    other.loc[other.index[0], "created_at"] = "2030-01-01T00:00:00+00:00"
    assert incremental.setting_fingerprints(other, with_plots=True) != base


def test_a_new_method_rewrites_only_its_settings_without_figures_and_every_setting_with_them():
    df = prepared(synthetic_results(tasks=("circle", "relu"), pruners=("random", "snip", "synflow"), seeds=(0, 1)))
    old = df[~(df["pruner"].eq("synflow"))]  # synflow is a new method, its cells on circle only
    new = df[~(df["pruner"].eq("synflow") & df["task"].eq("relu"))]
    slug = dict(zip(df["task"], df["_slug"]))
    before, after = (incremental.setting_fingerprints(f, with_plots=False) for f in (old, new))
    assert before[slug["relu"]] == after[slug["relu"]] and before[slug["circle"]] != after[slug["circle"]]
    before, after = (incremental.setting_fingerprints(f, with_plots=True) for f in (old, new))
    assert all(before[s] != after[s] for s in before)  # the figures' colours follow the list of all methods


def test_hidden_cells_anywhere_change_every_setting():
    """With hidden cells in the frame, every setting's leaders are ranked on hidden cells alone."""
    df = prepared(synthetic_results(tasks=("circle", "relu"), pruners=("random", "snip"), seeds=(0, 1)))
    slug = dict(zip(df["task"], df["_slug"]))
    base = incremental.setting_fingerprints(df, with_plots=False)
    hidden = df.copy()
    hidden.loc[hidden.index[hidden["task"].eq("circle")][0], "instances"] = "hidden"
    changed = incremental.setting_fingerprints(hidden, with_plots=False)
    assert changed[slug["relu"]] != base[slug["relu"]]  # relu's own cells did not change


def test_with_figures_the_kept_ones_and_the_pages_equal_a_full_rebuild(tmp_path):
    df = synthetic_results(tasks=("circle", "relu"), pruners=("random", "snip", "synflow"), seeds=(0, 1))
    old = df[~((df["task"] == "relu") & (df["seed"] == 1))]
    out, fresh = tmp_path / "board", tmp_path / "fresh"
    write_leaderboard(old, out, now=NOW)
    after = write_leaderboard(df, out, now=NOW)
    redrawn = {p.name for p in after if p.suffix == ".png"}
    assert redrawn and all(name.startswith("relu") for name in redrawn)  # circle's figures were kept
    write_leaderboard(df, fresh, now=NOW)
    files = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    for rel in files:  # figures, diagrams, pages and fingerprints: the same bytes
        assert (out / rel).read_bytes() == (fresh / rel).read_bytes(), rel


def test_a_setting_that_is_gone_takes_its_page_along_and_a_damaged_manifest_deletes_nothing_else(tmp_path):
    import json

    df = synthetic_results(tasks=("circle", "relu"), pruners=("random", "snip"), seeds=(0, 1))
    slug = dict(zip(df["task"], prepared(df)["_slug"]))
    out = tmp_path / "board"
    write_leaderboard(df, out, with_plots=False, now=NOW)
    assert (out / "settings" / f"{slug['relu']}.html").is_file()
    write_leaderboard(df[df["task"].eq("circle")], out, with_plots=False, now=NOW)
    assert not (out / "settings" / f"{slug['relu']}.html").exists()  # relu's setting is gone: so is its page
    assert _pages(out) == {f"{slug['circle']}.html": (out / "settings" / f"{slug['circle']}.html").read_bytes()}
    # a manifest entry that names files outside settings/ and plots/ (or of other kinds) removes none of them
    keep = [tmp_path / "precious.html", out / "README.md", out / "settings" / "notes.txt"]
    keep[2].write_text("mine")
    keep[0].write_text("mine")
    manifest = json.loads((out / incremental.MANIFEST).read_text())
    manifest["ghost"] = {"page": "../precious.html", "figures": [["a", "README.md"], ["b", "settings/notes.txt"],
                                                                 ["c", "/etc/hostname"]]}
    manifest["broken"] = "not an entry"
    (out / incremental.MANIFEST).write_text(json.dumps(manifest))
    write_leaderboard(df[df["task"].eq("circle")], out, with_plots=False, now=NOW)
    assert all(p.is_file() for p in keep)
