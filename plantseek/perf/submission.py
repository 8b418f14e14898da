"""What a researcher waits for when submitting a pruner (``python -m plantseek bench --submission``).

* ``checks``: ``submit --check-only`` on a file with a syntax error and on a file without a pruner class, each
  a fresh interpreter, as a user runs it: wall-clock seconds, exit status and the one line it printed
  (target: <= 3 s, the contract is checked before torch is imported).
* ``submit``: ``submit`` of a pruner that costs what magnitude costs (one ``|w|`` per weight, a global top-k) on
  the submission suite with its sanity ablations, in a fresh interpreter with ``--jobs`` workers, into a fresh
  store and page in a temporary folder (target: <= 10 min on the 2-core machine, measured idle). Its cells, failed
  cells and its last lines (the standing) are reported.
* ``page``: the submitter's page (``write_leaderboard`` without figures, as ``submit`` writes it) of the ranking
  frame without the new pruner's cells (``cold``: a fresh folder) and then with them (``incremental``: the same
  folder, only the settings whose cells changed are rewritten; target: <= 30 s), and how many setting pages each
  wrote.

Nothing is written in the checkout: the store and pages live in a temporary folder removed at the end, and the
committed leaderboard's store is only read (as ``submit`` reads it to rank).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

#: a pruner as cheap as magnitude: one |w| per prunable weight and a global top-k (select_top)
MAGNITUDE_COST_PRUNER = '''"""The bench's submission: magnitude's cost, under another name."""
from plantseek.nets.masks import select_top


class BenchMagnitude:
    name = "bench-magnitude"
    description = "|w| of every prunable weight, global top-k (plantseek bench --submission)"

    def prune(self, model, data, density, *, generator, budget):
        scores = {name: w.detach().abs() for name, w in model.prunable().items()}
        return select_top(scores, density, scope="global")
'''
BROKEN_FILES = {"syntax error": "class Broken(:\n    pass\n",
                "no pruner class": "x = 1\n"}
PRUNER_NAME = "bench-magnitude"


def _cli(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, int, str]:
    """``python -m plantseek ARGS`` in a fresh interpreter: wall-clock seconds, exit status, its stdout (its
    stderr when it printed nothing else: an error line)."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "plantseek", *args], cwd=cwd, env=env, capture_output=True,
                          text=True)
    return time.perf_counter() - t0, done.returncode, done.stdout if done.stdout.strip() else done.stderr


def check_seconds(tmp: Path, cwd: Path, env: dict[str, str]) -> dict[str, Any]:
    """``submit --check-only`` on each of :data:`BROKEN_FILES`: seconds, exit status, its last line."""
    out = {}
    for what, text in BROKEN_FILES.items():
        path = tmp / f"{what.replace(' ', '_')}.py"
        path.write_text(text)
        seconds, rc, printed = _cli(["submit", str(path), "--check-only"], cwd, env)
        lines = [ln for ln in printed.splitlines() if ln.strip()]
        out[what] = {"seconds": seconds, "exit_status": rc, "line": lines[-1] if lines else ""}
    return out


def submit_seconds(tmp: Path, cwd: Path, env: dict[str, str], suite: str, jobs: int) -> dict[str, Any]:
    """``submit`` of :data:`MAGNITUDE_COST_PRUNER` on ``suite`` into a fresh store and page under ``tmp``."""
    from plantseek.run.submit import submission_cells
    from plantseek.run.suites import SUITES

    pruner = tmp / "bench_magnitude.py"
    pruner.write_text(MAGNITUDE_COST_PRUNER)
    cells = submission_cells(str(pruner), SUITES.get(suite), PRUNER_NAME)
    store, page = tmp / "store.db", tmp / "page"
    seconds, rc, printed = _cli(["submit", str(pruner), "--suite", suite, "--store", str(store), "--out", str(page),
                                 "--jobs", str(jobs), "--no-progress"], cwd, env)
    tail = [ln for ln in printed.splitlines() if ln.strip()][-12:]  # stdout: the standing is its last lines
    return {"seconds": seconds, "exit_status": rc, "suite": suite, "cells": len(cells), "jobs": jobs,
            "store": store, "last_lines": tail}


def page_seconds(store: Path, tmp: Path, suite: str, name: str = PRUNER_NAME) -> dict[str, Any]:
    """The submitter's page without, then with, the cells of pruner ``name`` (same folder): seconds and setting
    pages written each time."""
    from plantseek.core import paths
    from plantseek.report.leaderboard import write_leaderboard
    from plantseek.report.submission import submission_frame
    from plantseek.run.suites import SUITES
    from plantseek.store.results import load_results

    after, _ = submission_frame(load_results(store), paths.leaderboard_store(), False, SUITES.get(suite))
    before = after[after["pruner"].astype(str) != name].reset_index(drop=True)
    if before.empty:  # a suite the committed leaderboard does not hold: the second write changes nothing
        before = after
    out = tmp / "page-bench"
    timings = {"new_cells": len(after) - len(before)}
    for what, frame in (("cold", before), ("incremental", after)):
        t0 = time.perf_counter()
        written = write_leaderboard(frame, out, with_plots=False)
        timings[what] = {"seconds": time.perf_counter() - t0, "cells": len(frame),
                         "setting_pages_written": sum(p.parent.name == "settings" and p.suffix == ".html"
                                                      for p in written)}
    timings["settings"] = len(list((out / "settings").glob("*.html")))
    return timings


def measure(suite: str = "default", jobs: int = 2, say: Callable[[str], None] = lambda _m: None,
            cwd: str | Path = ".") -> dict[str, Any]:
    """Every measurement of this module as one dict (see the module docstring)."""
    cwd = Path(cwd).resolve()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[2]),
                                                                        os.environ.get("PYTHONPATH", "")]))}
    with tempfile.TemporaryDirectory(prefix="plantseek-bench-submit-") as name:
        tmp = Path(name)
        say("submit --check-only on broken files")
        checks = check_seconds(tmp, cwd, env)
        say(f"submit of a magnitude-cost pruner on suite {suite!r} ({jobs} jobs)")
        sub = submit_seconds(tmp, cwd, env, suite, jobs)
        say("the submitter's page: cold, then after the new cells")
        page = page_seconds(sub.pop("store"), tmp, suite) if sub["exit_status"] in (0, 1) else None
    return {"load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "cpu_count": os.cpu_count(), "checks": checks, "submit": sub, "page": page,
            "targets": {"check_seconds": 3, "submit_seconds": 600, "incremental_page_seconds": 30}}


def table(r: dict[str, Any]) -> str:
    """The measurements as lines of text, each against its target."""
    t = r["targets"]
    lines = [f"plantseek bench --submission: {r['cpu_count']} CPUs, load average {r['load_average']} (measure idle)"]
    for what, c in r["checks"].items():
        lines.append(f"  submit --check-only, {what}: {c['seconds']:.2f} s (target <= {t['check_seconds']} s), "
                     f"exit {c['exit_status']}: {c['line']}")
    s = r["submit"]
    lines.append(f"  submit on suite {s['suite']!r} ({s['cells']} cells with sanity ablations, --jobs {s['jobs']}): "
                 f"{s['seconds']:.1f} s (target <= {t['submit_seconds']} s), exit {s['exit_status']}")
    lines += [f"    | {ln}" for ln in s["last_lines"]]
    p = r["page"]
    if p is None:
        lines.append("  page: not measured (submit failed)")
    else:
        cold, incr = p["cold"], p["incremental"]
        lines.append(f"  the submitter's page ({p['settings']} settings): cold {cold['seconds']:.1f} s "
                     f"({cold['cells']} cells, {cold['setting_pages_written']} setting pages), after the new "
                     f"cells ({p['new_cells']}) {incr['seconds']:.1f} s (target <= {t['incremental_page_seconds']} s; "
                     f"{incr['setting_pages_written']} setting pages rewritten)")
    return "\n".join(lines)
