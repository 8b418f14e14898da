"""``python -m plantseek list``: tasks, pruners (built-in and plug-ins) and suites.

A plug-in that fails to load, or a pruner that breaks the contract, is reported as one warning line on stderr;
the rest is listed regardless.
"""

from __future__ import annotations

import sys

HELP = "list tasks, pruners and suites"


def add_arguments(p) -> None:
    pass


def check(args) -> None:
    pass  # no options


def warn(message: str) -> None:
    print(f"plantseek: warning: {message}", file=sys.stderr)


def run(args) -> int:
    from plantseek.core.errors import PlantseekError
    from plantseek.planted.task import TASKS
    from plantseek.prune.contract import PRUNERS, get_pruner, protocol_of
    from plantseek.run.suites import SUITES

    print("tasks:")
    for name in TASKS.names():
        t = TASKS.get(name)
        try:
            print(f"  {name:<22} {t.kind}, {t.in_features} -> {t.out_features}, depth >= {t.min_depth}")
        except AttributeError as exc:
            warn(f"task {name!r}: {exc}")
    print("pruners:")
    for name in PRUNERS.names():
        try:
            p = get_pruner(name)
        except PlantseekError as exc:
            warn(str(exc))
            continue
        print(f"  {name:<22} [{protocol_of(p)}] {getattr(p, 'description', '')}")
    from plantseek.run.grid import expand
    from plantseek.run.suite_version import suite_version

    print("suites (name, version: plantseek.run.suite_version):")
    for name in SUITES.names():
        s = SUITES.get(name)  # expanded: a composite's shared cells once
        print(f"  {name:<22} @{suite_version(s)} {len(expand(s))} cells: {s.description}")
    for failure in TASKS.failures() + PRUNERS.failures():
        warn(failure)
    return 0
