"""The leaderboard's files: ``results.csv`` and ``results.parquet`` (the same rows and columns, typed),
``README.md``, ``index.html`` and the plots, written into one folder from a results DataFrame alone
(:func:`plantseek.store.results.load_results`).

Nothing is recomputed from masks or instances, so a leaderboard can be rebuilt offline from any stored results.
The parts: :mod:`~plantseek.frame.prepared` (normalising the frame), :mod:`~plantseek.report.tables` (summary,
ranking, sanity ablations), :mod:`~plantseek.report.provenance`, :mod:`~plantseek.report.markdown` (README.md),
:mod:`~plantseek.report.page` (index.html, from a Jinja2 template), :mod:`~plantseek.report.plots` (figures).
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
    """Write ``results.csv``, ``results.parquet``, ``README.md``, ``index.html`` and (``with_plots``) ``plots/*.png``
    and the critical-difference diagrams ``plots/cd_*.svg`` (:mod:`plantseek.report.cd_diagram`) into ``out_dir``.

    Everything comes from ``df`` alone. Returns the written files. ``on_step(name)`` is called as each of the
    :data:`STEPS` ends (a progress report; the plot steps are skipped without ``with_plots``)."""
    step = on_step or (lambda _name: None)
    d = prepare(df)  # validates before anything is written; prepared once for every part
    step("frame")
    from plantseek.report.statistics import all_comparisons

    found = all_comparisons(published_cells(d))  # once: the page, the README and the diagrams show the same
    step("statistics")
    out = Path(out_dir)
    now = now or _dt.datetime.now(_dt.timezone.utc)
    written: list[Path] = []
    rel: dict[str, dict[str, str]] = {}
    if with_plots:
        from plantseek.report.plots import plots_by_setting

        for slug, kinds in plots_by_setting(d, out / "plots", fmt="png").items():
            rel[slug] = {kind: f"plots/{p.name}" for kind, p in kinds.items()}
            written += list(kinds.values())
        step("plots")
    cd_rel = {}
    if with_plots:
        from plantseek.report.cd_diagram import write_cd_diagrams

        for key, p in write_cd_diagrams(found, out / "plots", fmt="svg").items():
            cd_rel[key] = f"plots/{p.name}"
            written.append(p)
        step("diagrams")
    written.append(write_results_csv(df, out / "results.csv"))
    written.append(write_results_parquet(df, out / "results.parquet"))
    step("results.csv")
    written.append(atomic_write_text(out / "README.md", render_markdown(d, rel, now, cd_figures=cd_rel,
                                                                          comparisons=found)))
    step("README.md")
    written.append(atomic_write_text(out / "index.html", render_html(d, rel, now, cd_figures=cd_rel,
                                                                         comparisons=found)))
    step("index.html")
    return written


#: The steps of :func:`write_leaderboard`, in order (``plots`` and ``diagrams`` only with plots).
STEPS = ("frame", "statistics", "plots", "diagrams", "results.csv", "README.md", "index.html")
