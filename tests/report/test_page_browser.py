"""The leaderboard page in a real headless browser: Debian's chromium driven by Playwright for Python.

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``) and the ``playwright`` Python package
(``pip install playwright``); no ``playwright install`` (no browser download). Skipped when either is missing.
Set ``PLANTSEEK_SCREENSHOT=path.png`` to keep a screenshot of the page.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser import CHROMIUM, CHROMIUM_ARGS, require_browser  # noqa: E402
from test_leaderboard import NOW, synthetic_results  # noqa: E402

from plantseek.report.leaderboard import write_leaderboard  # noqa: E402
from plantseek.report.tables import ranking, summary_table  # noqa: E402

pytestmark = pytest.mark.browser

EVIL = '<img src=x onerror=alert(1)>"snip'


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    require_browser()
    df = synthetic_results(tasks=("circle", "relu"), pruners=("random", "snip", "synflow", "edge-popup"),
                           seeds=(0, 1))
    df.loc[df["pruner"] == "snip", "pruner"] = EVIL  # a hostile name from a user's pruner file
    out = tmp_path_factory.mktemp("board")
    files = write_leaderboard(df, out, now=NOW)
    return df, out, files


@pytest.fixture(scope="module")
def page(board):
    from playwright.sync_api import sync_playwright

    _, out, _ = board
    events = {"console": [], "pageerror": [], "requestfailed": [], "dialog": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 900})
        pg.on("console", lambda m: events["console"].append((m.type, m.text)))
        pg.on("pageerror", lambda e: events["pageerror"].append(str(e)))
        pg.on("requestfailed", lambda r: events["requestfailed"].append(r.url))
        pg.on("dialog", lambda d: (events["dialog"].append(d.message), d.dismiss()))
        pg.goto((out / "all.html").as_uri())  # the complete page (index.html: tests/report/test_answers_browser.py)
        pg.wait_for_load_state("load")
        pg.events = events
        yield pg
        browser.close()


def _visible_rows(pg, selector: str) -> int:
    return pg.locator(f"{selector} tbody tr:visible").count()


def _column(table, col: int) -> list[str]:
    return table.locator("tbody tr").evaluate_all(f"rs => rs.map(r => r.cells[{col}].getAttribute('data-v'))")


def test_loads_without_errors_and_images(page, board):
    _, out, files = board
    n_plots = sum(1 for f in files if f.parent.name == "plots" and f.suffix != ".json")
    # 2 settings x 5 figures (recall vs compute included), and critical-difference diagrams: single-shot (the one
    # protocol with two methods) over all tasks, on circle and on relu, each on the weak metric and on recall
    assert n_plots == 10 + 6
    # images load lazily (a paper-scale page has hundreds): every one is marked so, and every one loads when asked
    assert page.evaluate("Array.from(document.images).every(i => i.loading === 'lazy')")
    images = page.evaluate("Promise.all(Array.from(document.images).map(i => { i.loading = 'eager'; "
                           "return i.decode().then(() => [i.getAttribute('src'), i.complete, i.naturalWidth], "
                           "() => [i.getAttribute('src'), false, 0]); }))")
    assert len(images) == n_plots
    assert all(done and width > 0 for _, done, width in images), images
    assert page.title() == "plantseek leaderboard"
    errors = [t for kind, t in page.events["console"] if kind == "error"]
    assert not errors and not page.events["pageerror"] and not page.events["requestfailed"]
    assert not page.events["dialog"]  # the hostile name never ran
    shot = out / "page.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000
    if os.environ.get("PLANTSEEK_SCREENSHOT"):
        shutil.copy(shot, os.environ["PLANTSEEK_SCREENSHOT"])


def test_tables_render_expected_rows(page, board):
    df = board[0]
    s = summary_table(df)
    assert page.locator("#ranking-table tbody tr").count() == len(ranking(df)) == 4
    assert page.locator("#all-results tbody tr").count() == len(s) == 2 * 4 * 5
    assert page.locator("table.pivot").count() == 2
    circle = page.locator("table.pivot").first
    assert circle.locator("tbody tr").count() == 4
    assert page.get_by_text(EVIL, exact=True).first.is_visible()  # shown literally, as text
    assert "gradient is NaN" in page.locator("#failed").inner_text()


def test_header_click_sorts(page, board):
    df = board[0]
    s = summary_table(df)
    circle = s[(s["task"] == "circle") & (s["density_spec"] == "0.1")]
    table = page.locator("table.pivot").first
    weak_col = 2 + 3 * 2 + 2  # method, protocol, then (recall, strong, weak) per density: ticket, 0.01, 0.1
    header = table.locator(f'th[data-col="{weak_col}"]')
    assert header.inner_text().startswith("weak")
    header.click()  # accuracy: best first
    expected = circle.sort_values("weak_metric_mean", ascending=False)["method"].tolist()
    assert len(set(circle["weak_metric_mean"])) == len(expected)  # no ties: the order is unambiguous
    assert _column(table, 0) == expected
    assert header.get_attribute("aria-sort") == "descending"
    header.click()
    assert _column(table, 0) == expected[::-1]
    assert header.get_attribute("aria-sort") == "ascending"
    ranking_table = page.locator("#ranking-table")
    ranking_table.locator('th[data-col="1"]').click()  # method names, A to Z
    names = _column(ranking_table, 1)
    assert names == sorted(names, key=str.lower)


def test_filters_hide_rows(page, board):
    s = summary_table(board[0])
    n_relu = int((s["task"] == "relu").sum())
    page.select_option("#f-task", "relu")
    assert _visible_rows(page, "#all-results") == n_relu
    assert page.locator("section.setting[data-task='circle']").is_hidden()
    assert page.locator("section.setting[data-task='relu']").is_visible()
    assert page.locator("#shown").inner_text() == f"{n_relu} of {len(s)} rows shown"
    page.select_option("#f-protocol", "strong")
    assert _visible_rows(page, "#all-results") == int(((s["task"] == "relu") & (s["protocol"] == "strong")).sum())
    assert _visible_rows(page, "#ranking-table") == 1
    page.select_option("#f-task", "")
    page.select_option("#f-protocol", "")
    assert _visible_rows(page, "#all-results") == len(s)
    assert _visible_rows(page, "#ranking-table") == 4


def _visible_views(pg) -> list[str]:
    return pg.locator("section.stats-view:visible").evaluate_all("ss => ss.map(s => s.id)")


def test_statistics_views_follow_the_filters(page, board):
    assert page.locator("#statistics").is_visible()
    assert _visible_views(page) == ["st-single-shot-weak-metric"]  # all tasks pooled, weak metric
    view = page.locator("#st-single-shot-weak-metric")
    img = view.locator("figure.cd img")
    assert img.evaluate("i => i.complete && i.naturalWidth > 0")
    # three single-shot methods: three pairs, three rows of rank stability
    assert view.locator("table.stats-pairs tbody tr").count() == 3
    assert view.locator("table.stats-stability tbody tr").count() == 3
    page.select_option("#f-task", "circle")
    assert _visible_views(page) == ["st-single-shot-circle-weak-metric"]
    page.select_option("#f-quantity", "recall")
    assert _visible_views(page) == ["st-single-shot-circle-recall"]
    assert page.locator("#stats-none").is_hidden()
    page.select_option("#f-protocol", "strong")  # one strong method: nothing to compare
    assert _visible_views(page) == [] and page.locator("#stats-none").is_visible()
    for sel, value in (("#f-protocol", ""), ("#f-task", ""), ("#f-quantity", "weak_metric")):
        page.select_option(sel, value)
    assert _visible_views(page) == ["st-single-shot-weak-metric"]


def test_statistics_name_no_win_without_significance(page, board):
    verdicts = page.locator("table.stats-pairs td.nosig, table.stats-pairs td.sig").all_inner_texts()
    assert verdicts and all(v == "no significant difference" or v.endswith(" better") for v in verdicts)
    for row in page.locator("table.stats-pairs tbody tr").all():
        cells = row.locator("td")
        p_holm = cells.nth(5).get_attribute("data-v")
        verdict = cells.nth(7).inner_text()
        assert (verdict != "no significant difference") == (p_holm != "" and float(p_holm) < 0.05)
    assert page.get_by_text(EVIL, exact=True).first.is_visible()
