"""`submit`: checks with clear messages, scoring with sanity ablations, leaderboard rows for the submission."""

import hashlib
from pathlib import Path
import subprocess
import sys

import pandas as pd
import pytest

from plantseek.run.submit import SubmissionError, check_submission

ORACLE = "tests/pruners/oracle.py"


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "plantseek", *args], capture_output=True, text=True, timeout=600,
                          cwd=cwd)


def test_readme_example_pruner_is_short_and_passes_the_checks():
    source = open("examples/my_pruner.py").read().splitlines()
    assert len(source) < 30
    assert check_submission("examples/my_pruner.py", report=lambda line: None) == "grad-magnitude"


@pytest.mark.parametrize("ref,needle", [
    (f"{ORACLE}:Unseeded", "not seed-deterministic"),
    (f"{ORACLE}:Crashes", "crashed: RuntimeError: boom"),
    (f"{ORACLE}:WrongCount", "expected exactly"),
    (f"{ORACLE}:NoSuchClass", "defines no class 'NoSuchClass'"),
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
    """Run where a committed board holds the baselines' smoke cells (the current version) and one cell of another
    definition of smoke: the submission is ranked among the first, never with the second."""
    board = tmp_path / "checkout" / "leaderboard" / "plantseek.db"
    board.parent.mkdir(parents=True)
    grid = ["--suite", "smoke", "--store", str(board), "--no-progress", "--jobs", "1"]
    assert run("evaluate", *grid).returncode == 0
    assert run("evaluate", *grid, "--seeds", "7", "--tasks", "relu", "--densities", "0.1",
               "--pruners", "random").returncode == 0  # seed 7 is not one of smoke's seeds: another definition
    store, out = tmp_path / "s.db", tmp_path / "lb"
    committed = Path(board)
    before = hashlib.sha256(committed.read_bytes()).hexdigest()
    ref = str(Path("examples/my_pruner.py").resolve())
    r = run("submit", ref, "--suite", "smoke", "--store", str(store), "--out", str(out), cwd=board.parent.parent)
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(committed.read_bytes()).hexdigest() == before  # the committed board is only read
    assert "standing of grad-magnitude by recall" in r.stdout and f"its page: {out}/index.html" in r.stdout
    assert "1 stored cell(s) of other suites or suite versions left out" in r.stderr
    everything = pd.read_csv(out / "results.csv")  # ranked among the committed board's public cells of smoke
    assert set(everything["pruner"]) == {"magnitude", "random", "grad-magnitude"}
    assert 7 not in set(everything["seed"])
    df = everything[everything["pruner"].eq("grad-magnitude")]
    code = hashlib.sha256(open(ref, "rb").read()).hexdigest()[:16]
    methods = set(zip(df["pruner"], df["ablation"].fillna("")))  # the declared name; the ablation in its own column
    assert methods == {("grad-magnitude", ""), ("grad-magnitude", "shuffled"), ("grad-magnitude", "reinit")}
    assert set(df["pruner_source"]) == {"my_pruner.py"} and set(df["pruner_code"]) == {code}  # provenance, per cell
    assert (df["status"] == "ok").all() and len(df) == 2 * 2 * 3  # 2 tasks x 2 densities x (method + 2 ablations)
    readme = (out / "README.md").read_text()
    assert f"Source of grad-magnitude: submitted as my\\_pruner.py (code sha256 {code})" in readme
    page = (out / "index.html").read_text()
    assert f"Source of grad-magnitude: submitted as my_pruner.py (code sha256 {code})" in page
    assert "| grad-magnitude |" in readme and f"| {ref}" not in readme  # ranked under its name, not its file
    again = run("submit", ref, "--suite", "smoke", "--store", str(store), "--out", str(out), cwd=board.parent.parent)
    assert again.returncode == 0 and "0 to run" in again.stderr


def test_submission_named_like_a_registered_pruner_is_refused_in_one_line(tmp_path):
    clash = tmp_path / "clash.py"
    clash.write_text(open("examples/my_pruner.py").read().replace('"grad-magnitude"', '"magnitude"'))
    with pytest.raises(SubmissionError, match="^name 'magnitude' is taken by a registered pruner; declare another "
                                              "name in the class$"):
        check_submission(str(clash), report=lambda line: None)
    r = run("submit", str(clash), "--store", str(tmp_path / "s.db"), "--out", str(tmp_path / "lb"))
    assert r.returncode == 2 and r.stderr.splitlines()[-1] == ("plantseek: error: name 'magnitude' is taken by a "
                                                               "registered pruner; declare another name in the class")
    assert not (tmp_path / "s.db").exists()


def test_submitted_cells_carry_the_name_but_their_ids_hash_the_code(tmp_path):
    from plantseek.run.submit import submission_cells
    from plantseek.run.suites import SUITES

    copy = tmp_path / "mine.py"
    copy.write_text(open("examples/my_pruner.py").read())
    named = submission_cells(str(copy), SUITES.get("smoke"), "grad-magnitude")
    plain = submission_cells(str(copy), SUITES.get("smoke"))
    assert {c.label for c in named if not c.ablation} == {"grad-magnitude"}
    assert [c.cell_id for c in named] == [c.cell_id for c in plain]  # the name is shown, never hashed
    copy.write_text(copy.read_text() + "\n# edited\n")
    edited = submission_cells(str(copy), SUITES.get("smoke"), "grad-magnitude")
    assert not {c.cell_id for c in edited} & {c.cell_id for c in named}  # new code: new cells


def test_submit_scores_public_instances_and_prints_the_maintainers_hidden_command_which_needs_the_key(tmp_path):
    """A submitter without the key gets public-instance scores, labelled so, and the maintainers' command; that
    command, run verbatim, stops in one line without the key and, with it, adds the hidden cells to the published
    store (the key's fingerprint only) and the public/hidden comparison to the regenerated leaderboard."""
    import os
    import shlex
    import shutil
    import sqlite3
    from pathlib import Path

    from plantseek.planted.secrets import key_fingerprint

    root = Path(__file__).resolve().parents[2]
    (tmp_path / "examples").mkdir()
    shutil.copy(root / "examples" / "my_pruner.py", tmp_path / "examples" / "my_pruner.py")
    env = {**os.environ, "PYTHONPATH": str(root), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    env.pop("PLANTSEEK_KEY", None)
    env.pop("PLANTSEEK_KEY_FILE", None)

    def plantseek(argv, **more):
        return subprocess.run([sys.executable, "-m", "plantseek", *argv], cwd=tmp_path, env={**env, **more},
                              capture_output=True, text=True, timeout=600)

    def cells(store: str = "leaderboard") -> int:
        with sqlite3.connect(tmp_path / store / "plantseek.db") as conn:
            return conn.execute("SELECT COUNT(*) FROM cells").fetchone()[0]

    public = plantseek(["submit", "examples/my_pruner.py", "--suite", "smoke"])
    assert public.returncode == 0, public.stderr[-2000:]
    assert public.stdout.startswith("grad-magnitude, scored on public development instances (planted from their "
                                    "seeds; not the leaderboard's):\n")
    assert "12 cells scored on public development instances" in public.stdout and "hidden instances (key" not in \
        public.stdout
    command = ("python -m plantseek submit examples/my_pruner.py --suite smoke --instances hidden "
               "--store leaderboard/plantseek.db")
    assert public.stdout.rstrip().splitlines()[-1] == f"  {command}"
    assert cells("results") == 12 and not (tmp_path / "leaderboard").exists()  # the submitter's own store and page
    assert (tmp_path / "results" / "leaderboard" / "index.html").is_file()
    maintainers = shlex.split(command)[3:]

    no_key = plantseek(maintainers)
    assert no_key.returncode == 2 and "Traceback" not in no_key.stderr
    assert no_key.stderr.strip().splitlines() == [no_key.stderr.strip()]
    assert no_key.stderr.startswith("plantseek: error: hidden instances need a leaderboard key")
    assert not (tmp_path / "leaderboard" / "plantseek.db").exists()
    # the maintainers' development board: the same submission on public instances, into the published store
    dev = plantseek(["submit", "examples/my_pruner.py", "--suite", "smoke", "--store", "leaderboard/plantseek.db",
                     "--out", "leaderboard"])
    assert dev.returncode == 0, dev.stderr[-2000:]
    assert cells() == 12

    key = bytes(range(32))
    hidden = plantseek(maintainers, PLANTSEEK_KEY=key.hex())
    assert hidden.returncode == 0, hidden.stderr[-2000:]
    fp = key_fingerprint(key)
    assert f"12 cells scored on hidden instances (key {fp}; the leaderboard's)" in hidden.stdout
    assert "maintainers score it with" not in hidden.stdout
    assert cells() == 24
    with sqlite3.connect(tmp_path / "leaderboard" / "plantseek.db") as conn:  # hidden masks withheld, ablations too
        masks = conn.execute("SELECT json_extract(config_json, '$.instances'), ablation, mask IS NULL FROM cells "
                             "WHERE status = 'ok'").fetchall()
    assert {(kind, null) for kind, _, null in masks} == {("public", 0), ("hidden", 1)}
    assert {a for kind, a, _ in masks if kind == "hidden"} == {"", "shuffled", "reinit"}
    board = tmp_path / "leaderboard"
    readme = (board / "README.md").read_text()
    assert f"fingerprint(s) {fp}" in readme and "## Public vs hidden instances" in readme
    row = next(line for line in readme.split("## Public vs hidden instances")[1].splitlines()
               if line.startswith("| grad-magnitude |"))
    assert row.split("|")[-2].strip() == "no" and "| 4 |" in row  # honest: 2 tasks x 2 densities, not flagged
    assert 'id="gap-table"' in (board / "index.html").read_text()
    for f in [*board.rglob("*")]:
        if f.is_file():
            assert key.hex().encode() not in f.read_bytes()
    assert key.hex() not in hidden.stdout + hidden.stderr
