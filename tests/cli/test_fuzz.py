"""Fuzzing every subcommand with random and malformed arguments (cases and their oracle: ``fuzzing.py``).

Most cases go through :func:`plantseek.cli.validate` in this process (the parsing and checks a run does before
any work); a sample runs as ``python -m plantseek`` in a subprocess with a time limit, valid ones to the end
(their work is tiny). Each must end as the oracle says: rejected (exit 2, one line ``plantseek: error: ...``, no
traceback) or accepted (exit 0).
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import fuzzing
from plantseek.cli import COMMANDS, build_parser, main, validate
from plantseek.core.errors import PlantseekError

REPO = Path(__file__).resolve().parents[2]
SUBPROCESS_TIMEOUT = 180  # seconds; a case still running then has hung


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    import plantseek

    root = tmp_path_factory.mktemp("fuzz")
    # no leaderboard key anywhere: `evaluate --instances hidden` must be refused, here and in the subprocesses
    os.environ.pop("PLANTSEEK_KEY", None)
    os.environ["PLANTSEEK_KEY_FILE"] = str(root / "no-such.key")
    f = fuzzing.fixture_files(root)
    f["instance"] = str(root / "relu.pt")
    plantseek.plant("relu", depth=4, width=20, seed=0).save(f["instance"])
    f["store"] = str(root / "tiny.db")
    code = main(["evaluate", "--suite", "smoke", "--tasks", "relu", "--pruners", "random", "--densities", "0.1",
                 "--n-samples", "100", "--epochs", "0", "--store", f["store"], "--no-progress"])
    assert code == 0
    code = main(["evaluate", "--suite", "smoke", "--tasks", "relu", "--pruners", "random", "--densities", "0.1",
                 "--store", f["store"], "--no-progress"])  # one cell of smoke's own definition: for --suite smoke
    assert code == 0
    f["pruner"] = str(REPO / "examples" / "my_pruner.py")
    f["config"] = str(root / "run.toml")  # a valid run configuration (its options are also valid for submit)
    Path(f["config"]).write_text('jobs = 1\n')
    f["bad_config"] = str(root / "bad.toml")
    Path(f["bad_config"]).write_text('jobs = [\n')
    f["root"] = str(root)
    return f


def test_the_fuzzer_knows_every_option_of_every_command(files):
    pools = fuzzing.pools(files)
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert sorted(sub.choices) == sorted(COMMANDS) == sorted(pools)
    for name, parser in sub.choices.items():
        options = {s for a in parser._actions for s in a.option_strings if s.startswith("--") and s != "--help"}
        assert options == set(pools[name]), name


def outcome_in_process(argv: list[str], capsys) -> tuple[int, str]:
    """(exit code, stderr) of parsing and checking ``argv`` as ``main`` does, without running the command."""
    try:
        validate(argv)
        code, message = 0, ""
    except SystemExit as exc:
        code, message = exc.code, ""
    except PlantseekError as exc:
        code, message = 2, f"plantseek: error: {exc}\n"
    return code, capsys.readouterr().err + message


def check_outcome(case: fuzzing.Case, code: int, err: str) -> None:
    shown = [a[:60] for a in case.argv]
    assert "Traceback" not in err, (shown, err[-2000:])
    if case.valid:
        assert code == 0, (shown, err[-1000:])
    else:
        lines = err.strip().splitlines()
        assert code == 2, (shown, case.why, code, err[-1000:])
        assert len(lines) == 1 and lines[0].startswith("plantseek: error: "), (shown, err[-1000:])


def run_in_process(cases, files, capsys, monkeypatch) -> None:
    monkeypatch.chdir(files["root"])  # default paths (results/, leaderboard/) resolve in the temporary folder
    for case in cases:
        check_outcome(case, *outcome_in_process(case.argv, capsys))


def test_fuzz_in_process(files, capsys, monkeypatch):
    cases = fuzzing.make_cases(600, seed=11, files=files, commands=COMMANDS)
    assert 100 < sum(c.valid for c in cases) < 400  # both outcomes well represented
    run_in_process(cases, files, capsys, monkeypatch)


def run_subprocess(case: fuzzing.Case, root: str) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    try:
        r = subprocess.run([sys.executable, "-m", "plantseek", *case.argv], cwd=root, env=env, capture_output=True,
                           text=True, errors="replace", timeout=SUBPROCESS_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung for {SUBPROCESS_TIMEOUT} s: {[a[:60] for a in case.argv]}")
    return r.returncode, r.stderr


def sample_for_subprocesses(n_invalid: int, n_valid: int, seed: int, files) -> list[fuzzing.Case]:
    """Rejected cases, and valid ones of the commands whose valid work is tiny (bench's takes minutes)."""
    cases = fuzzing.make_cases(20 * (n_invalid + n_valid), seed=seed, files=files, commands=COMMANDS)
    invalid = [c for c in cases if not c.valid][:n_invalid]
    valid = [c for c in cases if c.valid and c.command != "bench"][:n_valid]
    return invalid + valid


def run_sample(cases, files) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda c: run_subprocess(c, files["root"]), cases))
    for case, (code, err) in zip(cases, outcomes):
        check_outcome(case, code, err)


def test_fuzz_in_subprocesses(files):
    run_sample(sample_for_subprocesses(50, 6, seed=12, files=files), files)


@pytest.mark.slow
def test_fuzz_many(files, capsys, monkeypatch):
    run_in_process(fuzzing.make_cases(4000, seed=13, files=files, commands=COMMANDS), files, capsys, monkeypatch)
    run_sample(sample_for_subprocesses(360, 40, seed=14, files=files), files)


def test_output_names_that_are_not_utf8_in_subprocesses(files):
    """Every command that writes, to a name with bytes that are not UTF-8: exit 0, no traceback."""
    odd = files["root"] + "/odd-\udcff\udcfe-é中"
    cases = [fuzzing.Case(c, argv, True) for c, argv in [
        ("leaderboard", ["leaderboard", "--store", files["store"], "--no-plots", "--out", odd + "-lb"]),
        ("plot", ["plot", "--store", files["store"], "--out", odd + "-plots"]),
        ("reproduce", ["reproduce", "--report-only", "--store", files["store"], "--out", odd + ".md"]),
        ("plant", ["plant", "--task", "relu", "--width", "20", "--depth", "4", "--out", odd + ".pt"]),
    ]]
    run_sample(cases, files)
