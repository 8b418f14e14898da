"""What `evaluate` prints at the end: the compact summary by default, every cell with --table full."""

from __future__ import annotations

import pytest

from plantseek.cli import main
from plantseek.cli.evaluate import print_results
from plantseek.records.cells import CellConfig, CellResult


def _results():
    out = []
    for pruner, weak, recall in (("random", 0.2, 0.0), ("magnitude", 1.5e-4, 0.5)):
        for seed in (0, 1):
            config = CellConfig("relu", 5, 100, seed, pruner, "0.1")
            result = CellResult(status="ok", metric_name="mse", higher_is_better=False, density=0.1,
                                achieved_density=0.1, strong_metric=4.5e10, weak_metric=weak * (1 + seed),
                                ticket_metric=1e-4, protocol="single-shot", metrics={"recall": recall})
            out.append((config, result))
    return out


def test_summary_by_default_full_table_on_request(capsys):
    print_results(_results(), "summary")
    text = capsys.readouterr().out
    assert text.startswith("== relu · depth 5 · width 100")
    assert "0.000225 [0.00015, 0.0003]* · 0.5 [0.5, 0.5]" in text  # magnitude (best): mean of 1.5e-4 and 3e-4
    assert "0.3 [0.2, 0.4] · 0 [0, 0]" in text
    assert text.index("magnitude") < text.index("random")  # best first
    assert "4.5e+10" not in text and "--table full" in text
    print_results(_results(), "full")
    full = capsys.readouterr().out
    assert "4.5e+10" in full and len(full.strip().splitlines()) == 1 + 4


def test_table_option_is_checked(capsys):
    with pytest.raises(SystemExit) as e:
        main(["evaluate", "--suite", "smoke", "--no-store", "--table", "wide"])
    assert e.value.code == 2 and "invalid choice: 'wide'" in capsys.readouterr().err


EXITS = "tests/pruners/hostile/exits.py:Exits"
TINY = ["evaluate", "--suite", "smoke", "--tasks", "relu", "--densities", "0.1", "--seeds", "0", "--n-samples", "100",
        "--epochs", "0", "--no-store", "--no-progress"]


def _run(argv):
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def test_exit_status_is_1_when_a_cell_failed_unless_allowed(capsys, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # the pruner file is given relative to the checkout
    assert _run(TINY + ["--pruners", "random"]) == 0
    capsys.readouterr()
    assert _run(TINY + ["--pruners", f"random,{EXITS}"]) == 1
    err = capsys.readouterr().err
    assert "1 of 2 cells failed" in err and "--allow-failed" in err and "Traceback" not in err
    assert _run(TINY + ["--pruners", f"random,{EXITS}", "--allow-failed"]) == 0


def test_json_rows_describe_their_cell(capsys):
    import json

    from plantseek.records.cells import CellConfig

    assert _run(TINY + ["--pruners", "random", "--json", "--noise", "0.05"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == 1
    row = rows[0]
    assert (row["depth"], row["width"], row["training_protocol"], row["instances"]) == (
        4, 20, "calibrated", "public")
    assert row["task_options"] == {"noise": 0.05} and row["config"]["train"]["epochs"] == 0
    assert CellConfig.from_dict(row["config"]).cell_id == row["cell_id"]  # the row alone rebuilds its identity
