"""The report stage as files: the page's template and static files (package data), and torch-free commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from plantseek.records.cells import CellConfig, CellResult
from plantseek.store.results import ResultStore

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_leaderboard import NOW, _ablation_example  # noqa: E402

from plantseek.report.page import STATIC, TEMPLATE, render_html, static_text  # noqa: E402


def test_page_inlines_its_css_and_script():
    page = render_html(_ablation_example(), now=NOW)
    css, js = static_text("leaderboard.css"), static_text("leaderboard.js")
    assert f"<style>\n{css}</style>" in page and f"<script>\n{js}</script>" in page
    assert "function sortBy(table, th)" in js and "getElementById('f-task')" in js  # sorting and filtering
    assert "th[aria-sort=ascending]" in css
    assert page.count("<script>") == 1 and "src=" not in page.split("<script>", 1)[1]  # self-contained
    assert page.startswith("<!DOCTYPE html>\n") and page.endswith("</script></body></html>\n")
    assert "{{" not in page and "{%" not in page  # the template was rendered


def test_template_and_static_files_are_package_data():
    pkg = resources.files("plantseek.report")
    assert pkg.joinpath("templates", TEMPLATE).is_file()
    assert all(pkg.joinpath("static", name).is_file() for name in STATIC)
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = project["tool"]["setuptools"]["package-data"]["plantseek.report"]
    assert {"templates/*.html.j2", "static/*.css", "static/*.js"} <= set(globs)
    assert any(d.startswith("jinja2") for d in project["project"]["dependencies"])


def _small_store(path: Path) -> None:
    with ResultStore(path) as store:
        for seed in (0, 1):
            for pruner, ablation, weak in (("snip", "", 0.9), ("snip", "shuffled", 0.7), ("random", "", 0.6)):
                config = CellConfig(task="circle", depth=4, width=8, seed=seed, pruner=pruner, density="0.1",
                                    ablation=ablation)
                store.put(config, CellResult(
                    status="ok", metric_name="accuracy", higher_is_better=True, density=0.1, achieved_density=0.1,
                    strong_metric=0.5, weak_metric=weak, ticket_metric=0.99, prune_seconds=0.1, train_seconds=1.0,
                    protocol="single-shot", metrics={"recall": weak / 2, "precision": 0.5,
                                                     "per_layer": {"density": [0.1, 0.1], "ticket_density": [0.05,
                                                                                                             0.2]}}))


@pytest.mark.parametrize("command", ["leaderboard", "plot"])
def test_report_commands_never_import_torch(tmp_path, command):
    store = tmp_path / "s.db"
    _small_store(store)
    out = tmp_path / "out"
    args = [command, "--store", str(store), "--out", str(out)]
    code = ("import json, sys\nfrom plantseek.cli import main\n"
            f"rc = main({args!r})\n"
            "print(json.dumps([rc, sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))]))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    rc, torch_modules = json.loads(proc.stdout.strip().splitlines()[-1])
    assert rc == 0 and torch_modules == []
    made = {p.name for p in out.rglob("*") if p.is_file()} - {".plantseek-output"}  # the folder's marker
    if command == "leaderboard":
        assert {"index.html", "README.md", "results.csv"} <= made and any(n.endswith(".png") for n in made)
        assert "snip [shuffled]" in (out / "all.html").read_text()  # the sanity ablations: on the complete page
        assert "snip" in (out / "index.html").read_text()
        assert any(p.parent.name == "settings" for p in out.rglob("*.html"))  # a page per setting
    else:
        assert made and all(n.endswith(".png") for n in made)
