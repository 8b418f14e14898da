"""Issue 25's loop, acted out as a researcher does it, in a real browser (Debian's chromium driven by Playwright, as
in test_page_browser.py; skipped without them, a failure in CI): in a git checkout whose committed board holds the
baselines' smoke cells, write a pruner in a file outside the checkout, ``submit`` it with the defaults, read its
standing from the last lines of the output, open the page it names, find the best method on Circle at density 0.1
(the smoke suite's sparse density) with no scrolling, and find ``git status`` clean afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import CHROMIUM, CHROMIUM_ARGS, require_browser  # noqa: E402

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT = 1366, 768
PRUNER = '''import torch

from plantseek.nets.masks import select_top


class AbsInit:
    name = "abs-init"
    description = "keeps the largest |w| of each layer at initialisation"

    def prune(self, model, data, density, *, generator, budget):
        return select_top({n: w.detach().abs() for n, w in model.prunable().items()}, density, scope="local")
'''


def _run(argv, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def loop(tmp_path_factory):
    require_browser()
    base = tmp_path_factory.mktemp("loop")
    checkout, elsewhere = base / "checkout", base / "elsewhere"
    checkout.mkdir()
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PLANTSEEK_PLUGINS": "builtin"}
    git = ["git", "-c", "user.email=ci@example.org", "-c", "user.name=ci"]
    assert _run([*git, "init", "-q"], checkout, env).returncode == 0
    shutil.copy(ROOT / ".gitignore", checkout / ".gitignore")  # the repository's: results/ is the user's, ignored
    board = _run([sys.executable, "-m", "plantseek", "evaluate", "--suite", "smoke", "--store",
                  "leaderboard/plantseek.db", "--no-progress", "--jobs", "1"], checkout, env)
    assert board.returncode == 0, board.stderr[-2000:]
    assert _run([*git, "add", "-A"], checkout, env).returncode == 0
    assert _run([*git, "commit", "-qm", "the committed board"], checkout, env).returncode == 0
    pruner = elsewhere / "abs_init.py"  # written where the researcher works, not in the checkout
    pruner.write_text(PRUNER)
    submitted = _run([sys.executable, "-m", "plantseek", "submit", str(pruner), "--suite", "smoke"], checkout, env)
    status = _run(["git", "status", "--porcelain"], checkout, env)
    return checkout, submitted, status


def test_submit_ends_with_the_standing_and_leaves_the_checkout_clean(loop):
    checkout, submitted, status = loop
    assert submitted.returncode == 0, submitted.stderr[-2000:]
    assert status.returncode == 0 and status.stdout == ""  # no tracked file touched, nothing new outside results/
    lines = submitted.stdout.rstrip().splitlines()
    tail = lines[-12:]  # the standing is in the last lines, not scrolled away above the summary
    assert any(line.startswith("standing of abs-init by recall") for line in tail), tail
    rows = [line for line in tail if " · depth 4 · width 20 " in line]
    assert len(rows) == 4  # circle and relu at densities ticket and 0.1, one line each
    assert all("/3" in row for row in rows)  # its rank among the three methods of the same cells
    assert "its page: results/leaderboard/index.html" in tail
    assert "abs-init: 12 cells scored on public development instances" in "\n".join(tail)
    assert (checkout / "results" / "leaderboard" / "index.html").is_file()


def test_the_page_it_names_shows_the_best_method_on_circle_without_scrolling(loop):
    from playwright.sync_api import sync_playwright

    checkout, submitted, _ = loop
    assert submitted.returncode == 0, submitted.stderr[-2000:]
    page = checkout / submitted.stdout.split("its page: ")[1].splitlines()[0]
    cells = pd.read_csv(page.parent / "results.csv", dtype={"density_spec": str})  # what the page was built from
    cells = cells[cells["task"].eq("circle") & cells["density_spec"].eq("0.1") & cells["status"].eq("ok")
                  & cells["ablation"].fillna("").eq("")]
    assert set(cells["pruner"]) == {"random", "magnitude", "abs-init"}  # the board's baselines and the submission
    means = cells.groupby("pruner")["recall"].mean()
    assert (means == means.max()).sum() == 1  # a unique leader, so the page's answer is determined
    expected = str(means.idxmax())
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(page.as_uri())
        pg.wait_for_load_state("load")
        pg.select_option("#f-task", "circle")
        pg.select_option("#f-density", "0.1")
        rows = pg.locator("#answers tbody tr:visible")
        assert rows.count() == 1  # one circle setting in smoke
        box = rows.first.bounding_box()
        assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= HEIGHT  # on the first screen
        assert pg.evaluate("window.scrollY") == 0
        assert rows.first.locator("td.best b.m").first.inner_text() == expected
        assert pg.evaluate("document.scrollingElement.scrollWidth") <= WIDTH
        browser.close()
    assert not errors
