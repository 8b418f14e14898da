"""Task families: the kind of host a task plants its ticket into (``MLP``, ``conv``, ``attention``), for the
leaderboard's family filter and for keeping statistics within one family.

The report is torch-free, so it cannot ask a task for its host; the families are named here, one line per task.
A task not listed is an ``MLP`` task: the host of :class:`plantseek.planted.task.Task` unless a task overrides it.
"""

from __future__ import annotations

import pandas as pd

MLP, CONV, ATTENTION = "MLP", "conv", "attention"
FAMILIES = (MLP, CONV, ATTENTION)  # the order of the page's family filter

#: tasks whose host is not the MLP
TASK_FAMILIES: dict[str, str] = {
    "bars": CONV,
    "digits": CONV,
    "recall": ATTENTION,
}


def family_of(task: str) -> str:
    """The family of a task's host (:data:`MLP` when the task is not listed in :data:`TASK_FAMILIES`)."""
    return TASK_FAMILIES.get(str(task), MLP)


def families(tasks: pd.Series) -> pd.Series:
    """:func:`family_of` of every task of a column."""
    return tasks.map(family_of)


def family_order(names) -> list[str]:
    """Families in the filter's order (:data:`FAMILIES`, then any other name alphabetically)."""
    return sorted(set(names), key=lambda f: (FAMILIES.index(f) if f in FAMILIES else len(FAMILIES), f))
