"""``python -m plantseek evaluate``: run pruners on planted instances, store and print the results.

The suite (``plantseek.run.suites``, narrowed by the options) is expanded into cells and run group by group
(``plantseek.run.grid``); each group goes through the steps of ``plantseek.run.group`` (plant, prune, ablate,
train, score, record)."""

from __future__ import annotations

import json
import math
import os
import sys

HELP = "run pruners on planted tasks (a named suite, optionally narrowed), store and print results"


def add_arguments(p) -> None:
    from plantseek.core import limits
    from plantseek.records.cells import CellConfig
    from plantseek.run.suites import Suite

    from . import arguments as a
    from .overrides import add_options
    from .slurm import add_slurm_arguments

    p.add_argument("--suite", default="quickstart",
                   help="named grid (see `list`; default: quickstart, every method family in 96 cells, ~110 "
                        "CPU-seconds; the full grid of every baseline: --suite default)")
    add_options(p, Suite)  # --tasks ... --protocol: the overridable fields of the suite (plantseek.cli.overrides)
    p.add_argument("--jobs", type=a.integer(0, limits.MAX_JOBS), default=0,
                   help="local worker processes (default 0 = one per CPU core, at most one per instance)")
    p.add_argument("--max-batch", type=a.integer(1, 1 << 20), default=None,
                   help="networks trained as one batch across instances (1: one instance at a time; default: "
                        "automatic, up to 32 on the CPU and 512 on CUDA, at least 3 batches per worker; see README "
                        "Performance)")
    p.add_argument("--executor", default=None,
                   help="execution backend: local, processes, dask or slurm (default: local, or processes if "
                        "--jobs>1); dask starts a LocalCluster of --jobs single-threaded worker processes, or uses "
                        "--scheduler; slurm submits a job array through submitit (--slurm-* options)")
    p.add_argument("--scheduler", type=a.path, default=None, metavar="ADDRESS",
                   help="with --executor dask: the address of a running Dask scheduler (tcp://host:8786) instead of "
                        "a local cluster; only this process writes the store")
    p.add_argument("--device", default=None, help="cpu or cuda for training (default: cuda when available)")
    p.add_argument("--timeout", type=a.limit(limits.MIN_TIMEOUT, limits.MAX_TIMEOUT), default=None,
                   help="seconds a single prune call may take (default 1800)")
    p.add_argument("--memory-limit", type=a.limit(limits.MIN_MEMORY_LIMIT_GB, limits.MAX_MEMORY_LIMIT_GB, off=True),
                   default=None,
                   help="GB of address space a prune worker may use (default 4; 0: no limit)")
    p.add_argument("--store", type=a.path, default=None,
                   help="results store (SQLite file; default results/plantseek.db)")
    p.add_argument("--no-store", action="store_true", help="do not read or write a results store")
    p.add_argument("--json", action="store_true", help="print one JSON object per cell instead of a table")
    p.add_argument("--table", choices=("summary", "full"), default="summary",
                   help="what to print at the end: summary = per task setting, methods x densities, weak metric and "
                        "recall (confidence intervals where n >= 2; default); full = every cell")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--allow-failed", action="store_true",
                   help="exit 0 even when cells failed (default: exit 1 when any cell of the run failed)")
    add_options(p, CellConfig)  # --instances
    add_slurm_arguments(p)


def build_suite(args):
    """The named suite narrowed by the command line's options (a composite suite: each of its members)."""
    from plantseek.run.suites import SUITES, CompositeSuite

    suite = SUITES.get(args.suite)
    if isinstance(suite, CompositeSuite):  # --tasks keeps the members running them; the rest applies to each
        suite = suite.only_tasks(tuple(args.tasks)) if args.tasks else suite
        return suite.narrowed(lambda member: _narrowed(member, args, tasks=False))
    return _narrowed(suite, args)


def _narrowed(suite, args, tasks: bool = True):
    from .overrides import overrides

    changes = overrides(suite, args)
    if not tasks:
        changes.pop("tasks", None)
    return suite.with_overrides(**changes)


def validate_grid(suite) -> None:
    """Fail fast, before any work, on unknown tasks/pruners, bad task options, a host too small for a task's
    ticket or too large for this machine's memory, and a grid too large (a composite suite: each member, then
    their cells together)."""
    from plantseek.core.errors import ConfigError
    from plantseek.core.limits import MAX_CELLS
    from plantseek.run.suites import CompositeSuite

    if isinstance(suite, CompositeSuite):
        for part in suite.parts():
            validate_grid(part)
        if suite.n_cells > MAX_CELLS:
            raise ConfigError(f"the grid has {suite.n_cells} cells, more than {MAX_CELLS}: narrow it")
        return
    _validate_suite(suite)


def _validate_suite(suite) -> None:
    from plantseek.core.errors import ConfigError
    from plantseek.core.limits import MAX_CELLS
    from plantseek.planted.task import get_task
    from plantseek.prune.contract import check_pruner_file, get_pruner, is_file_ref

    from .arguments import host_fits

    for name in suite.tasks:
        setting = suite.setting(name)  # the suite's depth, width and options, or the task's own (TaskSetting)
        host_fits(setting["width"], setting["depth"])
        task = get_task(name, **setting["task_options"])
        task.check_depth(setting["depth"])
        task.check_fits(setting["depth"], setting["width"])
    pruners = suite.pruner_names()
    for p in pruners:
        if is_file_ref(p):
            check_pruner_file(p)  # a file's code runs only inside a sandboxed prune worker: here it is only parsed
        else:
            get_pruner(p)
    n_cells = len(suite.tasks) * len(pruners) * len(suite.densities) * len(suite.seeds)
    if n_cells > MAX_CELLS:
        raise ConfigError(f"the grid has {n_cells} cells, more than {MAX_CELLS}: narrow it")


def check(args) -> None:
    from plantseek.core.paths import default_store_path
    from plantseek.run.executors import check_executor
    from plantseek.train.device import resolve_device

    from .arguments import jobs_fit, output_file
    from .slurm import check_log_folder, slurm_options

    validate_grid(build_suite(args))
    if args.instances == "hidden":
        from plantseek.planted.secrets import load_key

        load_key()  # hidden instances need the leaderboard key: a one-line error when none is configured
    jobs_fit(args.jobs)
    slurm = slurm_options(args)
    check_executor(args.jobs, args.executor, args.scheduler, slurm)
    if slurm is not None:
        check_log_folder(slurm)
    resolve_device(args.device)
    if not args.no_store:
        output_file("--store", args.store or default_store_path())  # what it holds: checked when it opens


def result_row(config, result) -> dict:
    m = result.metrics or {}
    return {
        "task": config.task, "pruner": config.display_pruner, "density": config.density, "seed": config.seed,
        "status": result.status, "strong_metric": result.strong_metric, "weak_metric": result.weak_metric,
        "ticket_metric": result.ticket_metric, "metric_name": result.metric_name,
        "achieved_density": result.achieved_density, "recall": m.get("recall"), "precision": m.get("precision"),
        "prune_seconds": result.prune_seconds, "train_seconds": result.train_seconds, "error": result.error,
        "cell_id": config.cell_id, "pruner_source": config.published().pruner if config.pruner_code else "",
        "depth": config.depth, "width": config.width, "training_protocol": config.training_protocol,
        "task_options": dict(config.task_options), "instances": config.instances,
        "config": config.published().as_dict(),  # every field of the cell's identity (and its id above)
    }


def _num(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


def print_table(rows: list[dict]) -> None:
    import pandas as pd

    from plantseek.core.reasons import sanitise_reason

    if not rows:
        print("no cells")
        return
    df = pd.DataFrame(rows)
    cols = ["task", "pruner", "density", "seed", "status", "metric_name", "strong_metric", "weak_metric",
            "ticket_metric", "recall", "precision", "prune_seconds"]
    with pd.option_context("display.max_rows", None, "display.width", 200, "display.float_format", "{:.4g}".format):
        print(df[cols].to_string(index=False))
    failed = df[df.status != "ok"]
    for _, r in failed.iterrows():
        print(f"{str(r.status).upper()} {r.task} {r.pruner} density={r.density} seed={r.seed}: "
              f"{sanitise_reason(r.error)}")


def auto_jobs(jobs: int, cells) -> int:
    """``jobs`` if given, else one worker per usable core, but no more than there are instances to run."""
    if jobs and jobs > 0:
        return jobs
    from plantseek.train.device import default_threads
    from plantseek.run.grid import group_cells

    return max(1, min(default_threads(), len(group_cells(cells))))


def run(args) -> int:
    from plantseek.run.grid import expand, run_cells
    from plantseek.run.isolation.pruning import DEFAULT_PRUNE_TIMEOUT
    from plantseek.run.submit import named_cells
    from plantseek.run.suite_version import suite_tag

    from .slurm import slurm_options
    suite = build_suite(args)
    if args.memory_limit is not None:  # read by the prune workers' parents (plantseek.run.isolation.workers)
        os.environ["PLANTSEEK_PRUNE_MEMORY_GB"] = repr(args.memory_limit)
    cells = expand(suite)
    if args.instances == "hidden":
        from plantseek.planted.secrets import key_fingerprint, load_key
        from plantseek.records.cells import as_hidden

        cells = as_hidden(cells, key_fingerprint(load_key()))
    timeout = DEFAULT_PRUNE_TIMEOUT if args.timeout is None else args.timeout
    cells = named_cells(cells, timeout)  # a pruner file's cells under its declared name (read in a prune worker)
    store = None
    if not args.no_store:
        from plantseek.core.paths import default_store_path
        from plantseek.store.results import ResultStore

        store = ResultStore(args.store or default_store_path())
    done = store.finished_ids() if store is not None else set()
    todo = [c for c in cells if c.cell_id not in done]
    print(f"plantseek evaluate: suite {suite.name!r}, {len(cells)} cells ({len(cells) - len(todo)} already in "
          f"{'the store' if store is not None else 'no store'}), {len(todo)} to run", file=sys.stderr)

    bar = None
    if not args.no_progress and not args.json and todo:
        from .progress import GridBar

        bar = GridBar("evaluate", len(todo))

    def on_result(config, result):
        if bar is not None:
            bar.on_cell()
        if args.json:
            row = {k: _num(v) for k, v in result_row(config, result).items()}
            print(json.dumps(row), flush=True)

    try:
        results = run_cells(todo, store=store, jobs=auto_jobs(args.jobs, todo), executor=args.executor,
                            prune_timeout=timeout, device=args.device, on_result=on_result,
                            max_batch=args.max_batch, scheduler=args.scheduler, slurm=slurm_options(args),
                            provenance={"suite": suite_tag(suite)},
                            on_work=bar.on_work if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    if not args.json:
        if store is None:
            print_results(results, args.table)
        else:
            ids = {c.cell_id for c in cells}
            df = store.frame()
            print_frame(df[df.cell_id.isin(ids)].reset_index(drop=True), args.table, args.store)
            print(f"results stored in {store.path}", file=sys.stderr)
    return failed_exit_status(results, args.allow_failed)


def failed_exit_status(results, allow_failed: bool) -> int:
    """1 when a cell of this run failed (one line on stderr says how many), unless ``--allow-failed``; else 0.
    A ``diverged`` cell is a result (its training blew up, plantseek.score.divergence), not a failure."""
    failed = sum(1 for _, r in results if r.status == "failed")
    if not failed:
        return 0
    print(f"{failed} of {len(results)} cells failed (their reasons are stored); exit status "
          f"{0 if allow_failed else 1}{'' if allow_failed else ' (--allow-failed: exit 0)'}", file=sys.stderr)
    return 0 if allow_failed else 1


def print_frame(df, table: str, store: str | None = None) -> None:
    """The end of ``evaluate``'s output: the compact summary (:mod:`plantseek.report.compact`) or every cell."""
    if table == "full":
        print_table(df.assign(density=df.density_spec).to_dict("records"))
        return
    if not len(df):
        print("no cells")
        return
    from plantseek.report.compact import compact_summary

    print(compact_summary(df, None if store is None else str(store)))


def print_results(results, table: str) -> None:
    """As :func:`print_frame`, for results that were not stored (``--no-store``): the same frame, built in memory."""
    if table == "full":
        print_table([result_row(c, r) for c, r in results])
        return
    from pathlib import Path

    from plantseek.store.reading import check_rows
    from plantseek.store.rows import cell_row

    rows = [{**cell_row(c, r), "digest": None, "attempts": 1} for c, r in results]
    print_frame(check_rows(rows, None, False, Path("(not stored)")).frame, table, "")
