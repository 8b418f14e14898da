"""A submitted pruner file's code never runs in the evaluating process: evaluate and submit only parse it; it is
imported and called inside sandboxed prune workers, which cannot write outside their own temporary folder."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def write_pruner(tmp_path):
    marker = tmp_path / "imported-outside-the-sandbox"
    path = tmp_path / "marking.py"
    path.write_text(f"""
import pathlib
try:
    pathlib.Path({str(marker)!r}).write_text("the parent imported me")
except OSError:
    pass  # inside the sandbox: writing here is refused


class Marking:
    name = "marking"

    def prune(self, model, data, density, *, generator, budget):
        from plantseek.nets.masks import select_top
        return select_top({{n: p.detach().abs() for n, p in model.prunable().items()}}, density)
""")
    return path, marker


def run(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(REPO)}  # this checkout, whatever else is installed
    return subprocess.run([sys.executable, "-m", "plantseek", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=env)


def test_evaluate_and_submit_never_import_the_file_themselves(tmp_path):
    path, marker = write_pruner(tmp_path)
    r = run("evaluate", "--suite", "smoke", "--tasks", "relu", "--densities", "0.1", "--pruners", str(path),
            "--no-store", "--json", "--no-progress", cwd=tmp_path)
    assert r.returncode == 0 and '"status": "ok"' in r.stdout, r.stderr
    s = run("submit", str(path), "--check-only", cwd=tmp_path)
    assert s.returncode == 0 and "name 'marking'" in s.stderr, s.stderr
    assert not marker.exists()


def test_a_file_that_does_not_parse_is_one_line_before_any_work(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("class Broken(:\n")
    r = run("evaluate", "--suite", "smoke", "--pruners", str(path), "--no-store", cwd=tmp_path)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "not valid Python" in r.stderr


def test_submit_check_only_error_line_carries_no_key(tmp_path):
    """A submission that links its worker's output to the leaderboard key and exits: ``submit --check-only`` fails
    with one sanitised line that names the failure and holds no key."""
    key = "5a" * 32
    (tmp_path / "cfg" / "plantseek").mkdir(parents=True)
    (tmp_path / "cfg" / "plantseek" / "leaderboard.key").write_text(key + "\n")
    path = tmp_path / "linker.py"
    path.write_text((REPO / "tests" / "pruners" / "hostile" / "output_links.py").read_text())
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
           "HOSTILE_CONFIG": str(tmp_path / "cfg")}
    s = subprocess.run([sys.executable, "-m", "plantseek", "submit", f"{path}:OutputLinks", "--check-only"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert s.returncode != 0 and key not in s.stdout + s.stderr
    assert "last output: links in place" in s.stderr and "\x1b" not in s.stderr
