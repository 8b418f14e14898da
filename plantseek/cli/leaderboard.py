"""``python -m plantseek leaderboard``: README.md, index.html, results.csv, results.parquet and plots
from a results store alone."""

from __future__ import annotations

import sys
from pathlib import Path

from plantseek.core import paths

HELP = "write the leaderboard (README.md, index.html, results.csv and .parquet, plots) from a results store"


def load(store: str | None, verify: bool = False, progress: bool = False):
    """The results DataFrame of a store, opened read-only, with one-line errors. Refused rows (digest or format:
    :func:`plantseek.store.results.load_checked`; with ``verify`` also the recomputation of
    :mod:`plantseek.run.recheck`, which imports torch) are left out, one line each on stderr, and counted in
    ``df.attrs["refused"]``. ``progress``: a bar on stderr over the recomputation (on a terminal only)."""
    from plantseek.core.errors import StoreError

    path = store or paths.default_store_path()
    if not Path(path).exists():
        raise StoreError(f"no results store at {path} (run cells first, or pass --store PATH)")
    from plantseek.store.results import load_checked

    checked = load_checked(path)
    df, refused = checked.frame, list(checked.refused)
    if verify:
        from plantseek.run.recheck import refused_by_recomputation

        from .progress import stderr_bar

        oks = int(sum(r["status"] == "ok" for r in checked.rows))
        with stderr_bar(oks, "cell", "leaderboard: recomputing", disable=None if progress else True) as bar:
            more = refused_by_recomputation(checked, bar.update)
        df = df[~df["cell_id"].isin({r.cell_id for r in more})].reset_index(drop=True)
        refused += more
    for r in refused:
        print(f"plantseek: {r.line()}", file=sys.stderr)
    for problem in checked.problems:  # the store as a whole (a deleted cell, a broken seal): plantseek.store.ledger
        print(f"plantseek: refused store {path}: {problem}", file=sys.stderr)
    if checked.hidden_masks:
        print(f"plantseek: warning: {checked.hidden_masks} cell(s) on hidden instances in {path} carry their mask "
              "(written before plantseek withheld them); do not publish this store: the masks give the hidden "
              "tickets away", file=sys.stderr)
    df.attrs["refused"] = len(refused)
    if df is None or len(df) == 0:
        left = f" after refusing {len(refused)}" if refused else ""
        raise StoreError(f"the results store {path} holds no cells{left}: nothing to show")
    return df


def add_arguments(p) -> None:
    from .arguments import path

    p.add_argument("--store", type=path, default=None,
                   help=f"results store to read (default: {paths.default_store_path()})")
    p.add_argument("--out", type=path, default=None, help=f"output folder (default: {paths.leaderboard_dir()}/)")
    p.add_argument("--no-plots", action="store_true", help="skip the figures (tables only)")
    p.add_argument("--suite", default=None, help="only the cells of this suite's current version (its settings: "
                   "plantseek.run.suite_version); cells of other suites or of an older definition are left out")
    p.add_argument("--verify", action="store_true", help="also recompute every ok cell's recovery metrics from its "
                   "stored mask and re-planted instance (slower; imports torch) and refuse cells that differ")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def check_store(store: str | None) -> None:
    """The store to read exists and is a readable file (what it holds is checked when it is read)."""
    from plantseek.core.errors import StoreError

    from .arguments import input_file

    path = store or paths.default_store_path()
    if not Path(path).exists():
        raise StoreError(f"no results store at {path} (run cells first, or pass --store PATH)")
    input_file("--store", path)


def only_suite(df, name: str | None):
    """``df`` narrowed to the cells of suite ``name``'s current version (unchanged for None), with a line on stderr
    naming the version and what was left out; a one-line error when none is left."""
    if name is None:
        return df
    from plantseek.core.errors import StoreError
    from plantseek.run.suite_version import in_suite, suite_tag
    from plantseek.run.suites import SUITES

    suite = SUITES.get(name)
    keep = in_suite(df, suite)
    if not keep.any():
        raise StoreError(f"the store holds no cells of suite {suite_tag(suite)} (its {len(df)} cells belong to other "
                         "suites or to another definition of it)")
    print(f"suite {suite_tag(suite)}: {int(keep.sum())} cells; {int((~keep).sum())} of other suites or versions "
          "left out", file=sys.stderr)
    out = df[keep].reset_index(drop=True)
    out.attrs.update(df.attrs)
    return out


def check_suite(name: str | None) -> None:
    if name is not None:
        from plantseek.run.suites import SUITES

        SUITES.get(name)  # an unknown name: one line, with the closest names


def check(args) -> None:
    from .outputs import checked_output_folder

    check_store(args.store)
    check_suite(args.suite)
    checked_output_folder("--out", args.out or paths.leaderboard_dir(), default=args.out is None)


def run(args) -> int:
    from plantseek.report.leaderboard import STEPS, write_leaderboard

    from .progress import stderr_bar

    df = only_suite(load(args.store, verify=args.verify, progress=not args.no_progress), args.suite)
    from .outputs import claim

    out = args.out or paths.leaderboard_dir()
    steps = [s for s in STEPS if not args.no_plots or s != "diagrams"]
    with stderr_bar(len(steps), "step", "leaderboard", disable=True if args.no_progress else None) as bar:
        def on_step(name: str) -> None:
            bar.set_postfix_str(f"{name} done", refresh=False)
            bar.update(1)

        files = write_leaderboard(df, claim(out), with_plots=not args.no_plots, on_step=on_step)
    n_plots = sum(1 for f in files if f.parent.name == "plots" and f.suffix in (".png", ".svg", ".pdf"))
    n_pages = sum(1 for f in files if f.parent.name == "settings" and f.suffix == ".html")
    ok = int((df["status"].astype(str) == "ok").sum()) if "status" in df.columns else len(df)
    print(f"leaderboard: {len(df)} cells ({ok} ok, {len(df) - ok} failed) -> {Path(out) / 'index.html'}, "
          f"all.html, README.md, results.csv, results.parquet, {n_pages} setting page(s) and {n_plots} plot(s) "
          f"written (settings unchanged since the last run are kept)")
    return 0
