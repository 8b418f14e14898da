"""``python -m plantseek compare``: two pruners of one store, or one pruner in two stores, compared cell by cell
(paired by setting, density and seed; :mod:`plantseek.stats.compare`)."""

from __future__ import annotations

import json
import math
import sys

from plantseek.core import paths

HELP = "compare two pruners (or one pruner in two stores) cell by cell, with intervals and paired tests"


def add_arguments(p) -> None:
    from .arguments import path

    p.add_argument("--store", default=None, type=path,
                   help=f"results store (default: {paths.default_store_path()})")
    p.add_argument("--against", default=None, type=path, metavar="STORE",
                   help="a second store: compare the pruner(s) of --store with the same (or the second) in this one")
    p.add_argument("--pruners", required=True,
                   help="A,B: two pruners of --store; with --against, one pruner (in both stores) or A,B (A from "
                        "--store, B from --against)")
    p.add_argument("--suite", default=None, help="compare on the cells of this suite's current version only "
                   "(plantseek.run.suite_version)")
    p.add_argument("--json", action="store_true", help="one JSON object per row instead of a table")


def _names(args) -> list[str]:
    from plantseek.core.errors import ConfigError

    names = [n.strip() for n in args.pruners.split(",")]
    if any(not n for n in names) or len(names) > 2 or (len(names) == 1 and not args.against):
        raise ConfigError(f"--pruners takes two names (or one with --against), got {args.pruners!r}")
    return names


def check(args) -> None:
    from .leaderboard import check_store, check_suite

    _names(args)
    check_store(args.store)
    check_suite(args.suite)
    if args.against:
        check_store(args.against)


def _side(frame, name: str, where: str):
    from plantseek.core.errors import ConfigError

    side = frame[frame["_label"].eq(name)]
    if not len(side):
        known = ", ".join(sorted(frame["_label"].unique()))
        raise ConfigError(f"no cells of pruner {name!r} in {where} (it holds: {known})")
    return side


def run(args) -> int:
    import pandas as pd

    from plantseek.frame.prepared import prepared
    from plantseek.stats.compare import COMPARE_RULE, compare_sides, tally
    from plantseek.store.results import load_results

    names = _names(args)
    store = args.store or str(paths.default_store_path())
    from .leaderboard import only_suite

    first = prepared(only_suite(load_results(store), args.suite))
    if args.against:
        second = prepared(only_suite(load_results(args.against), args.suite))
        a_name, b_name = names[0], names[-1]
        a, b = _side(first, a_name, store), _side(second, b_name, args.against)
        labels = (f"{a_name} ({store})", f"{b_name} ({args.against})") if a_name == b_name else (a_name, b_name)
    else:
        a, b = _side(first, names[0], store), _side(first, names[1], store)
        labels = (names[0], names[1])
    table = compare_sides(a, b, labels)
    if not len(table):
        print(f"compare: {labels[0]} and {labels[1]} share no (setting, density, seed) with both cells ok",
              file=sys.stderr)
        return 1
    if args.json:
        for row in table.to_dict("records"):
            print(json.dumps({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}))
    else:
        shown = table.assign(interval=[f"[{lo:.3g}, {hi:.3g}]" if math.isfinite(lo) else "—"
                                       for lo, hi in zip(table.ci_low, table.ci_high)])
        cols = ["setting", "density_spec", "quantity", "n", "mean_a", "mean_b", "scale", "difference", "interval",
                "p_holm", "verdict"]
        with pd.option_context("display.max_rows", None, "display.width", 250, "display.max_colwidth", 70,
                               "display.float_format", "{:.4g}".format):
            print(shown[cols].rename(columns={"mean_a": f"mean {labels[0]}", "mean_b": f"mean {labels[1]}",
                                              "density_spec": "density"}).to_string(index=False))
        print(COMPARE_RULE)
    print(f"compare: {tally(table, labels)}", file=sys.stderr)
    return 0
