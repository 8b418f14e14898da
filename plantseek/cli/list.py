"""``python -m plantseek list``: tasks, pruners and suites."""

from __future__ import annotations

HELP = "list tasks, pruners and suites"


def add_arguments(p) -> None:
    pass


def run(args) -> int:
    from plantseek.prune.contract import PRUNERS, check_pruner, load_baselines, protocol_of
    from plantseek.run.suites import SUITES
    from plantseek.planted.task import TASKS, load_task_modules

    load_task_modules()
    load_baselines()
    print("tasks:")
    for name in TASKS.names():
        t = TASKS.get(name)
        print(f"  {name:<22} {t.kind}, {t.in_features} -> {t.out_features}, depth >= {t.min_depth}")
    print("pruners:")
    for name in PRUNERS.names():
        p = check_pruner(PRUNERS.get(name)(), name)
        print(f"  {name:<22} [{protocol_of(p)}] {getattr(p, 'description', '')}")
    print("suites:")
    for name in SUITES.names():
        s = SUITES.get(name)
        print(f"  {name:<22} {s.n_cells} cells: {s.description}")
    return 0
