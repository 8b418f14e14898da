"""``python -m plantseek reproduce``: argument validation (one line, exit 2) and a tiny end-to-end run (a stub scale
on the smoke grid) that stores its cells, writes the report, resumes, and re-renders it with --report-only."""

from __future__ import annotations

import pytest

from plantseek.cli import main
from plantseek.repro.findings import FINDINGS
from plantseek.repro.scales import SCALES, Scale
from plantseek.store.results import load_results

STUB = Scale("stub", "the smoke grid (depth 4, width 20, 400 samples, 1 epoch), one seed",
             common=(("densities", ("ticket", "0.01", "0.1", "0.5")), ("pruners", ("random",))),
             choices=("the smoke grid",),
             grids=("singleshot",), base={"singleshot": "smoke"})


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("argv, says", [
    (["--scale", "huge"], "unknown scale 'huge' (known: paper, small)"),
    (["--jobs", "-1"], "argument --jobs: must be an integer >= 0"),
    (["--jobs", "x"], "argument --jobs: invalid int value"),
    (["--store", ""], "argument --store: empty path"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_bad_arguments_are_one_line_errors(argv, says, capsys):
    with pytest.raises(SystemExit) as exc:
        rc = main(["reproduce", *argv])
        raise SystemExit(rc)
    assert exc.value.code == 2
    assert says in _error(capsys)


def test_paths_are_checked_before_any_work(tmp_path, capsys):
    assert main(["reproduce", "--report-only", "--store", str(tmp_path / "none.db")]) == 2
    assert "no results store" in _error(capsys)
    assert main(["reproduce", "--store", str(tmp_path / "s.db"), "--out", str(tmp_path)]) == 2
    line = _error(capsys)
    assert line.startswith("plantseek: error: --out") and line.endswith("is a folder, not a file")
    assert not (tmp_path / "s.db").exists()


def test_stub_scale_runs_stores_resumes_and_rerenders(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(SCALES._items, "stub", STUB)
    store, out = tmp_path / "r.db", tmp_path / "R.md"
    argv = ["reproduce", "--scale", "stub", "--store", str(store), "--out", str(out), "--jobs", "1", "--no-progress"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "8 cells (0 already in" in err and "8 to run" in err
    frame = load_results(store)
    assert len(frame) == 8 and set(frame["status"]) == {"ok"}
    assert set(frame["depth"]) == {4} and set(frame["width"]) == {20}
    text = out.read_text()
    for f in FINDINGS:
        assert f"| [{f.id}](#" in text and f". {f.id}\n" in text, f.id
    row = next(line for line in text.splitlines() if line.startswith("| 1 | [ss-moderate]"))
    # one seed: the intervals decide nothing (fewer than MIN_SEEDS), an honest "undecided at this scale"
    assert "| **undecided at this scale** |" in row and "(n=1): fewer than 5 seeds → undecided ?" in row
    undecided, unchecked = text.count("| **undecided at this scale**"), text.count("| **not checked** |")
    assert undecided + unchecked == len(FINDINGS) and undecided >= 1
    assert f"**{len(FINDINGS)} findings: reproduced 0; not reproduced 0; undecided at this scale {undecided}; not " \
           f"checked {unchecked}.**" in text
    ms = next(line for line in text.splitlines() if line.startswith("| 12 | [ms-circle]"))
    assert "| **not checked** | grid(s) not run at this scale: multishot |" in ms
    detail = next(line for line in text.splitlines() if line.startswith("- circle · random (weak): ticket "))
    assert ": shortfall +" in detail and "(n=1): fewer than 5 seeds → undecided; 0.01 " in detail  # every group
    assert "| singleshot |" in text and "| 8 | 8 | 0 | 0 |" in text
    assert "- the smoke grid" in text and "`calibrated`" in text
    assert main(argv) == 0  # resumable: nothing left to run, the same report
    assert "8 cells (8 already in" in capsys.readouterr().err
    assert out.read_text() == text
    out.unlink()
    assert main(["reproduce", "--scale", "stub", "--store", str(store), "--out", str(out), "--report-only"]) == 0
    assert out.read_text() == text  # the same cells, the same report (the command line omits --report-only)
    assert len(load_results(store)) == 8
