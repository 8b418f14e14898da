"""``python -m plantseek certify``: records, resume, the generated report, one-line errors."""

from __future__ import annotations

import json

from plantseek.cli import main


def test_certify_writes_resumes_and_reports(tmp_path, capsys):
    out = tmp_path / "cert"
    argv = ["certify", "--task", "relu", "--depth", "3", "--width", "3", "--samples", "6", "--out", str(out)]
    assert main(argv + ["--seeds", "0"]) == 0
    assert main(argv + ["--seeds", "0-1"]) == 0  # seed 0 is done: only seed 1 is solved
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 3 and all("planted 2 weights, certified 2 (optimal" in line for line in printed)
    blob = json.loads((out / "certified.json").read_text())
    recs = blob["records"]
    assert [r["instance"]["seed"] for r in recs] == [0, 1]
    for r in recs:
        assert r["status"] == "optimal" and r["gap"] == 0 and r["check_satisfied"] and r["planted_unique"]
    report = (out / "README.md").read_text()
    # 2 instances, 2 proven, 2 equal to the planted ticket, 0 sparser, 2 unique
    assert "| relu · depth 3 · width 3 · 6 samples | 2 | 2 | 2 | 0 | 2 |" in report


def test_certify_one_line_errors(capsys):
    for argv, needle in [(["certify", "--task", "bars"], "MLP host family"),
                         (["certify", "--task", "circle", "--width", "4"], "narrower"),
                         (["certify", "--task", "relu", "--samples", "0"], "--samples")]:
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own errors exit from the parser
            code = exc.code
        assert code == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("plantseek: error: ") and needle in err[0], err
