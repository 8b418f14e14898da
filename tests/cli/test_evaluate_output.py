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
    assert "0.000225 [0.00015, 0.0003] · 0.50 [0.50, 0.50]" in text  # magnitude: mean of 1.5e-4 and 3e-4
    assert "0.3 [0.2, 0.4] · 0.00 [0.00, 0.00]" in text
    assert "4.5e+10" not in text and "--table full" in text
    print_results(_results(), "full")
    full = capsys.readouterr().out
    assert "4.5e+10" in full and len(full.strip().splitlines()) == 1 + 4


def test_table_option_is_checked(capsys):
    with pytest.raises(SystemExit) as e:
        main(["evaluate", "--suite", "smoke", "--no-store", "--table", "wide"])
    assert e.value.code == 2 and "invalid choice: 'wide'" in capsys.readouterr().err
