"""``python -m plantseek plot``: figures per task setting from a results store alone."""

from __future__ import annotations

HELP = "plot metric, ticket recovery, per-layer density and recall vs wall-clock from a results store"


def add_arguments(p) -> None:
    from .leaderboard import FALLBACK_STORE

    p.add_argument("--store", default=None, help=f"results store to read (default: {FALLBACK_STORE})")
    p.add_argument("--tasks", nargs="+", default=None, metavar="TASK", help="only these tasks (default: all)")
    p.add_argument("--pruners", nargs="+", default=None, metavar="PRUNER", help="only these pruners (default: all)")
    p.add_argument("--out", default=None, help="output folder (default: results/plots/)")
    p.add_argument("--format", default="png", choices=["png", "svg", "pdf"], help="file format (default: png)")


def run(args) -> int:
    from plantseek.report.plots import write_plots
    from .leaderboard import default_path, load

    df = load(args.store)
    out = args.out or default_path("plots_dir", "results/plots")
    files = write_plots(df, out, tasks=args.tasks, pruners=args.pruners, fmt=args.format)
    for f in files:
        print(f)
    if not files:
        print("plot: nothing to draw (no cell with a finite metric, recall or timing)")
    return 0
