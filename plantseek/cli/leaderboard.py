"""``python -m plantseek leaderboard``: README.md, index.html, results.csv and plots from a results store alone."""

from __future__ import annotations

from pathlib import Path

from plantseek.core import paths

HELP = "write the leaderboard (README.md, index.html, results.csv, plots) from a results store"


def load(store: str | None):
    """The results DataFrame of a store (``plantseek.store.results.load_results``), with one-line errors."""
    from plantseek.core.errors import StoreError

    path = store or paths.default_store_path()
    if not Path(path).exists():
        raise StoreError(f"no results store at {path} (run cells first, or pass --store PATH)")
    from plantseek.store.results import load_results

    df = load_results(path)
    if df is None or len(df) == 0:
        raise StoreError(f"the results store {path} holds no cells: nothing to show")
    return df


def add_arguments(p) -> None:
    from .arguments import path

    p.add_argument("--store", type=path, default=None,
                   help=f"results store to read (default: {paths.default_store_path()})")
    p.add_argument("--out", type=path, default=None, help=f"output folder (default: {paths.leaderboard_dir()}/)")
    p.add_argument("--no-plots", action="store_true", help="skip the figures (tables only)")


def check_store(store: str | None) -> None:
    """The store to read exists and is a readable file (what it holds is checked when it is read)."""
    from plantseek.core.errors import StoreError

    from .arguments import input_file

    path = store or paths.default_store_path()
    if not Path(path).exists():
        raise StoreError(f"no results store at {path} (run cells first, or pass --store PATH)")
    input_file("--store", path)


def check(args) -> None:
    from .arguments import output_folder

    check_store(args.store)
    output_folder("--out", args.out or paths.leaderboard_dir())


def run(args) -> int:
    from plantseek.report.leaderboard import write_leaderboard

    df = load(args.store)
    out = args.out or paths.leaderboard_dir()
    files = write_leaderboard(df, out, with_plots=not args.no_plots)
    n_plots = sum(1 for f in files if f.parent.name == "plots")
    ok = int((df["status"].astype(str) == "ok").sum()) if "status" in df.columns else len(df)
    print(f"leaderboard: {len(df)} cells ({ok} ok, {len(df) - ok} failed) -> {Path(out) / 'index.html'}, "
          f"README.md, results.csv, {n_plots} plot(s)")
    return 0
