"""The search: resume does not retrain stored runs; a tiny end-to-end run of the optimum command."""

from __future__ import annotations

import json

import pytest

from plantseek.optimum import search as search_mod
from plantseek.optimum.report import best_known
from plantseek.optimum.search import RunStore, SearchConfig, search

TINY = SearchConfig(n_points=200, epochs=1, batch_size=64, lrs=(0.05,), schedules=("constant",),
                    width_values=(1, 2), max_masks=5, bundle=8)


def test_resume_does_not_retrain(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "o.sqlite")
    _, outcomes, s = search(TINY, store, widths={0.95: (2, 2, 2), 0.995: (2, 2, 2)}, say=lambda m: None)
    assert s.trained == 8 + 5  # 8 triples of {1, 2}, then 5 masks of 2-2-2 (the second target reuses them)
    assert outcomes[0].masks_tried == outcomes[1].masks_tried == 5
    first = store.done(TINY.identity())
    calls = []
    real = search_mod.train_bundle
    monkeypatch.setattr(search_mod, "train_bundle", lambda c, runs, **k: calls.append(runs) or real(c, runs, **k))
    _, again, s2 = search(TINY, store, widths={0.95: (2, 2, 2), 0.995: (2, 2, 2)}, say=lambda m: None)
    assert calls == [] and s2.trained == 0
    assert store.done(TINY.identity()) == first
    assert [o.reached for o in again] == [o.reached for o in outcomes]
    store.close()


def test_a_run_is_the_same_alone_or_in_a_bundle():
    runs = [search_mod.Run(2, (2, 2, 2), "1.2/1.2/1.2/3", 0, 8), search_mod.Run(2, (2, 2, 2), "3.1/1.2/1.2/3", 0, 9)]
    together = search_mod.train_bundle(TINY, runs)
    alone = search_mod.train_bundle(TINY, runs[:1])
    assert together[0] == alone[0]


def test_optimum_command_end_to_end(tmp_path, capsys):
    from plantseek.cli import main

    rc = main(["optimum", "--points", "200", "--epochs", "2", "--batch-size", "32", "--lrs", "0.05",
               "--schedules", "cosine", "--width-values", "2,3", "--max-masks", "4", "--bundle", "8",
               "--widths-995", "2-2-2", "--store", str(tmp_path / "o.sqlite"), "--report", str(tmp_path / "rep")])
    assert rc == 0
    out = capsys.readouterr().out
    assert "target 0.95" in out and "target 0.995: minimal widths 2-2-2" in out
    page = (tmp_path / "rep" / "README.md").read_text()
    assert "| 99.50 % | 2-2-2 |" in page and "| 3-3-3 | 27 |" in page
    table = json.loads((tmp_path / "rep" / "best_known.json").read_text())
    entry = table["cubist-spiral"]["0.995"]
    assert entry["widths"] == "2-2-2" and entry["masks_tried"] == 4
    assert best_known("cubist-spiral", 0.995, tmp_path / "rep" / "best_known.json") == entry["nnz"]


def test_best_known_reads_the_table(tmp_path):
    p = tmp_path / "b.json"
    p.write_text(json.dumps({"cubist-spiral": {"0.95": {"nnz": 31}, "0.995": {"nnz": None}}}))
    assert best_known("cubist-spiral", 0.95, p) == 31
    assert best_known("cubist-spiral", 0.995, p) is None
    assert best_known("circle", 0.95, p) is None
    assert best_known("cubist-spiral", 0.95, tmp_path / "none.json") is None


@pytest.mark.parametrize("argv,word", [(["--schedules", "step"], "--schedules"), (["--widths-95", "3-3"], "widths"),
                                       (["--lrs", "0"], "--lrs")])
def test_bad_options_are_one_line(argv, word, capsys):
    from plantseek.cli import main

    with pytest.raises(SystemExit) as e:
        code = main(["optimum", *argv])
        raise SystemExit(code)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert word in err and "Traceback" not in err and err.count("\n") == 1


def test_jobs_give_the_same_rows(tmp_path):
    config = SearchConfig(n_points=200, epochs=1, batch_size=64, lrs=(0.05,), schedules=("constant",),
                          width_values=(1, 2), max_masks=4, bundle=2)
    rows = []
    for jobs in (1, 2):
        store = RunStore(tmp_path / f"j{jobs}.sqlite")
        search(config, store, jobs=jobs, widths={0.95: (2, 2, 2), 0.995: (2, 2, 2)}, say=lambda m: None)
        rows.append(store.done(config.identity()))
        store.close()
    assert rows[0] == rows[1] and len(rows[0]) == 8 + 4
