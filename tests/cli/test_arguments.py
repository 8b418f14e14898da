"""Every bound of the command line at its edges: accepted at the bound, one-line exit 2 beyond it, before any work.

``plantseek.cli.validate`` parses and checks as ``main`` does before running; ``main`` is called only where the
outcome of a run (a write failure) is under test.
"""

from __future__ import annotations

import errno
import math
from pathlib import Path

import pytest

from plantseek.cli import main, validate
from plantseek.cli.arguments import host_fits, jobs_fit
from plantseek.core import limits
from plantseek.core.errors import ConfigError, PlantseekError

SMOKE = ["evaluate", "--suite", "smoke", "--tasks", "relu", "--pruners", "random", "--no-store"]


def rejected(argv, capsys) -> str:
    """The one error line of ``argv`` (which must be rejected with exit 2)."""
    try:
        validate(argv)
    except SystemExit as exc:
        assert exc.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
    except PlantseekError as exc:
        lines = [f"plantseek: error: {exc}"]
    else:
        pytest.fail(f"accepted: {argv}")
    assert len(lines) == 1 and lines[0].startswith("plantseek: error: ")
    return lines[0]


@pytest.mark.parametrize("value,ok", [("0", False), ("1", True), ("65536", True), ("65537", False)])
def test_width_static_bounds(value, ok, capsys):
    args = ["plant", "--task", "relu", "--depth", "3", "--width", value]
    if ok and int(value) > limits.max_width(3):  # parses; then the memory rule of this machine refuses it
        assert "exceed 1/16 of the available memory" in rejected(args, capsys)
    elif ok:
        assert validate(args).width == int(value)
    else:
        assert "argument --width" in rejected(args, capsys)


def test_width_memory_rule_at_its_bound():
    memory = 16 * 8 * 5 * 100**2  # exactly one width-100, depth-5 host at 1/16 of it
    assert limits.max_width(5, memory) == 100
    host_fits(100, 5, memory)
    with pytest.raises(ConfigError, match="--width 101 at depth 5"):
        host_fits(101, 5, memory)


def test_width_beyond_memory_is_rejected_by_every_command(capsys):
    too_wide = limits.max_width(64) + 1
    for argv in (["plant", "--task", "relu", "--depth", "64", "--width", str(too_wide)],
                 [*SMOKE, "--depth", "64", "--width", str(too_wide)]):
        assert "exceed 1/16 of the available memory" in rejected(argv, capsys)


def test_width_narrower_than_the_ticket_is_rejected_up_front(capsys):
    assert "narrower than the ticket" in rejected(["plant", "--task", "circle", "--width", "1"], capsys)
    assert "narrower than the ticket" in rejected([*SMOKE, "--tasks", "circle", "--width", "1"], capsys)
    assert validate(["plant", "--task", "relu", "--width", "1"]).width == 1  # relu's ticket is one unit wide


@pytest.mark.parametrize("value,needle", [("0", "argument --depth"), ("2", "depth must be an integer >= 3"),
                                          ("65", "argument --depth"), ("1000000", "argument --depth")])
def test_depth_bounds(value, needle, capsys):
    assert needle in rejected(["plant", "--task", "circle", "--width", "20", "--depth", value], capsys)
    assert needle in rejected([*SMOKE, "--depth", value], capsys)


def test_depth_at_its_bounds_is_accepted():
    assert validate(["plant", "--task", "circle", "--width", "20", "--depth", "3"]).depth == 3
    assert validate([*SMOKE, "--depth", str(limits.MAX_DEPTH)]).depth == 64


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "1e400", ""])
def test_noise_not_finite_or_negative(value, capsys):
    assert "--noise" in rejected([*SMOKE, f"--noise={value}"], capsys)
    assert "--noise" in rejected(["plant", "--task", "relu", f"--noise={value}"], capsys)


def test_noise_bound_depends_on_the_task(capsys):
    assert validate(["plant", "--task", "circle", "--noise", "1"]).noise == 1.0
    assert "probability that a label flips" in rejected(["plant", "--task", "circle", "--noise", "1.0001"], capsys)
    assert "probability" in rejected([*SMOKE, "--tasks", "relu,circle", "--noise", "2"], capsys)
    assert validate(["plant", "--task", "relu", "--noise", "1000"]).noise == 1000.0
    assert "Gaussian" in rejected(["plant", "--task", "relu", "--noise", "1001"], capsys)


@pytest.mark.parametrize("value", ["nan", "0", "-1", "inf", "1e400", "604801", "0x1"])
def test_timeout_rejected(value, capsys):
    assert "argument --timeout" in rejected([*SMOKE, f"--timeout={value}"], capsys)


@pytest.mark.parametrize("value", ["1e-3", "1800", "604800"])
def test_timeout_accepted(value):
    assert validate([*SMOKE, "--timeout", value]).timeout == float(value)


@pytest.mark.parametrize("option,low,high", [("--n-samples", 10, 10**7), ("--epochs", 0, 10_000),
                                             ("--jobs", 0, 1024)])
def test_integer_options_at_and_beyond_their_bounds(option, low, high, capsys):
    assert getattr(validate([*SMOKE, option, str(low)]), option[2:].replace("-", "_")) == low
    assert "argument " + option in rejected([*SMOKE, option, str(low - 1)], capsys)
    assert "argument " + option in rejected([*SMOKE, option, str(high + 1)], capsys)


def test_jobs_memory_rule():
    jobs_fit(4, memory=4 * limits.WORKER_MEMORY)
    with pytest.raises(ConfigError, match="--jobs 5"):
        jobs_fit(5, memory=4 * limits.WORKER_MEMORY)


@pytest.mark.parametrize("value,ok", [("0", True), ("2147483647", True), ("2147483648", False), ("-1", False),
                                      ("0-9999", True), ("0-10000", False), ("3-1", False), ("0-99999999999", False),
                                      (",", False), ("a", False)])
def test_seeds(value, ok, capsys):
    if ok:
        assert validate([*SMOKE, "--seeds", value]).seeds[0] == int(value.split("-")[0])
    else:
        assert "argument --seeds" in rejected([*SMOKE, "--seeds", value], capsys)


@pytest.mark.parametrize("value,ok", [("1", True), ("ticket", True), ("1e-9", True), ("0", False), ("nan", False),
                                      ("1.0000001", False), ("inf", False), (",", False)])
def test_densities(value, ok, capsys):
    if ok:
        assert validate([*SMOKE, "--densities", value]).densities == [value]
    else:
        assert "argument --densities" in rejected([*SMOKE, "--densities", value], capsys)


def test_plant_seed_and_knots_bounds(capsys):
    assert validate(["plant", "--task", "circle", "--seed", str(limits.MAX_SEED)]).seed == limits.MAX_SEED
    assert "argument --seed" in rejected(["plant", "--task", "circle", "--seed", str(limits.MAX_SEED + 1)], capsys)
    assert "narrower than the ticket" in rejected(["plant", "--task", "circle", "--knots", "51"], capsys)
    assert "argument --knots" in rejected(["plant", "--task", "circle", "--knots", "10001"], capsys)


def test_output_paths_of_the_wrong_kind(tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    store = tmp_path / "s.db"
    assert main([*SMOKE[:-1], "--densities", "0.1", "--n-samples", "100", "--epochs", "0", "--store", str(store),
                 "--no-progress"]) == 0
    capsys.readouterr()
    for command in ("leaderboard", "plot"):
        line = rejected([command, "--store", str(store), "--out", str(a_file)], capsys)
        assert "--out" in line and "exists and is not a folder" in line
        assert "is not a folder" in rejected([command, "--store", str(store), "--out", f"{a_file}/sub"], capsys)
        assert "--store" in rejected([command, "--store", str(tmp_path)], capsys)
    assert "is a folder" in rejected(["plant", "--task", "relu", "--out", str(tmp_path)], capsys)
    assert "path too long" in rejected(["plant", "--task", "relu", "--out", "x" * 300], capsys)
    assert "empty path" in rejected(["leaderboard", "--out", ""], capsys)


def test_a_write_failure_during_output_is_one_line(tmp_path, capsys, monkeypatch):
    store = tmp_path / "s.db"
    assert main([*SMOKE[:-1], "--densities", "0.1", "--n-samples", "100", "--epochs", "0", "--store", str(store),
                 "--no-progress"]) == 0
    capsys.readouterr()
    out = tmp_path / "board"

    def full_disk(df, folder, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(Path(folder) / "index.html"))

    monkeypatch.setattr("plantseek.report.leaderboard.write_leaderboard", full_disk)
    assert main(["leaderboard", "--store", str(store), "--out", str(out)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"plantseek: error: {out / 'index.html'}: No space left on device"]


def test_configuration_dataclasses_bound_their_fields():
    from plantseek.planted.task import DataConfig, TaskOptions
    from plantseek.run.suites import SUITES
    from plantseek.train.config import TrainConfig

    for bad in (math.inf, math.nan, -1.0, 1001.0):
        with pytest.raises(ConfigError, match="noise"):
            TaskOptions(noise=bad)
    with pytest.raises(ConfigError, match="n_samples"):
        DataConfig(n_samples=limits.MAX_N_SAMPLES + 1)
    with pytest.raises(ConfigError, match="epochs"):
        TrainConfig(epochs=limits.MAX_EPOCHS + 1)
    with pytest.raises(ConfigError, match="lr must be a finite number"):
        TrainConfig(lr=math.inf)
    smoke = SUITES.get("smoke")
    for changes, needle in ((dict(seeds=[]), "seeds is empty"), (dict(seeds=[2**31]), "a seed"),
                            (dict(width=0), "width"), (dict(depth=65), "depth"), (dict(n_samples=9), "n_samples"),
                            (dict(seeds=range(10_000), densities=["0.1"] * 101), "cells")):
        with pytest.raises(ConfigError, match=needle):
            smoke.with_overrides(**changes)
