"""``python -m plantseek plot``: figures per task setting from a results store alone."""

from __future__ import annotations

from plantseek.core import paths

HELP = ("plot metric, ticket recovery, per-layer density, recall vs wall-clock and critical-difference diagrams "
        "from a results store")


def add_arguments(p) -> None:
    from .arguments import path

    p.add_argument("--store", type=path, default=None,
                   help=f"results store to read (default: {paths.default_store_path()})")
    p.add_argument("--tasks", nargs="+", default=None, metavar="TASK", help="only these tasks (default: all)")
    p.add_argument("--pruners", nargs="+", default=None, metavar="PRUNER", help="only these pruners (default: all)")
    p.add_argument("--out", type=path, default=None, help=f"output folder (default: {paths.plots_dir()}/)")
    p.add_argument("--format", default="png", choices=["png", "svg", "pdf"], help="file format (default: png)")


def check(args) -> None:
    from .leaderboard import check_store
    from .outputs import checked_output_folder

    check_store(args.store)
    checked_output_folder("--out", args.out or paths.plots_dir(), default=args.out is None)


def write_cd_plots(df, out, tasks=None, pruners=None, fmt="png") -> list:
    """The critical-difference diagrams (:mod:`plantseek.report.cd_diagram`) of the chosen tasks and pruners."""
    from plantseek.report.cd_diagram import write_cd_diagrams
    from plantseek.report.plots import filter_results
    from plantseek.frame.prepared import prepare
    from plantseek.report.statistics import all_comparisons

    chosen = filter_results(prepare(df), tasks, pruners)
    return list(write_cd_diagrams(all_comparisons(chosen), out, fmt=fmt).values()) if len(chosen) else []


def run(args) -> int:
    from plantseek.report.plots import write_plots

    from .leaderboard import load

    from .outputs import claim

    df = load(args.store)
    out = claim(args.out or paths.plots_dir())
    files = write_plots(df, out, tasks=args.tasks, pruners=args.pruners, fmt=args.format)
    files += write_cd_plots(df, out, tasks=args.tasks, pruners=args.pruners, fmt=args.format)
    for f in files:
        print(f)
    if not files:
        print("plot: nothing to draw (no cell with a finite metric, recall or timing)")
    return 0
