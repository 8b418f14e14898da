"""``python -m plantseek certify``: certified sparsest strong tickets of tiny planted instances (a MILP, HiGHS).

Plants ``--task`` at ``--depth``/``--width`` for each seed, solves for the fewest kept weights that meet the
requirement on a finite sample set (``plantseek.score.certified_instance``), and prints one line per instance.
With ``--out FOLDER`` the records go to ``FOLDER/certified.json`` (merged with the records already there, keyed by
instance and settings: a re-run skips what is done) and ``FOLDER/README.md`` is regenerated from all of them.
"""

from __future__ import annotations

import json
import math

HELP = "certify the sparsest strong ticket of tiny planted instances (a MILP solved by HiGHS)"


def add_arguments(p) -> None:
    from plantseek.core import limits

    from . import arguments as a

    p.add_argument("--task", required=True, help="task name (relu, circle, helix, ...)")
    p.add_argument("--depth", type=a.integer(1, 6), default=3, help="layers including input and output (default 3)")
    p.add_argument("--width", type=a.integer(1, 16), default=6, help="hidden width of the host (default 6, at most 16)")
    p.add_argument("--seeds", type=a.seeds, default=[0], help="instance seeds, e.g. 0-19 (default 0)")
    p.add_argument("--noise", type=a.number(0, math.inf), default=None, help="label noise (default: the task's)")
    p.add_argument("--knots", type=a.integer(1, limits.MAX_KNOTS), default=None,
                   help="piecewise-linear knots (circle, helix; the ticket must fit the width)")
    p.add_argument("--samples", type=a.integer(1, 1000), default=48,
                   help="training inputs in the finite sample set (default 48)")
    p.add_argument("--epsilon", type=a.number(0, 1e6), default=None,
                   help="regression: the largest absolute error (default: the planted ticket's worst error on the "
                        "samples times 1 + slack, at least 0.01)")
    p.add_argument("--slack", type=a.number(0, 10), default=0.05, help="regression: see --epsilon (default 0.05)")
    p.add_argument("--gamma", type=a.number(0, 1e6), default=0.1,
                   help="classification: the margin every sample needs (default 0.1)")
    p.add_argument("--time-limit", type=a.number(0, 86400, above=True), default=600.0,
                   help="seconds per solve (default 600)")
    p.add_argument("--no-uniqueness", action="store_true",
                   help="skip the second solve that tests whether the planted ticket is the only optimum")
    p.add_argument("--out", type=a.path, default=None,
                   help="folder for certified.json and the generated README.md (default: print only)")
    p.add_argument("--json", action="store_true", help="print the records as JSON")


def _options(args) -> dict:
    return {k: v for k, v in (("noise", args.noise), ("knots", args.knots)) if v is not None}


def check(args) -> None:
    from plantseek.core.errors import ConfigError
    from plantseek.planted.task import get_task

    from .outputs import checked_output_folder

    task = get_task(args.task, **_options(args))
    if task.family != "MLP":
        raise ConfigError(f"certify needs a task on the MLP host family, {args.task!r} is on {task.family!r}")
    task.check_depth(args.depth)
    task.check_fits(args.depth, args.width)
    if args.out:
        checked_output_folder("--out", args.out)


def settings(args) -> dict:
    return {"samples": args.samples, "gamma": args.gamma, "slack": args.slack, "floor": 0.01,
            "epsilon": args.epsilon, "time_limit": args.time_limit, "uniqueness": not args.no_uniqueness}


def run(args) -> int:
    from plantseek.planted.instance import plant
    from plantseek.report.certified_md import load_records, record_key, render, save_records
    from plantseek.score.certified_instance import certify_instance

    from .outputs import claim

    cfg = settings(args)
    out = claim(args.out) if args.out else None
    records = load_records(out / "certified.json") if out else []
    done = {record_key(r): r for r in records}
    new = []
    for seed in args.seeds:
        inst = plant(args.task, depth=args.depth, width=args.width, seed=seed, **_options(args))
        key = record_key({"instance_key": inst.spec.key(), "settings": cfg})
        rec = done.get(key) or certify_instance(inst, **cfg)
        if key not in done:
            done[key] = rec
            if out:  # save after every instance: a killed run keeps what it solved
                save_records(out / "certified.json", list(done.values()))
        new.append(rec)
        if not args.json:
            print(line(rec), flush=True)
    if out:
        (out / "README.md").write_text(render(list(done.values())), encoding="utf-8")
    if args.json:
        print(json.dumps(new, indent=1, default=str))
    return 0


def line(rec: dict) -> str:
    inst = rec["instance"]
    gap = "" if rec["status"] == "optimal" else f", gap {rec['gap']}"
    return (f"{inst['task']} depth {inst['depth']} width {inst['width']} seed {inst['seed']}: "
            f"planted {rec['planted_nnz']} weights, certified {rec['certified_nnz']} "
            f"({rec['status']}{gap}, {rec['seconds']:.1f} s, "
            f"check {'ok' if rec['check_satisfied'] else 'FAILED'}), "
            f"unique {rec.get('planted_unique', '-')}")
