"""The leaderboard's files: ``results.csv`` and ``results.parquet`` (the same rows and columns, typed),
``README.md``, ``index.html``, ``settings/*.html``, ``all.html`` and the plots, written into one folder from a results
DataFrame alone (:func:`plantseek.store.results.load_results`).

Nothing is recomputed from masks or instances, so a leaderboard can be rebuilt offline from any stored results.
The parts: :mod:`~plantseek.frame.prepared` (normalising the frame), :mod:`~plantseek.report.tables` (summary,
ranking, sanity ablations), :mod:`~plantseek.report.provenance`, :mod:`~plantseek.report.markdown` (README.md),
:mod:`~plantseek.report.index_page` (index.html: the answers), :mod:`~plantseek.report.setting_page` (a page per
setting), :mod:`~plantseek.report.page` (all.html, everything on one page), :mod:`~plantseek.report.plots`
(figures); the pages come from Jinja2 templates.
Words: **density** is the fraction of prunable weights KEPT.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Callable

import pandas as pd

from plantseek.core.files import atomic_write, atomic_write_text
from plantseek.report.markdown import render_markdown
from plantseek.frame.leak import instance_columns, published_cells
from plantseek.report.page import render_html
from plantseek.frame.prepared import prepare
from plantseek.report.incremental import (CD_MANIFEST, cd_fingerprint, read_manifest, remove_listed,
                                          setting_fingerprints, up_to_date, write_manifest)
from plantseek.report.index_page import render_index
from plantseek.report.provenance import provenance_line
from plantseek.report.selection import default_methods
from plantseek.report.setting_page import nm_ceilings, render_setting
from plantseek.report.statistics import with_intervals
from plantseek.report.tables import blocks
from plantseek.stats.leaders import leaders

__all__ = ["results_table", "write_results_csv", "write_results_parquet", "write_leaderboard"]


def results_table(df: pd.DataFrame) -> pd.DataFrame:
    """Every cell of the frame as published: without masks (columns named mask/masks or holding bytes are dropped),
    with the ``instances`` and ``key_fingerprint`` columns; the frame's own column types."""
    drop = [c for c in df.columns if str(c).lower() in ("mask", "masks")
            or df[c].map(lambda v: isinstance(v, (bytes, bytearray, memoryview))).any()]
    out = df.drop(columns=drop).reset_index(drop=True)
    out["instances"], out["key_fingerprint"] = instance_columns(out)
    return out


def write_results_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """:func:`results_table` as CSV."""
    return atomic_write_text(path, results_table(df).to_csv(index=False))


def write_results_parquet(df: pd.DataFrame, path: str | Path) -> Path:
    """:func:`results_table` as Parquet (pyarrow; no compression-level or writer-time metadata, so the same frame
    gives the same bytes): its rows and columns are those of ``results.csv``, with their types kept (integers,
    floats, nullable booleans, strings), for ``pandas.read_parquet``, polars, DuckDB or Spark."""
    table = results_table(df)
    text = [c for c in table.columns if table[c].dtype == object and table[c].map(lambda v: v is None or (
        isinstance(v, float) and v != v) or isinstance(v, str)).all()]  # str values held as objects (JSON texts)
    table = table.astype({c: "str" for c in text}) if text else table

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # opened here: pyarrow cannot open a path whose name is not UTF-8
            table.to_parquet(f, engine="pyarrow", index=False)

    return atomic_write(path, write)


def write_leaderboard(df: pd.DataFrame, out_dir: str | Path, with_plots: bool = True,
                      now: _dt.datetime | None = None, on_step: Callable[[str], None] | None = None) -> list[Path]:
    """Write ``index.html`` (the answers: :mod:`~plantseek.report.index_page`), ``settings/<slug>.html`` (one page
    per setting: :mod:`~plantseek.report.setting_page`), ``all.html`` (everything on one page:
    :mod:`~plantseek.report.page`), ``README.md``, ``results.csv``, ``results.parquet`` and (``with_plots``)
    ``plots/*.png`` (each setting's figures with its default methods,
    :func:`~plantseek.report.selection.default_methods`) and the critical-difference diagrams ``plots/cd_*.svg``
    (:mod:`plantseek.report.cd_diagram`) into ``out_dir``.

    Everything comes from ``df`` alone. A setting whose cells (and the code) are unchanged since the last run into
    ``out_dir`` keeps its page and figures (:mod:`~plantseek.report.incremental`); the rest is rewritten. Returns the
    written files. ``on_step(name)`` is called as each of the :data:`STEPS` ends (a progress report; the
    ``diagrams`` step is skipped without ``with_plots``).
    """
    step = on_step or (lambda _name: None)
    d = prepare(df)  # validates before anything is written; prepared once for every part
    step("frame")
    from plantseek.report.statistics import all_comparisons, interval_lookup

    board = published_cells(d)
    found = all_comparisons(board)  # once: the pages, the README and the diagrams show the same
    leads = leaders(board)
    intervals = interval_lookup(d)
    step("statistics")
    out = Path(out_dir)
    now = now or _dt.datetime.now(_dt.timezone.utc)
    written, figures = _setting_pages(d, out, leads, intervals, with_plots, now)
    step("settings")
    cd_rel: dict[str, str] = {}
    if with_plots:
        cd_written, cd_rel = _cd_diagrams(found, out)
        written += cd_written
        step("diagrams")
    written.append(write_results_csv(df, out / "results.csv"))
    written.append(write_results_parquet(df, out / "results.parquet"))
    step("results.csv")
    written.append(atomic_write_text(out / "README.md", render_markdown(d, figures, now, cd_figures=cd_rel,
                                                                          comparisons=found, leads=leads)))
    step("README.md")
    written.append(atomic_write_text(out / "all.html", render_html(d, figures, now, cd_figures=cd_rel,
                                                                       comparisons=found, intervals=intervals)))
    step("all.html")
    written.append(atomic_write_text(out / "index.html", render_index(d, now, leads)))
    step("index.html")
    return written


#: The steps of :func:`write_leaderboard`, in order (``settings``: the pages and figures of the settings that
#: changed; ``diagrams`` only with plots).
STEPS = ("frame", "statistics", "settings", "diagrams", "results.csv", "README.md", "all.html", "index.html")


def _setting_pages(d: pd.DataFrame, out: Path, leads: pd.DataFrame, intervals: dict, with_plots: bool,
                   now: _dt.datetime) -> tuple[list[Path], dict[str, dict[str, str]]]:
    """Write the page and figures of every setting that changed since the last run into ``out``; return the written
    files and every setting's figures (slug -> kind -> path relative to ``out``)."""
    fam = dict(zip(d["task"], d["_family"]))
    settings = {b["slug"]: b for b in blocks(d)}
    shown = {slug: default_methods(pd.DataFrame(list(b["cell"].values()))) for slug, b in settings.items()}
    prints = setting_fingerprints(d, with_plots)
    before = read_manifest(out)
    for slug in set(before) - set(settings):  # a setting that is gone (e.g. split by engine): its files go too
        remove_listed(out, before[slug])
    manifest = {slug: before[slug] for slug in settings if up_to_date(out, before.get(slug), prints.get(slug, ""))}
    todo = [slug for slug in settings if slug not in manifest]
    figures: dict[str, dict[str, Path]] = {}
    if with_plots and todo:
        from plantseek.report.plots import plots_by_setting

        figures = plots_by_setting(d, out / "plots", fmt="png", methods={slug: shown[slug] for slug in todo})
    written: list[Path] = []
    for slug in todo:
        b, page, mine = settings[slug], f"settings/{slug}.html", figures.get(slug, {})
        html = render_setting(with_intervals(b, intervals), leads[leads["sid"].eq(b["sid"])], shown[slug],
                              fam.get(b["task"], ""), {kind: f"../plots/{p.name}" for kind, p in mine.items()},
                              provenance_line(d[d["_slug"].eq(slug)], now), nm_ceilings(d[d["_slug"].eq(slug)]))
        written += [atomic_write_text(out / page, html), *mine.values()]
        manifest[slug] = {"fingerprint": prints.get(slug, ""), "page": page,
                          "figures": [[kind, f"plots/{p.name}"] for kind, p in mine.items()]}  # in drawing order
    written.append(write_manifest(out, manifest))
    return written, {slug: dict(manifest[slug]["figures"]) for slug in settings}


def _cd_diagrams(found: list, out: Path) -> tuple[list[Path], dict[str, str]]:
    """Draw the critical-difference diagrams whose drawing changed; return the written files and every diagram
    (comparison key -> path relative to ``out``), in the comparisons' order."""
    from plantseek.report.cd_diagram import write_cd_diagrams

    before, prints = read_manifest(out, CD_MANIFEST), {c.key: cd_fingerprint(c, "svg") for c in found}
    kept = {c.key for c in found
            if before.get(c.key) == prints[c.key] and (out / "plots" / f"cd_{c.key}.svg").is_file()}
    new = write_cd_diagrams([c for c in found if c.key not in kept], out / "plots", fmt="svg")
    rel = {c.key: f"plots/cd_{c.key}.svg" for c in found if c.key in kept or c.key in new}
    written = [*new.values(), write_manifest(out, {key: prints[key] for key in rel}, CD_MANIFEST)]
    return written, rel
