"""Random and malformed command lines for every subcommand, each labelled valid or not by an oracle written here
independently of the CLI's checks.

Every option of the real parser has a pool of values that are valid (and keep the work tiny: the smoke suite
narrowed to one task, 100 samples, no store; ``submit --check-only``) and a pool that is not. A case picks a
few options at random (repeats allowed) with a value from either pool, sometimes adds an unknown option, a
stray positional word or an option missing its value. It is valid when nothing invalid was picked and the
command's cross-option rules hold (``plant``: ``--task`` unless ``--load``, ``--knots`` only for circle).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

INT_GARBAGE = ["", "nan", "NaN", "inf", "-inf", "-1", "1e400", "9" * 40, "é中", "x" * 5000, "0x10", "1,5,", "1.5"]
FLOAT_GARBAGE = [v for v in INT_GARBAGE if v not in ("9" * 40, "1.5")]  # 1e39 parses: caught later
FLAG = None  # an option that takes no value


@dataclass
class Case:
    command: str
    argv: list[str]
    valid: bool
    why: list[str] = field(default_factory=list)  # what made it invalid


def pools(files: dict[str, str]) -> dict[str, dict[str, tuple]]:
    """command -> option -> (valid, rejected when parsed, rejected by the command's checks); FLAG for options
    without a value. Any occurrence of a value rejected when parsed fails the case; of the others only the last
    occurrence counts (argparse keeps the last). ``files``: existing paths (a plain file, a folder, a saved
    instance, a store, a pruner file) and a new one."""
    ints = INT_GARBAGE + [files["file"], files["dir"]]
    floats = FLOAT_GARBAGE + [files["file"], files["dir"]]
    long, f = "x" * 5000, files
    hostile = ["/", "/etc", "/usr/share/x", "/proc", os.path.expanduser("~")]  # system folders, the home folder
    odd = f["new"] + "-\udcff\udcfe-é中"  # a name that is not UTF-8 (bytes 0xff 0xfe, kept by surrogateescape)
    out_dir = ([f["new"], f["dir"], odd], ["", long], [f["file"], f["file"] + "/sub", *hostile])
    config = ([f["config"]], ["", long], [f["bad_config"], f["dir"], f["new"] + ".toml"])  # run.toml: see test_fuzz
    store_in = ([f["store"]], ["", long], [f["dir"], f["new"] + ".none"])  # a non-store file: when it is read
    # (a suite of which the store holds no cell, e.g. default, is refused when the store is read: a run-time error,
    # which the in-process cases, checked without running, cannot see; tests/run/test_suite_version.py covers it)
    suite_in = (["smoke"], [], ["", "nosuch", long])
    return {
        "list": {},
        "plant": {
            "--task": (["relu", "circle"], [], ["", "square", long, f["file"]]),
            "--load": ([f["instance"]], ["", long], [f["dir"], f["file"], f["new"] + ".none"]),
            "--depth": (["3", "4", "5"], ints + ["0", "65", "1000000"], ["1", "2"]),
            "--width": (["20", "32"], ints + ["0", "1000000"], []),
            "--seed": (["0", "7", "2147483647"], ints + ["2147483648"], []),
            "--noise": (["0", "0.5", "1"], floats + ["-0.5"], ["9" * 40]),
            "--knots": (["1", "5", "10"], ints + ["0", "10001"], []),
            "--out": ([f["new"] + ".pt"], ["", long], [f["dir"], f["file"] + "/x.pt"]),
            "--json": FLAG,
        },
        "evaluate": {
            "--suite": (["smoke"], [], ["", "nosuch", long]),
            "--tasks": (["relu", "circle", "relu,circle", " relu ,"], ["", ","], ["square", "é中", long]),
            "--pruners": (["random", "magnitude", "random,magnitude"], ["", ","],
                          ["nosuch", f["dir"] + "/", f["file"], "missing.py:X"]),
            "--densities": (["0.1", "ticket", "0.5,ticket", "1", "2:4", "units:0.5,0.1"],
                            ["", ",", "0", "1.5", "nan", "inf", "-0.1", "x", "ticket,0", "3:2", "units:0", ":"], []),
            "--seeds": (["0", "0-1", "5", "2147483647"],
                        ["", ",", "-1", "a", "1.5", "3-1", "0-99999999999", "0-10000", "2147483648"], []),
            "--depth": (["4", "5"], ints + ["0", "65"], ["2"]),
            "--width": (["20", "24"], ints + ["0", "65537", "1000000"], []),
            "--noise": (["0", "0.05"], floats, ["9" * 40]),
            "--epochs": (["0", "1"], ints + ["10001"], []),
            "--n-samples": (["100", "120"], ints + ["0", "9", "10000001"], []),
            "--adam-kernel": (["fused", "single-tensor"], ["", "adam", long], []),
            "--jobs": (["0", "1"], ints + ["1025"], []),
            "--max-batch": (["1", "32"], ints + ["0", "1048577"], []),
            "--executor": (["local", "slurm"], [], ["", "nosuch"]),  # slurm: valid with --slurm-cluster debug only
            # the --slurm-* options: valid with --executor slurm only (see _last_values); no sbatch on PATH here, so
            # a valid array runs on submitit's debug cluster (in the process)
            "--slurm-cluster": (["debug"], ["", "pbs", long], ["slurm"]),
            "--slurm-partition": (["gpu", "a100-short"], ["", "a b", long], []),
            "--slurm-time": (["1", "60"], ints + ["0", "525601"], []),
            "--slurm-cpus-per-task": (["1"], ints + ["0", "257"], []),
            "--slurm-mem": (["0.5", "4"], floats + ["0", "-1", "65537"], []),
            "--slurm-parallelism": (["1", "8"], ints + ["0"], []),
            "--slurm-chunk": (["1", "3"], ints + ["0"], []),
            "--slurm-log-folder": ([f["new"]], ["", long], [f["file"], f["file"] + "/sub", "leaderboard/logs"]),
            "--scheduler": (["tcp://127.0.0.1:8786"], ["", long], ["tcp://a b"]),  # valid with --executor dask only
            "--device": (["cpu"], [], ["", "tpu", long]),
            "--timeout": (["60", "3600", "604800", "0.001"],
                          floats + ["9" * 40, "0", "604801", "1e-300", "5e-324", "-0"], []),
            "--store": ([f["new"] + ".db"], ["", long], []),
            "--protocol": (["paper", "calibrated"], ["", "adam", long], []),
            "--memory-limit": (["0", "4", "0.5", "0.25"], floats + ["-1", "4097", "1e-300", "5e-324", "0.1", "-0"],
                               []),
            "--instances": (["public"], ["", "secret", long], ["hidden"]),  # no key is configured in the tests
            "--no-store": FLAG, "--json": FLAG, "--no-progress": FLAG, "--allow-failed": FLAG,
            "--config": config,
            "--table": (["summary", "full"], ["", "wide", long], []),
        },
        "leaderboard": {"--store": store_in, "--out": out_dir, "--no-plots": FLAG, "--verify": FLAG,
                        "--suite": suite_in, "--no-progress": FLAG},
        "verify": {"--store": store_in, "--no-progress": FLAG},
        "keygen": {"--out": ([f["new"] + ".key"], ["", long], [f["dir"], f["file"] + "/x.key"]), "--force": FLAG},
        "plot": {
            "--store": store_in, "--out": out_dir,
            "--tasks": (["relu", "circle", "é中"], [], []), "--pruners": (["random", "nosuch"], [], []),
            "--format": (["png", "svg"], ["", "jpg", long], []),
        },
        "submit": {
            "--suite": (["smoke", "default"], [], ["", "nosuch"]),
            "--store": ([f["new"] + ".db"], ["", long], []),
            "--out": ([f["new"]], ["", long], []),  # checked only without --check-only (always given here)
            "--jobs": (["0", "1", "4"], ints + ["1025"], []),
            "--check-only": FLAG, "--no-leaderboard": FLAG, "--config": config, "--no-progress": FLAG,
            "--instances": (["public"], ["", "secret", long], ["hidden"]),  # no key is configured in the tests
        },
        "compare": {  # the tiny store holds random only: "random,random" compares it with itself
            "--store": store_in, "--against": store_in,
            "--pruners": (["random,random"], [], ["", ",", "a,b,c"]),
            "--suite": suite_in,
            "--json": FLAG,
        },
        "reproduce": {  # always --report-only on the tiny store (_positional): a valid run renders, never runs grids
            "--scale": (["small", "paper"], [], ["", "nosuch", long]),
            "--store": store_in,
            "--out": ([f["new"] + ".md", odd + ".md"], ["", long], [f["dir"], f["file"] + "/x.md", "/", "/x.md",
                                                                 "/etc/x.md"]),
            "--jobs": (["0", "1"], ints + ["1025"], []),
            "--report-only": FLAG, "--no-progress": FLAG,
        },
        "certify": {  # BASE keeps a valid run tiny: relu depth 3 width 2, 4 samples
            "--task": (["relu"], [], ["", "square", long, "bars"]),
            "--depth": (["3"], ints + ["0", "7"], ["1", "2"]),
            "--width": (["1", "2"], ints + ["0", "17"], []),
            "--seeds": (["0", "3", "0-1"], ["", ",", "-1", "a", "1.5", "3-1", "0-99999999999", "2147483648"], []),
            "--knots": (["1", "5"], ints + ["0", "10001"], []),  # valid for circle and helix only: see _last_values
            "--noise": (["0", "0.05"], floats + ["-0.5"], ["9" * 40]),
            "--samples": (["4", "3"], ints + ["0", "1001"], []),
            "--epsilon": (["0.5", "1"], floats + ["-1", "1e7"], []),
            "--slack": (["0", "0.1"], floats + ["-1", "11"], []),
            "--gamma": (["0.1"], floats + ["-1", "1e7"], []),
            "--time-limit": (["10", "60"], floats + ["0", "-1", "86401"], []),
            "--out": out_dir,
            "--no-uniqueness": FLAG, "--json": FLAG,
        },
        "bench": {
            "--threads": (["1", "2"], ints + ["0", "1025"], []),
            # a trailing comma is allowed in a list ("1,5," is 1 and 5), so that garbage value is a valid list here
            "--ks": (["1", "1,8", "4096", "1,5,"],
                     [v for v in ints if v != "1,5,"] + ["0", "4097", ",".join(["1"] * 17)], []),
            "--densities": (["1.0", "0.1,1"], ["", ",", "0", "nan", "inf", "ticket", "1.5", "x"], []),
            "--json": FLAG, "--quick": FLAG, "--no-suite": FLAG, "--isolation": FLAG, "--submission": FLAG,
            "--suite": (["default", "smoke"], [], ["nosuch", "", "é中"]),
            "--grids": (["", "smoke", "smoke,paper-singleshot"], [], ["nosuch", "smoke,x", "é中"]),
            "--engine": (["previous", "current", "previous,current", "current,"], [], ["fast", ",", "", "1"]),
            "--jobs": (["1", "2"], ints + ["0", "1025"], []),
            "--grid-seeds": (["1", "3"], ints + ["0", "1001"], []),
            "--grid-store": ([files["dir"]], [], [files["file"], files["dir"] + "/missing", ""]),
            "--device": (["cpu"], [], ["tpu", "", "x" * 300]),  # cuda: valid only where a GPU is present
        },
        "optimum": {  # BASE keeps the work tiny: 64 points, 1 epoch, one width triple, phase 1 only
            "--task": (["cubist-spiral"], ["", "relu", long], []),
            "--points": (["64", "100"], ints + ["63", "1000001"], []),
            "--epochs": (["1"], ints + ["0", "1001"], []),
            "--batch-size": (["16", "64"], ints + ["0"], []),
            "--lrs": (["0.05", "0.05,0.1"], ["", ",", "0", "-1", "nan", "x", "11"], []),
            "--schedules": (["constant", "cosine,constant"], ["", ","], ["step", "é中", long]),
            "--width-values": (["1", "1,2"], [v for v in ints if v != "1,5,"] + ["0", "17"], []),
            "--widths-95": (["1-1-1", "2-1-1"], ["", "3-3", "0-1-1", "17-1-1", "a-b-c", long], []),
            "--widths-995": (["1-1-1"], ["", "1-1", "1-1-99", long], []),
            "--max-masks": (["1", "2"], ints + ["0"], []),
            "--seed": (["0", "7"], ints + ["2147483648"], []),
            "--jobs": (["1"], ints + ["0", "257"], []),
            "--bundle": (["4", "512"], ints + ["0"], []),
            "--phase1-only": FLAG,
            "--store": ([f["new"] + ".sqlite"], ["", long], [f["dir"], f["file"] + "/x.sqlite"]),
            "--report": out_dir,
            "--ticket-out": ([f["new"] + ".npz"], ["", long], [f["dir"], f["file"] + "/x.npz"]),
        },
    }


BASE = {  # prepended: keeps valid runs tiny (options given later override these)
    "evaluate": ["--suite", "smoke", "--tasks", "relu", "--pruners", "random", "--densities", "0.1",
                 "--n-samples", "100", "--epochs", "0", "--no-store", "--no-progress"],
    "plant": ["--width", "20", "--depth", "4"],
    "optimum": ["--points", "64", "--epochs", "1", "--width-values", "1", "--phase1-only", "--lrs", "0.05",
                "--schedules", "constant"],
    "certify": ["--task", "relu", "--depth", "3", "--width", "2", "--samples", "4", "--time-limit", "30"],
}


def _positional(case: Case, files: dict[str, str], rng: random.Random) -> None:
    if case.command == "keygen":  # never the configured key file (a later --out wins); an existing one is replaced
        case.argv += ["--force", "--out", files["new"] + ".key"]
    if case.command == "reproduce":
        case.argv += ["--report-only", "--store", files["store"]]
    if case.command != "submit":
        return
    bad = ["", "afile", "missing.py", files["dir"] + "/", files["file"], "x" * 5000 + ".py"]
    value = files["pruner"] if rng.random() < 0.5 else rng.choice(bad)
    if value != files["pruner"]:
        case.why.append(f"pruner {value[:40]!r}")
    case.argv += [value, "--check-only"]  # keeps a valid submit to its checks


def _last_values(case: Case, last: dict[str, str], table: dict[str, tuple]) -> None:
    """Rules on the last value of each option, and across options."""
    ignored = {"--task", "--depth", "--knots", "--noise"} if case.command == "plant" and "--load" in last else set()
    for option, value in last.items():
        if option not in ignored and value in table[option][2]:
            case.why.append(f"{option} {value[:40]!r}")
    if case.command == "plant" and "--load" not in last:
        if "--task" not in last:
            case.why.append("plant without --task or --load")
        elif last["--task"] == "relu" and "--knots" in last:
            case.why.append("--knots for relu")
    if case.command == "certify" and "--knots" in last:
        case.why.append("--knots for relu")
    if case.command == "evaluate" and "--scheduler" in last and last.get("--executor") != "dask":
        case.why.append("--scheduler without --executor dask")
    slurm_options = [o for o in last if o.startswith("--slurm-")]
    if case.command == "evaluate" and slurm_options and last.get("--executor") != "slurm":
        case.why.append(f"{slurm_options[0]} without --executor slurm")
    if case.command == "evaluate" and last.get("--executor") == "slurm" and "--slurm-cluster" not in last:
        case.why.append("--executor slurm without sbatch or --slurm-cluster")
    if case.command in ("leaderboard", "plot", "verify", "compare") and "--store" not in last:
        case.why.append("no store in the working folder")
    if case.command == "compare" and "--pruners" not in last:
        case.why.append("compare without --pruners")


def _malformed(case: Case, table: dict[str, tuple], rng: random.Random) -> None:
    roll = rng.random()
    valued = [o for o, pool in table.items() if pool is not FLAG]
    if roll < 0.05:
        case.argv.append("--no-such-option")
    elif roll < 0.09:  # a stray word (after plot's --tasks/--pruners it would be one more name)
        case.argv.append("--no-such-option" if set(case.argv[-2:-1]) & {"--tasks", "--pruners"} else "stray")
    elif roll < 0.13 and valued:
        case.argv.append(rng.choice(valued))  # no value follows
    else:
        return
    case.why.append(f"malformed: {case.argv[-1]!r}")


def make_case(command: str, table: dict[str, tuple], files: dict[str, str], rng: random.Random) -> Case:
    case = Case(command, [command, *BASE.get(command, [])], True)
    _positional(case, files, rng)
    last: dict[str, str] = {}
    for _ in range(rng.randint(0, 4) if table else 0):
        option = rng.choice(sorted(table))
        if table[option] is FLAG:
            case.argv.append(option)
            continue
        good, rejected, refused = table[option]
        roll = rng.random()
        if rejected and roll < 0.2:
            value = rng.choice(rejected)
            case.why.append(f"{option} {value[:40]!r}")
        elif refused and roll < 0.35:
            value = rng.choice(refused)
        else:
            value = rng.choice(good)
        case.argv += [option, value]
        last[option] = value
    _last_values(case, last, table)
    _malformed(case, table, rng)
    case.valid = not case.why
    return case


def make_cases(n: int, seed: int, files: dict[str, str], commands: list[str]) -> list[Case]:
    rng = random.Random(seed)
    table = pools(files)
    return [make_case(c, table[c], files, rng) for c in (rng.choice(commands) for _ in range(n))]


def fixture_files(root: Path) -> dict[str, str]:
    """Paths the pools refer to (the store, instance and pruner file are filled in by the test's fixture)."""
    (root / "afolder").mkdir()
    (root / "afile").write_text("not a store, not an instance\n")
    return {"file": str(root / "afile"), "dir": str(root / "afolder"), "new": str(root / "new" / "output")}
