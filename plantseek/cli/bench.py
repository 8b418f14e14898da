"""``python -m plantseek bench``: measure this machine and the training engines (see ``plantseek.perf.bench``)."""

from __future__ import annotations

import json
import sys

HELP = "measure dense GFLOP/s, batched vs per-network training throughput, memory and the default suite's time"


MAX_K = 4096  # networks trained at once: 4096 of the bench's MLP take ~2.6 GiB (the engine's estimate)
MAX_KS = 16  # values of --ks: each one is a measurement


def add_arguments(p) -> None:
    from . import arguments as a

    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--quick", action="store_true", help="few steps, small roofline, no suite run (seconds)")
    p.add_argument("--threads", type=a.integer(1, 1024), default=None,
                   help="torch threads (default: 1 or all cores, whichever a quick probe finds faster; "
                        "at most 4 per usable core)")
    p.add_argument("--ks", type=a.integer_list(1, MAX_K, MAX_KS), default=(1, 8, 32, 128, 512),
                   help=f"networks trained at once (default 1,8,32,128,512; each at most {MAX_K}, at most {MAX_KS} "
                        "values)")
    p.add_argument("--densities", type=a.number_list, default=(1.0, 0.1),
                   help="comma-separated densities of the benchmark masks (default 1.0,0.1; the first is the headline)")
    p.add_argument("--no-suite", action="store_true",
                   help="do not time the default suite and the paper grids' cell groups")
    p.add_argument("--grids", default="",
                   help="comma-separated suites to time whole through the harness, once per --engine (e.g. "
                        "paper-singleshot,paper-multishot)")
    p.add_argument("--engine", default="previous,current",
                   help="training engines for --grids: previous, current or both (default previous,current: side by "
                        "side in one run)")
    p.add_argument("--jobs", type=a.integer(1, 1024), default=2,
                   help="worker processes for --grids and --submission (default 2)")
    p.add_argument("--grid-seeds", type=a.integer(1, 1000), default=None,
                   help="time only the first N seeds of each --grids suite")
    p.add_argument("--grid-store", default=None, metavar="DIR",
                   help="store each --grids run's cells in DIR/<suite>-engine<N>.db (fresh files) to compare engines")
    p.add_argument("--device", default=None,
                   help="measure only the batched engine on this device (cuda) beside the CPU, K = 32..2048 "
                        "(plantseek.perf.device_bench); with cpu, the CPU alone")
    p.add_argument("--isolation", action="store_true",
                   help="measure only what isolating prune calls costs: the default suite's first cell group with "
                        "prune calls in this process, in exec-started and in template-forked workers (best of 2, "
                        "interleaved; see plantseek.perf.overhead)")
    p.add_argument("--submission", action="store_true",
                   help="measure only what a submitter waits for: submit --check-only on broken files, submit of a "
                        "magnitude-cost pruner on --suite (default: submit's default) with --jobs workers, and its "
                        "page cold and after the new cells (plantseek.perf.submission; targets 3 s, 10 min, 30 s)")
    p.add_argument("--suite", default="default", help="the suite --submission submits to (default: default)")


def _table(r: dict) -> str:
    m, w = r["machine"], r["workload"]
    lines = [
        f"plantseek bench: torch {m['torch']}, {m['threads']} thread(s) of {m['cores_available']} "
        f"({m['threads_note']}), load average {m['load_average']}",
        f"  workload: MLP {w['widths']} ({w['params']} params), batch {w['batch']}, {w['dtype']}, {w['optimizer']}",
        f"  FLOPs: {w['flops_rule']}",
        f"  dense float32 matmul roofline: {r['peak_gflops']:.1f} GFLOP/s",
    ]
    for density, d in r["by_density"].items():
        lines += [
            f"  masks of density {density}: per-network loop {d['loop']['network_steps_per_s']:.0f} network-steps/s, "
            f"{d['loop']['gflops']:.2f} GFLOP/s",
            "        K   network-steps/s   GFLOP/s   % of peak   speedup vs loop   engine MiB",
        ]
        for k, b in d["batched"].items():
            lines.append(f"    {int(k):5d}   {b['network_steps_per_s']:15.0f}   {b['gflops']:7.2f}   "
                         f"{100 * d['fraction_of_peak'][k]:8.1f}%   {d['speedup_vs_single'][k]:14.1f}x   "
                         f"{r['engine_mib'][k]:10.1f}")
        if d.get("single_tensor_adam"):
            st = d["single_tensor_adam"]
            lines.append(f"    with adam_kernel='single-tensor': loop {st['loop']['network_steps_per_s']:.0f}, "
                         f"K=32 {st['k32']['network_steps_per_s']:.0f} network-steps/s, {st['k32']['gflops']:.2f} "
                         f"GFLOP/s, {100 * st['fraction_of_peak']:.1f}% of peak, {st['speedup_vs_single']:.1f}x")
    lines.append(f"  peak RSS of this process: {r['peak_rss_mib']:.0f} MiB (resource.getrusage)")
    suite = "null" if r["suite_seconds"] is None else f"{r['suite_seconds']:.1f} s"
    lines.append(f"  default suite wall-clock: {suite} ({r['suite_note']})")
    for name, g in (r.get("paper_group_seconds") or {}).items():
        lines.append(f"  one cell group of {name}: {g['seconds']:.1f} s ({g['cells']} cells, {g['failed']} failed, "
                     f"{g['instance']}; the grid has {g['groups_in_grid']} such groups)")
    for k, parts in (r.get("step_breakdown") or {}).items():
        total = sum(parts.values())
        lines.append(f"  one step at K={k}: {total * 1e6:.1f} us per network: " + ", ".join(
            f"{name} {100 * v / total:.0f}%" for name, v in parts.items()))
    for what, c in (r.get("cross_instance") or {}).items():
        lines.append(f"  cross-instance batching ({what}: {c['grid']}, {c['slice']}, {c['cells']} cells): per instance "
                     f"{c['per_instance_seconds']:.1f} s ({c['per_instance_cpu_seconds']:.1f} CPU s), batched "
                     f"(max {c['max_batch']}) {c['batched_seconds']:.1f} s ({c['batched_cpu_seconds']:.1f} CPU s): "
                     f"{c['speedup']:.2f}x ({c['cpu_speedup']:.2f}x CPU); identical cells: {c['identical']}")
    sp = r.get("sparse_engine")
    if sp:
        lines.append(f"  sparse networks, K={sp['k']} (network-steps/s; current engine compacts, previous does not):")
        for d, v in sp["densities"].items():
            lines.append(f"    density {d:>6}: current {v['current']:9.0f}  previous {v['previous']:9.0f}  current vs "
                         f"density 1.0: {v['current_vs_dense']:5.1f}x  ({v['compacted']} compacted, "
                         f"{v['architectures']} shape(s), {100 * v['mean_cost_share']:.1f} % of the parameters)")
    for g in r.get("grids") or []:
        parts = [f"{e} (engine {g[e]['engine']}) {g[e]['seconds']:.1f} s ({g[e]['cpu_seconds']:.0f} CPU s), "
                 f"{g[e]['failed']} failed" for e in ENGINE_ORDER if e in g]
        speed = f"; {g['speedup']:.2f}x ({g['cpu_speedup']:.2f}x CPU)" if "speedup" in g else ""
        lines.append(f"  grid {g['grid']} ({g['cells']} cells, {g['seeds']} seeds, {g['jobs']} jobs): "
                     + ", ".join(parts) + speed + f"; largest worker {g['children_peak_rss_mib']:.0f} MiB")
    return "\n".join(lines)


ENGINE_ORDER = ("previous", "current")


def check(args) -> None:
    from plantseek.core.errors import ConfigError
    from plantseek.core.limits import max_threads

    if args.threads is not None and args.threads > max_threads():
        raise ConfigError(f"--threads {args.threads}: more than 4 per usable core (at most {max_threads()})")
    from plantseek.perf.bench import ENGINE_NAMES
    from plantseek.run.suites import SUITES

    if args.device is not None:
        from plantseek.train.device import resolve_device

        resolve_device(args.device)  # unknown or absent: one line
    engines = [e.strip() for e in str(args.engine).split(",") if e.strip()]
    bad = [e for e in engines if e not in ENGINE_NAMES]
    if bad or not engines:
        raise ConfigError(f"--engine {args.engine!r}: choose previous, current or previous,current")
    SUITES.get(args.suite)  # unknown: one line, with the names
    for name in [g.strip() for g in str(args.grids).split(",") if g.strip()]:
        if name not in SUITES.names():
            raise ConfigError(f"--grids: no suite named {name!r}")
    if args.grid_store is not None:
        import os

        if not os.path.isdir(args.grid_store):
            raise ConfigError(f"--grid-store {args.grid_store!r}: not an existing folder")


def _isolation_table(r: dict) -> str:
    lines = [f"plantseek bench --isolation: suite {r['suite']!r}, first cell group ({r['cells']} cells), best of "
             f"{r['repeats']}; results identical in the three ways: {r['same_results']}"]
    for mode in ("in-process", "exec", "template"):
        m = r[mode]
        extra = "" if mode == "in-process" else (f"  overhead {100 * m['overhead_seconds']:+.1f} % wall-clock, "
                                                 f"{100 * m['overhead_cpu_seconds']:+.1f} % CPU")
        lines.append(f"  {mode:10s} {m['seconds']:7.1f} s wall-clock {m['cpu_seconds']:7.1f} s CPU{extra}")
    return "\n".join(lines)


def run(args) -> int:
    from plantseek.perf.bench import run as run_bench

    if args.device is not None:
        from plantseek.perf import device_bench

        say = None if args.json else (lambda msg: print(f"  ... {msg}", file=sys.stderr, flush=True))
        out = device_bench.run(args.device, quick=args.quick, **({"say": say} if say else {}))
        print(json.dumps(out) if args.json else device_bench.table(out))
        return 0
    if args.submission:
        from plantseek.perf import submission

        say = None if args.json else (lambda msg: print(f"  ... {msg}", file=sys.stderr, flush=True))
        out = submission.measure(args.suite, args.jobs, **({"say": say} if say else {}))
        print(json.dumps(out) if args.json else submission.table(out))
        return 0
    if args.isolation:
        from plantseek.perf.overhead import isolation_overhead

        result = isolation_overhead("default", repeats=2)
        print(json.dumps(result) if args.json else _isolation_table(result))
        return 0

    densities = tuple(args.densities)
    progress = None if args.json else (lambda msg: print(f"  ... {msg}", file=sys.stderr, flush=True))
    grids = [g.strip() for g in str(args.grids).split(",") if g.strip()]
    engines = [e.strip() for e in str(args.engine).split(",") if e.strip()]
    result = run_bench(quick=args.quick, threads=args.threads, ks=args.ks, densities=densities,
                       suite=not args.no_suite, progress=progress, grids=grids, engines=engines, jobs=args.jobs,
                       grid_seeds=args.grid_seeds, grid_store=args.grid_store)
    print(json.dumps(result) if args.json else _table(result))
    return 0
