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
