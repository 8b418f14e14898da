"""The paper-scale views of the leaderboard page in a headless browser: the task-family filter (with statistics kept
within a family) and the confidence-interval columns of All results. Same requirements as test_page_browser.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_leaderboard import NOW, synthetic_results  # noqa: E402
from browser import CHROMIUM, CHROMIUM_ARGS, require_browser  # noqa: E402

from plantseek.report.format import fmt  # noqa: E402
from plantseek.report.leaderboard import write_leaderboard  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    require_browser()
    from playwright.sync_api import sync_playwright

    df = synthetic_results(tasks=("circle", "relu"), pruners=("random", "snip", "synflow"), seeds=(0, 1),
                           densities=["ticket", "0.1"], fail=False, nan=False)
    df.loc[df["task"] == "relu", ["task", "family"]] = ["bars", "conv"]  # a conv-family task
    out = tmp_path_factory.mktemp("families")
    write_leaderboard(df, out, with_plots=False, now=NOW)
    errors = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 900})
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto((out / "all.html").as_uri())  # the complete page
        pg.wait_for_load_state("load")
        pg.df, pg.errors = df, errors
        yield pg
        browser.close()


def _views(pg) -> list[str]:
    return pg.locator("section.stats-view:visible").evaluate_all("ss => ss.map(s => s.id)")


def _rows(pg, selector: str) -> list[str]:
    return pg.locator(f"{selector} tbody tr:visible").evaluate_all("rs => rs.map(r => r.getAttribute('data-task'))")


def test_family_filter_shows_one_family_and_its_statistics(page):
    assert page.locator("#f-family option").evaluate_all("os => os.map(o => o.value)") == ["", "MLP", "conv"]
    n_rows = len(page.locator("#all-results tbody tr").all())
    assert n_rows == 2 * 3 * 2  # 2 settings x 3 methods x 2 densities
    # all families: one pooled view per family (never one across families) on the weak metric
    assert _views(page) == ["st-single-shot-MLP-weak-metric", "st-single-shot-conv-weak-metric"]
    page.select_option("#f-family", "conv")
    assert page.locator("section.setting[data-task='circle']").is_hidden()
    assert page.locator("section.setting[data-task='bars']").is_visible()
    assert set(_rows(page, "#all-results")) == {"bars"} and len(_rows(page, "#all-results")) == n_rows // 2
    assert page.locator("#f-task option[value='circle']").evaluate("o => o.hidden")
    assert _views(page) == ["st-single-shot-conv-weak-metric"]
    page.select_option("#f-task", "bars")  # the conv group holds bars alone: its pooled view is bars' view
    assert _views(page) == ["st-single-shot-conv-weak-metric"]
    page.select_option("#f-family", "MLP")  # bars is not an MLP task: the task filter is cleared
    assert page.locator("#f-task").input_value() == ""
    assert _views(page) == ["st-single-shot-MLP-weak-metric"]
    assert set(_rows(page, "#all-results")) == {"circle"}
    assert len(_rows(page, "#ranking-table")) == 3  # the ranking names no family: all of it stays
    page.select_option("#f-family", "")
    assert len(_rows(page, "#all-results")) == n_rows
    assert not page.errors
    # the highlighted best means are not called wins; two seeds per instance group decide nothing
    assert "not a claim of significance" in page.locator("main > p.note").first.inner_text()
    verdicts = set(page.locator("table.stats-pairs td.nosig, table.stats-pairs td.sig").all_inner_texts())
    assert verdicts == {"no significant difference"}


def test_all_results_has_ci_columns_with_the_two_seed_interval(page):
    """With two seeds the percentile bootstrap of the mean has three outcomes (a, (a+b)/2, b with probabilities
    1/4, 1/2, 1/4), so its 2.5 % and 97.5 % quantiles are the two values themselves: [min, max]."""
    heads = page.locator("#all-results thead th").all_inner_texts()
    recall_col, weak_col = heads.index("recall: 95 % CI"), heads.index("weak: 95 % CI")
    assert heads[recall_col - 1] == "recall" and heads[weak_col - 1] == "weak"
    shown = page.locator("#all-results tbody tr").evaluate_all(
        f"rs => rs.map(r => [r.cells[0].textContent, r.cells[5].textContent, r.cells[7].textContent, "
        f"r.cells[{recall_col}].textContent, r.cells[{weak_col}].textContent])")
    df = page.df
    for task, method, density, recall_ci, weak_ci in shown:
        spec = "ticket" if density.startswith("ticket") else density
        g = df[(df["task"] == task) & (df["pruner"] == method) & (df["density_spec"] == spec)]
        assert len(g) == 2, (task, method, density)
        for q, text in (("recall", recall_ci), ("weak_metric", weak_ci)):
            assert text == f"[{fmt(g[q].min())}, {fmt(g[q].max())}]", (task, method, spec, q)
