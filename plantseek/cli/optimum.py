"""``python -m plantseek optimum``: the exhaustive sparsest-mask search on the Cubist Spiral (docs/optimum.md)."""

from __future__ import annotations

HELP = "search the sparsest masks of the Cubist Spiral exhaustively (phase 1 widths, phase 2 masks); resumable"


def _widths(text: str) -> tuple[int, int, int]:
    import argparse

    parts = text.split("-")
    if len(parts) != 3 or not all(p.isdigit() and 1 <= int(p) <= 16 for p in parts):
        raise argparse.ArgumentTypeError(f"a width triple is d1-d2-d3 with each in 1..16, got {text[:40]!r}")
    return int(parts[0]), int(parts[1]), int(parts[2])


def add_arguments(p) -> None:
    from .arguments import integer, integer_list, names, number, path

    def lrs(text: str) -> tuple[float, ...]:
        one = number(0.0, 10.0, above=True)
        return tuple(one(t) for t in names(text))

    p.add_argument("--task", default="cubist-spiral", choices=["cubist-spiral"], help="the task (cubist-spiral)")
    p.add_argument("--points", type=integer(64, 1_000_000), default=50_000, help="points on the spirals (50000)")
    p.add_argument("--epochs", type=integer(1, 1000), default=50, help="epochs per run (50)")
    p.add_argument("--batch-size", type=integer(1, 100_000), default=128, help="batch size (128)")
    p.add_argument("--lrs", type=lrs, default=(0.05, 0.1), help="SGD learning rates, comma-separated (0.05,0.1)")
    p.add_argument("--schedules", type=names, default=["constant", "cosine"],
                   help="schedules, comma-separated: constant, cosine (both)")
    p.add_argument("--width-values", type=integer_list(1, 16, 16), default=tuple(range(1, 17)),
                   help="phase 1 trains every triple of these widths (default 1..16: 4096 triples)")
    p.add_argument("--widths-95", type=_widths, default=None, metavar="D1-D2-D3",
                   help="search the 95 %% target's masks inside these widths (default: phase 1's minimal triple)")
    p.add_argument("--widths-995", type=_widths, default=None, metavar="D1-D2-D3",
                   help="search the 99.5 %% target's masks inside these widths (default: phase 1's minimal triple)")
    p.add_argument("--max-masks", type=integer(1, 10**9), default=None, help="cap on masks per target (none)")
    p.add_argument("--seed", type=integer(0, 2**31 - 1), default=0, help="seed of inits, data order and split (0)")
    p.add_argument("--jobs", type=integer(1, 256), default=1, help="processes training bundles in parallel (1)")
    p.add_argument("--bundle", type=integer(1, 100_000), default=512, help="runs per batched bundle (512)")
    p.add_argument("--phase1-only", action="store_true", help="stop after phase 1")
    p.add_argument("--store", type=path, default=None,
                   help="the runs' sqlite file (default results/optimum.sqlite); rows there are not retrained")
    p.add_argument("--report", type=path, default=None, help="folder for README.md and best_known.json (none)")
    p.add_argument("--ticket-out", type=path, default=None,
                   help="write the 95 %% target's best mask with its trained weights as a ticket .npz (none)")


def check(args) -> None:
    from plantseek.core.errors import ConfigError

    from .outputs import checked_output_file, checked_output_folder

    bad = [s for s in args.schedules if s not in ("constant", "cosine")]
    if bad or not args.schedules:
        raise ConfigError(f"--schedules takes constant and/or cosine, got {','.join(args.schedules)[:60]!r}")
    if not args.lrs:
        raise ConfigError("--lrs needs at least one learning rate")
    if args.store is not None:
        checked_output_file("--store", args.store)
    if args.report is not None:
        checked_output_folder("--report", args.report)
    if args.ticket_out is not None:
        checked_output_file("--ticket-out", args.ticket_out)


def run(args) -> int:
    import shlex
    import sys
    from pathlib import Path

    from plantseek.core.paths import results_dir
    from plantseek.optimum import report
    from plantseek.optimum.search import RunStore, SearchConfig, search

    config = SearchConfig(n_points=args.points, epochs=args.epochs, batch_size=args.batch_size, lrs=tuple(args.lrs),
                          schedules=tuple(args.schedules), seed=args.seed, width_values=tuple(args.width_values),
                          max_masks=args.max_masks, bundle=args.bundle)
    store = RunStore(Path(args.store) if args.store else results_dir() / "optimum.sqlite")
    widths = {t: w for t, w in ((0.95, args.widths_95), (0.995, args.widths_995)) if w is not None}
    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    try:
        p1, outcomes, s = search(config, store, jobs=args.jobs, phase1_only=args.phase1_only, widths=widths, say=say)
    finally:
        store.close()
    for o in outcomes:
        w = "-" if o.widths is None else "-".join(map(str, o.widths))
        print(f"target {o.target:g}: minimal widths {w}, best-known nnz {o.best_nnz} (weights), "
              f"mask {o.best_mask}, masks tried {o.masks_tried}, settings per mask {len(config.settings())}")
    if args.report:
        command = "python -m plantseek optimum " + " ".join("PATH" if a.startswith("/") else shlex.quote(a)
                                                            for a in sys.argv[2:])
        report.write(Path(args.report), args.task, p1, outcomes, config, command, s.trained)
    if args.ticket_out and outcomes[0].best_mask is None:
        print(f"no mask reached {outcomes[0].target:g}: no ticket written to {args.ticket_out}", file=sys.stderr)
    elif args.ticket_out:
        from plantseek.optimum.ticket import write_ticket

        write_ticket(Path(args.ticket_out), config, outcomes[0])
    return 0
