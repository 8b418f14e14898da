"""``python -m plantseek reproduce``: run the grids that check each stated finding of the paper (into an ordinary
results store, resumable) and write ``leaderboard/REPRODUCTION.md`` from the stored cells
(``plantseek.repro``)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from plantseek.core import paths

HELP = "run the grids behind each finding of the paper and write leaderboard/REPRODUCTION.md (a verdict per finding)"


def default_report() -> Path:
    return paths.leaderboard_dir() / "REPRODUCTION.md"


def add_arguments(p) -> None:
    from plantseek.core import limits

    from . import arguments as a

    p.add_argument("--scale", default="small",
                   help="small (3 seeds, narrowed grids: minutes) or paper (the paper's seeds and grids: hours); "
                        "default small")
    p.add_argument("--store", type=a.path, default=None,
                   help=f"results store (SQLite file; default {paths.default_store_path()}); finished cells are "
                        "skipped")
    p.add_argument("--out", type=a.path, default=None, help=f"the report (default {default_report()})")
    p.add_argument("--jobs", type=a.integer(0, limits.MAX_JOBS), default=0,
                   help="local worker processes (default 0 = one per CPU core)")
    p.add_argument("--report-only", action="store_true",
                   help="run nothing: render the report from the cells the store already holds")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def check(args) -> None:
    from plantseek.repro.scales import SCALES

    from .arguments import input_file, jobs_fit, output_file
    from .outputs import checked_output_file

    SCALES.get(args.scale)
    store = args.store or paths.default_store_path()
    if args.report_only:
        from plantseek.core.errors import StoreError

        if not Path(store).exists():
            raise StoreError(f"--store {store}: no results store (run `reproduce` without --report-only first)")
        input_file("--store", store)
    else:
        output_file("--store", store)
    checked_output_file("--out", args.out or default_report())
    jobs_fit(args.jobs)


def command_line(args) -> str:
    """The command that re-creates the report (options at their defaults left out)."""
    parts = ["python -m plantseek reproduce", f"--scale {shown(args.scale)}"]
    if args.store:
        parts.append(f"--store {shown(args.store)}")
    if args.out:
        parts.append(f"--out {shown(args.out)}")
    return " ".join(parts)


def shown(text: object) -> str:
    """``text`` as it can be written into a UTF-8 report: bytes of a file name that are not UTF-8 (kept by
    Python as lone surrogates) as ``\\xNN``."""
    return str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _run_grids(scale, store, args) -> None:
    from plantseek.repro.runner import grid_cells, run_scale, unique_cells

    from .evaluate import auto_jobs

    cells = unique_cells(grid_cells(scale))
    done = store.finished_ids()
    todo = [c for c in cells if c.cell_id not in done]
    print(f"plantseek reproduce: scale {scale.name!r}, {len(cells)} cells ({len(cells) - len(todo)} already in "
          f"{store.path}), {len(todo)} to run", file=sys.stderr)
    bar = None
    if todo and not args.no_progress:
        from .progress import GridBar

        bar = GridBar("reproduce", len(todo))

    def on_result(config, result) -> None:
        if bar is not None:
            bar.on_cell()

    start = time.monotonic()
    try:
        run_scale(scale, store, jobs=auto_jobs(args.jobs, todo), on_result=on_result,
                  on_work=bar.on_work if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    print(f"plantseek reproduce: {len(todo)} cells in {time.monotonic() - start:.0f} s", file=sys.stderr)


def run(args) -> int:
    from plantseek.core.files import atomic_write_text
    from plantseek.repro.report import judge, render
    from plantseek.repro.runner import coverage, grid_cells, grid_views
    from plantseek.repro.scales import SCALES
    from plantseek.store.results import ResultStore

    from .leaderboard import load

    scale = SCALES.get(args.scale)
    store_path = args.store or paths.default_store_path()
    if not args.report_only:
        with ResultStore(store_path) as store:
            _run_grids(scale, store, args)
    frame = load(str(store_path))
    by_grid = grid_cells(scale)
    judged = judge(grid_views(frame, by_grid), grids=list(by_grid))
    out = Path(args.out or default_report())
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, render(scale, judged, coverage(frame, scale, by_grid), store=shown(store_path),
                                  command=command_line(args)))
    tally = ", ".join(f"{v} {sum(j.verdict == v for j in judged)}" for v in dict.fromkeys(j.verdict for j in judged))
    print(f"reproduction report: {len(judged)} findings ({tally}) -> {out}")
    return 0
