"""``python -m plantseek submit path/to/pruner.py[:Class]``: check, score, store and rank a new pruner.

Without ``--instances`` (anyone): scored on public development instances (planted from their seeds), the results
labelled so, then the command the maintainers run to score it on hidden instances. ``--instances hidden``
(maintainers, with the leaderboard key: ``plantseek.planted.secrets``): the same cells on hidden instances, the
ones the published ranking is computed on; the store keeps only the key's fingerprint. See docs/hidden-instances.md.
"""

from __future__ import annotations

import sys

HELP = ("check a pruner file, score it with sanity ablations on public development instances into your own store "
        "and page (or, maintainers with the leaderboard key: --instances hidden, into the leaderboard)")


def add_arguments(p) -> None:
    from plantseek.core.limits import MAX_JOBS

    from . import arguments as a

    p.add_argument("pruner", help="path/to/pruner.py or path/to/pruner.py:ClassName")
    p.add_argument("--suite", default="default", help="suite to score on (default: default)")
    p.add_argument("--store", type=a.path, default=None,
                   help="results store (default: results/plantseek.db; with --instances hidden: "
                        "leaderboard/plantseek.db)")
    p.add_argument("--out", type=a.path, default=None,
                   help="page to write (default: results/leaderboard/, ranked with the committed leaderboard's public "
                        "cells; with --instances hidden: leaderboard/)")
    p.add_argument("--jobs", type=a.integer(0, MAX_JOBS), default=0,
                   help="local worker processes (default: one per core)")
    p.add_argument("--check-only", action="store_true", help="run the checks, score nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--no-leaderboard", action="store_true", help="write no page")
    from plantseek.records.cells import CellConfig

    from .overrides import add_options

    add_options(p, CellConfig)  # --instances, as for evaluate


def check(args) -> None:
    from plantseek.core.errors import ConfigError
    from plantseek.run.suites import SUITES

    from .arguments import checked_path, input_file, jobs_fit, output_file
    from .outputs import checked_output_folder

    file_part = args.pruner.partition(":")[0]
    if not (".py" in args.pruner or "/" in args.pruner) or not file_part.strip():
        raise ConfigError(f"submit takes a file, path/to/pruner.py[:Class], got {args.pruner!r}")
    checked_path("pruner file", file_part)
    input_file("pruner file", file_part)
    from plantseek.prune.contract import check_pruner_file

    check_pruner_file(args.pruner)  # parsed only: its code runs in a sandboxed prune worker (run.submit)
    SUITES.get(args.suite)
    if args.instances == "hidden":
        from plantseek.planted.secrets import load_key

        load_key()  # hidden instances need the leaderboard key: a one-line error when none is configured
    jobs_fit(args.jobs)
    if not args.check_only:
        output_file("--store", args.store or default_store(args))
        if not args.no_leaderboard:
            checked_output_folder("--out", args.out or default_page(args), default=args.out is None)


def default_store(args):
    """A submitter's own store; the committed leaderboard's only for the maintainers' hidden-instance run."""
    from plantseek.core import paths

    return paths.leaderboard_store() if args.instances == "hidden" else paths.default_store_path()


def default_page(args):
    from plantseek.core import paths

    return paths.leaderboard_dir() if args.instances == "hidden" else paths.results_dir() / "leaderboard"


def run(args) -> int:
    from plantseek.core.reasons import sanitise_reason
    from plantseek.store.results import ResultStore, load_results
    from plantseek.run.submit import check_submission, hidden_command, instances_heading, submission_cells
    from plantseek.run.suites import SUITES
    from plantseek.run.suite_version import suite_tag

    print(f"checking {args.pruner}", file=sys.stderr)
    name = check_submission(args.pruner, report=lambda line: print(line, file=sys.stderr))
    hidden = args.instances == "hidden"
    if args.check_only:
        if not hidden:
            print(f"the leaderboard ranks on hidden instances; the maintainers score it with:\n"
                  f"  {hidden_command(args.pruner, args.suite)}")
        return 0
    suite = SUITES.get(args.suite)
    cells = submission_cells(args.pruner, suite, name)
    fingerprint = ""
    if hidden:
        from plantseek.planted.secrets import key_fingerprint, load_key
        from plantseek.records.cells import as_hidden

        fingerprint = key_fingerprint(load_key())  # only the fingerprint is stored (in each cell's configuration)
        cells = as_hidden(cells, fingerprint)
    store_path = args.store or default_store(args)
    heading = instances_heading(fingerprint)
    with ResultStore(store_path) as store:
        done = store.finished_ids()
        todo = [c for c in cells if c.cell_id not in done]
        print(f"scoring {name!r} on {heading}: {len(cells)} cells (suite {args.suite!r} and sanity ablations), "
              f"{len(todo)} to run, store {store_path}", file=sys.stderr)
        results = _score(args, todo, store, suite_tag(suite))
        frame = store.frame()
    failed = [(c, r) for c, r in results if r.status != "ok"]
    for c, r in failed:
        print(f"FAILED {c.task} {c.label} density={c.density}: {sanitise_reason(r.error)}", file=sys.stderr)
    ranked = ranking_frame(load_results(store_path), hidden, suite)
    out = None if args.no_leaderboard else write_page(args, ranked, hidden)
    from .evaluate import print_frame

    print(f"{name}, scored on {heading}:")
    ids = {c.cell_id for c in cells}
    print_frame(frame[frame["cell_id"].isin(ids)].reset_index(drop=True), "summary", str(store_path))
    print_standing(ranked, name)
    print(f"{name}: {len(results) - len(failed)} cells scored on {heading}, {len(failed)} failed")
    if out is not None:
        print(f"its page: {out}/index.html")
    if not hidden:
        print(f"These are development scores: anyone can re-plant a public instance from its seed, so they are not the "
              f"leaderboard's. The leaderboard ranks on hidden instances; the maintainers score it with:\n"
              f"  {hidden_command(args.pruner, args.suite)}")
    return 1 if failed else 0


def _score(args, todo, store, tag: str):
    """Run the submission's cells that are not stored yet into ``store``, with a progress bar; their results."""
    from plantseek.run.grid import run_cells

    from .evaluate import auto_jobs
    from .progress import GridBar

    bar = GridBar("submit", len(todo)) if todo and not args.no_progress else None
    try:
        return run_cells(todo, store=store, jobs=auto_jobs(args.jobs, todo),
                         on_result=lambda c, r: bar.on_cell() if bar is not None else None,
                         on_work=bar.on_work if bar is not None else None, provenance={"suite": tag})
    finally:
        if bar is not None:
            bar.close()


def write_page(args, ranked, hidden: bool):
    """The submitter's page (the leaderboard's, with plots, for the maintainers' hidden run); returns its folder."""
    from plantseek.report.leaderboard import write_leaderboard

    from .outputs import claim

    out = args.out or default_page(args)
    print(f"writing the page ({len(ranked)} cells) to {out}", file=sys.stderr)
    write_leaderboard(ranked, claim(out), with_plots=hidden)  # figures of your own: `plot --store`
    return out


def ranking_frame(own, hidden: bool, suite=None):
    """What the submission is ranked among (:func:`plantseek.report.submission.submission_frame`), saying how many
    stored cells of other suites or suite versions were left out."""
    from plantseek.core import paths
    from plantseek.report.submission import submission_frame
    from plantseek.run.suite_version import suite_tag

    frame, left_out = submission_frame(own, paths.leaderboard_store(), hidden, suite)
    if left_out:
        print(f"ranked on the cells of suite {suite_tag(suite)} only: {left_out} stored cell(s) of other "
              "suites or suite versions left out", file=sys.stderr)
    return frame


def print_standing(frame, name: str) -> None:
    """Its rank among the other methods on the same seeds, per setting and density, and the paired test against
    the best of them (plantseek.stats.compare.standing)."""
    import math

    import pandas as pd

    from plantseek.frame.prepared import prepared
    from plantseek.stats.compare import standing

    table = standing(prepared(frame), name)
    if not len(table):
        return
    shown = pd.DataFrame({
        "setting": table["setting"], "density": table["density_spec"], "seeds": table["n"],
        "recall": table["recall"].map("{:.3f}".format),
        "rank": [f"{r}/{o}" for r, o in zip(table["rank"], table["of"])],
        "best other (recall)": [f"{b} ({v:.3f})" if b else "—" for b, v in zip(table["best_other"],
                                                                           table["best_other_recall"])],
        "difference [95% CI]": [f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]" if math.isfinite(d) and math.isfinite(lo) else "—"
                                for d, lo, hi in zip(table["difference"], table["ci_low"], table["ci_high"])],
        "verdict": table["verdict"]})
    print(f"\nstanding of {name} by recall, per setting and density (rank among the methods that ran the same "
          f"seeds; paired Wilcoxon vs the best other, Holm-corrected):")
    with pd.option_context("display.max_rows", None, "display.width", 250, "display.max_colwidth", 60):
        print(shown.to_string(index=False))
