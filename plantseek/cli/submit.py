"""``python -m plantseek submit path/to/pruner.py[:Class]``: check, score, store and rank a new pruner.

Without ``--instances`` (anyone): scored on public development instances (planted from their seeds), the results
labelled so, then the command the maintainers run to score it on hidden instances. ``--instances hidden``
(maintainers, with the leaderboard key: ``plantseek.planted.secrets``): the same cells on hidden instances, the
ones the published ranking is computed on; the store keeps only the key's fingerprint. See docs/hidden-instances.md.
"""

from __future__ import annotations

import sys

HELP = ("check a pruner file, score it with sanity ablations on public development instances (or, with the "
        "leaderboard key, --instances hidden), update the leaderboard")


def add_arguments(p) -> None:
    from plantseek.core.limits import MAX_JOBS

    from . import arguments as a

    p.add_argument("pruner", help="path/to/pruner.py or path/to/pruner.py:ClassName")
    p.add_argument("--suite", default="default", help="suite to score on (default: default)")
    p.add_argument("--store", type=a.path, default=None, help="results store (default: leaderboard/plantseek.db)")
    p.add_argument("--out", type=a.path, default=None,
                   help="leaderboard folder to regenerate (default: leaderboard/)")
    p.add_argument("--jobs", type=a.integer(0, MAX_JOBS), default=0,
                   help="local worker processes (default: one per core)")
    p.add_argument("--check-only", action="store_true", help="run the checks, score nothing")
    p.add_argument("--no-leaderboard", action="store_true", help="do not regenerate the leaderboard")
    from plantseek.records.cells import CellConfig

    from .overrides import add_options

    add_options(p, CellConfig)  # --instances, as for evaluate


def check(args) -> None:
    from plantseek.core import paths
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
        output_file("--store", args.store or paths.leaderboard_store())
        if not args.no_leaderboard:
            checked_output_folder("--out", args.out or paths.leaderboard_dir(), default=args.out is None)


def run(args) -> int:
    from plantseek.core import paths
    from plantseek.core.reasons import sanitise_reason
    from plantseek.run.grid import run_cells
    from .evaluate import auto_jobs
    from plantseek.store.results import ResultStore, load_results
    from plantseek.run.submit import check_submission, hidden_command, instances_heading, submission_cells
    from plantseek.run.suites import SUITES

    print(f"checking {args.pruner}", file=sys.stderr)
    name = check_submission(args.pruner, report=lambda line: print(line, file=sys.stderr))
    hidden = args.instances == "hidden"
    if args.check_only:
        if not hidden:
            print(f"the leaderboard ranks on hidden instances; the maintainers score it with:\n"
                  f"  {hidden_command(args.pruner, args.suite)}")
        return 0
    cells = submission_cells(args.pruner, SUITES.get(args.suite), name)
    fingerprint = ""
    if hidden:
        from plantseek.planted.secrets import key_fingerprint, load_key
        from plantseek.records.cells import as_hidden

        fingerprint = key_fingerprint(load_key())  # only the fingerprint is stored (in each cell's configuration)
        cells = as_hidden(cells, fingerprint)
    store_path = args.store or paths.leaderboard_store()
    heading = instances_heading(fingerprint)
    with ResultStore(store_path) as store:
        done = store.finished_ids()
        todo = [c for c in cells if c.cell_id not in done]
        print(f"scoring {name!r} on {heading}: {len(cells)} cells (suite {args.suite!r} and sanity ablations), "
              f"{len(todo)} to run, store {store_path}", file=sys.stderr)
        from tqdm import tqdm

        with tqdm(total=len(todo), unit="cell", file=sys.stderr) as bar:
            results = run_cells(todo, store=store, jobs=auto_jobs(args.jobs, todo),
                                on_result=lambda c, r: bar.update(1))
        frame = store.frame()
    failed = [(c, r) for c, r in results if r.status != "ok"]
    for c, r in failed:
        print(f"FAILED {c.task} {c.label} density={c.density}: {sanitise_reason(r.error)}", file=sys.stderr)
    if not args.no_leaderboard:
        from plantseek.report.leaderboard import write_leaderboard

        from .outputs import claim

        out = args.out or paths.leaderboard_dir()
        write_leaderboard(load_results(store_path), claim(out))
        print(f"leaderboard updated: {out}/index.html, {out}/README.md", file=sys.stderr)
    from .evaluate import print_frame

    print(f"{name}, scored on {heading}:")
    ids = {c.cell_id for c in cells}
    print_frame(frame[frame["cell_id"].isin(ids)].reset_index(drop=True), "summary", str(store_path))
    print(f"{name}: {len(results) - len(failed)} cells scored on {heading}, {len(failed)} failed")
    if not hidden:
        print(f"These are development scores: anyone can re-plant a public instance from its seed, so they are not the "
              f"leaderboard's. The leaderboard ranks on hidden instances; the maintainers score it with:\n"
              f"  {hidden_command(args.pruner, args.suite)}")
    return 1 if failed else 0
