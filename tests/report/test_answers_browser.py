"""The compact index.html and the per-setting pages in a real browser (Debian's chromium driven by Playwright, as in
test_page_browser.py; skipped without them): "open the page, find the best method on Circle at density 0.01" needs
no scrolling, no page scrolls sideways at 1366 px, a setting's page stays under 10,000 DOM nodes, its charts draw at
most eight methods by default and any other on request, and the filters choose the ranking shown."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_leaderboard import NOW, synthetic_results  # noqa: E402
from browser import CHROMIUM, CHROMIUM_ARGS, require_browser  # noqa: E402
from test_page_browser import EVIL  # noqa: E402

from plantseek.frame.prepared import prepared  # noqa: E402
from plantseek.report.leaderboard import write_leaderboard  # noqa: E402
from plantseek.report.tables import ranking  # noqa: E402

pytestmark = pytest.mark.browser
WIDTH, HEIGHT = 1366, 768


def _board_frame() -> pd.DataFrame:
    """Three circle settings (widths 100, 50, 20) and one relu setting, 6 pruners + 6 variants (12 methods, more
    than a plot shows by default), 3 seeds; one hostile method name."""
    base = synthetic_results(tasks=("circle", "relu"), seeds=(0, 1, 2))
    rng = np.random.default_rng(1)
    parts = [base]
    for k in range(1, 7):  # variants of the pruners: same protocol, jittered recall and weak metric
        v = base[base["pruner"].isin(["snip", "synflow"]) & base["status"].eq("ok")].copy()
        v["pruner"] = v["pruner"] + f"-v{k}"
        v = v[v["pruner"].isin([f"snip-v{k}", f"synflow-v{k}"][: 1 + k % 2])]
        v["recall"] = np.clip(v["recall"] + rng.normal(0, 0.05, len(v)), 0, 1)
        v["weak_metric"] = v["weak_metric"] * (1 + rng.normal(0, 0.01, len(v)))
        parts.append(v)
    df = pd.concat(parts, ignore_index=True)
    wider = [df]
    for width in (50, 20):
        c = df[df["task"].eq("circle")].copy()
        c["width"] = width
        c["recall"] = np.clip(c["recall"] * (width / 100) ** 0.2 + rng.normal(0, 0.02, len(c)), 0, 1)
        wider.append(c)
    df = pd.concat(wider, ignore_index=True)
    df["cell_id"] = [f"{i}-{c}" for i, c in enumerate(df["cell_id"])]
    df.loc[df["pruner"].eq("synflow-v1"), "pruner"] = EVIL  # shown literally, never run
    return df


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    require_browser()
    df = _board_frame()
    out = tmp_path_factory.mktemp("answers")
    write_leaderboard(df, out, now=NOW)
    return df, out


@pytest.fixture(scope="module")
def browser(board):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open(browser, path: Path):
    pg = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.on("dialog", lambda d: (pg.errors.append("dialog " + d.message), d.dismiss()))
    pg.goto(path.as_uri())
    pg.wait_for_load_state("load")
    return pg


def _best_by_recall(df: pd.DataFrame, width: int, spec: str) -> str:
    """The expected leader, computed independently: the highest mean recall over ok cells of that setting."""
    cells = df[df["task"].eq("circle") & df["width"].eq(width) & df["density_spec"].eq(spec) & df["status"].eq("ok")]
    return str(cells.groupby("pruner")["recall"].mean().idxmax())


def test_find_the_best_method_on_circle_at_001_without_scrolling(board, browser):
    df, out = board
    pg = _open(browser, out / "index.html")
    pg.select_option("#f-task", "circle")  # the filters sit in the header, in the first screen
    pg.select_option("#f-density", "0.01")
    rows = pg.locator("#answers tbody tr:visible")
    assert rows.count() == 3  # one answer per circle setting
    assert pg.evaluate("window.scrollY") == 0
    for i in range(3):
        box = rows.nth(i).bounding_box()
        assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= HEIGHT  # on the first screen
    leaders = rows.locator("td.best b.m").all_inner_texts()
    settings = rows.locator("td.set a").all_inner_texts()
    expected = {w: _best_by_recall(df, w, "0.01") for w in (100, 50, 20)}
    shown = {int(s.split("width ")[1].split(" ")[0]): name for s, name in zip(settings, leaders)}
    assert shown == expected
    assert pg.evaluate("document.scrollingElement.scrollWidth") <= WIDTH
    assert not pg.errors
    pg.close()


def test_the_filters_choose_the_ranking(board, browser):
    df, out = board
    pg = _open(browser, out / "index.html")
    visible = pg.locator("div.ranking:visible")
    assert visible.count() == 1 and visible.locator("table").get_attribute("id") == "ranking-table"
    assert visible.locator("tbody tr").count() == len(ranking(df))
    pg.select_option("#f-task", "relu")
    visible = pg.locator("div.ranking:visible")
    relu = ranking(df[df["task"].eq("relu")])
    assert visible.count() == 1 and pg.locator("#ranking-scope").inner_text() == "task relu"
    assert visible.locator("tbody tr td:nth-child(2)").all_inner_texts() == relu["method"].tolist()
    pg.select_option("#f-protocol", "multi-shot")  # the protocol keeps its rows and its answers within it
    assert visible.locator("tbody tr:visible").count() == int(relu["protocol"].eq("multi-shot").sum())
    views = set(pg.locator("#answers tbody tr:visible").evaluate_all("rs => rs.map(r => r.dataset.view)"))
    assert views == {"multi-shot"}
    assert not pg.errors
    pg.close()


def test_setting_pages_are_small_never_scroll_sideways_and_plot_eight_methods(board, browser):
    df, out = board
    pages = sorted((out / "settings").glob("*.html"))
    assert len(pages) == prepared(df)["_slug"].nunique() == 4
    for path in pages:
        pg = _open(browser, path)
        assert pg.evaluate("document.getElementsByTagName('*').length") <= 10_000
        assert pg.evaluate("document.scrollingElement.scrollWidth") <= WIDTH
        for chart in ("#chart-recall", "#chart-weak"):
            assert 1 <= pg.locator(f"{chart} g.series").count() <= 8
        assert not pg.errors
        pg.close()
    circle = next(p for p in pages if p.name.startswith("circle-d5-w100"))
    pg = _open(browser, circle)
    methods = pg.locator("#picks input").count()
    assert methods == df[df["task"].eq("circle")]["pruner"].nunique() > 8  # every method can be picked
    ticked = pg.locator("#picks input:checked").count()
    assert ticked == pg.locator("#chart-recall g.series").count() == 8
    assert pg.locator("#picks label", has_text=EVIL).count() == 1  # the hostile name, as text
    pg.locator("#picks input:not(:checked)").first.check()
    assert pg.locator("#chart-recall g.series").count() == 9 and pg.locator("#chart-weak g.series").count() == 9
    assert pg.locator("#q-recall tbody tr").count() == methods  # mean and interval of every method
    assert pg.evaluate("Array.from(document.images).every(i => i.loading === 'lazy')")
    assert not pg.errors
    pg.close()
