"""`submit`: checks with clear messages, scoring with sanity ablations, leaderboard rows for the submission."""

import subprocess
import sys

import pandas as pd
import pytest

from plantseek.run.submit import SubmissionError, check_submission

ORACLE = "tests/pruners/oracle.py"


def run(*args):
    return subprocess.run([sys.executable, "-m", "plantseek", *args], capture_output=True, text=True, timeout=600)


def test_readme_example_pruner_is_short_and_passes_the_checks():
    source = open("examples/my_pruner.py").read().splitlines()
    assert len(source) < 30
    assert check_submission("examples/my_pruner.py", report=lambda line: None) == "grad-magnitude"


@pytest.mark.parametrize("ref,needle", [
    (f"{ORACLE}:Unseeded", "not seed-deterministic"),
    (f"{ORACLE}:Crashes", "prune() raised RuntimeError: boom"),
    (f"{ORACLE}:WrongCount", "expected exactly"),
    (f"{ORACLE}:NoSuchClass", "defines no 'NoSuchClass'"),
    ("magnitude", "submit takes a file"),
])
def test_checks_name_the_problem(ref, needle):
    with pytest.raises(SubmissionError) as info:
        check_submission(ref, report=lambda line: None)
    assert needle in str(info.value)


def test_submit_cli_bad_file_is_one_line(tmp_path):
    r = run("submit", f"{ORACLE}:Unseeded", "--store", str(tmp_path / "s.db"), "--out", str(tmp_path / "lb"))
    assert r.returncode == 2 and "not seed-deterministic" in r.stderr and "Traceback" not in r.stderr


def test_submit_scores_the_example_and_its_ablations(tmp_path):
    store, out = tmp_path / "s.db", tmp_path / "lb"
    r = run("submit", "examples/my_pruner.py", "--suite", "smoke", "--store", str(store), "--out", str(out))
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(out / "results.csv")
    ref = "examples/my_pruner.py"
    methods = set(zip(df["pruner"], df["ablation"].fillna("")))  # the pruner's name; the ablation in its own column
    assert {(ref, ""), (ref, "shuffled"), (ref, "reinit")} <= methods
    assert (df["status"] == "ok").all() and len(df) == 2 * 2 * 3  # 2 tasks x 2 densities x (method + 2 ablations)
    assert "examples/my\\_pruner.py" in (out / "README.md").read_text()  # markdown-escaped underscore
    assert ref in (out / "index.html").read_text()
    again = run("submit", "examples/my_pruner.py", "--suite", "smoke", "--store", str(store), "--out", str(out))
    assert again.returncode == 0 and "0 to run" in again.stderr
