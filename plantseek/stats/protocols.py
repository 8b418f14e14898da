"""Every statistic of a comparison, per protocol (and per task, or over all tasks): what the leaderboard shows.

A *comparison* is one (protocol, task or all tasks, quantity): its instance matrix
(:func:`plantseek.stats.blocks.instance_matrix`), the Friedman test with mean ranks and critical difference
(:mod:`plantseek.stats.ranks`), the paired Wilcoxon tests (:mod:`plantseek.stats.paired`) and the rank stability.
The groups of a critical-difference diagram (``cliques``) follow Demšar (2006): when the Friedman test does not
reject at :data:`~plantseek.stats.paired.ALPHA`, no difference of mean ranks is significant and one group joins
every method; otherwise (and with two methods, where there is no Friedman test) methods whose mean ranks differ by
less than the Nemenyi CD are joined.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from plantseek.report.format import slugify
from plantseek.stats.blocks import comparison_cells, instance_matrix
from plantseek.stats.paired import ALPHA, pairwise
from plantseek.stats.ranks import Friedman, cliques, friedman, rank_stability

ALL_TASKS = ""


@dataclass(frozen=True)
class Comparison:
    """The statistics of one protocol's methods on one task (``task`` = :data:`ALL_TASKS`: every task), on one
    quantity (``weak_metric`` or ``recall``, oriented higher = better)."""

    protocol: str
    task: str
    quantity: str
    instances: int  # complete instances compared
    incomplete: int  # instances left out because a method had no value there
    seeds: int  # distinct seeds among the compared instances
    friedman: Friedman
    cliques: list
    pairs: pd.DataFrame
    stability: pd.DataFrame

    @property
    def methods(self) -> list[str]:
        return list(self.friedman.mean_ranks)

    @property
    def key(self) -> str:
        """A file-name safe name: ``<protocol>[-<task>]-<quantity>``."""
        parts = [self.protocol, self.task, self.quantity.replace("_", "-")]
        return slugify("-".join(p for p in parts if p))


def comparison(df: pd.DataFrame, protocol: str, quantity: str = "weak_metric", task: str = ALL_TASKS,
               cells: pd.DataFrame | None = None) -> Comparison:
    """The statistics of ``protocol``'s methods on ``task`` (all tasks by default) and ``quantity`` (``cells``:
    :func:`~plantseek.stats.blocks.comparison_cells` of ``df`` when already at hand)."""
    m = instance_matrix(df, protocol, quantity, task or None, cells)
    fr = friedman(m)
    joined = cliques(fr.mean_ranks, fr.cd)
    if np.isfinite(fr.p) and fr.p >= ALPHA:  # Demšar: no post-hoc test when the Friedman test does not reject
        joined = [tuple(fr.mean_ranks)]
    seeds = int(m.index.get_level_values("seed").nunique()) if len(m) else 0
    return Comparison(protocol=protocol, task=task, quantity=quantity, instances=len(m),
                      incomplete=int(m.attrs.get("incomplete", 0)), seeds=seeds, friedman=fr,
                      cliques=joined, pairs=pairwise(m),
                      stability=rank_stability(m))


def comparisons(df: pd.DataFrame, quantity: str = "weak_metric", per_task: bool = True) -> list[Comparison]:
    """One :class:`Comparison` per protocol with at least two methods: over all tasks, then (``per_task``) per
    task where the protocol has at least two methods with a complete instance. Protocols sorted by name."""
    cells = comparison_cells(df)
    out = []
    for protocol in sorted(set(cells["protocol"]) - {""}):
        mine = cells[cells["protocol"].eq(protocol)]
        if mine["_method"].nunique() < 2:
            continue
        tasks = [ALL_TASKS] + (sorted(mine["task"].unique()) if per_task and mine["task"].nunique() > 1 else [])
        for task in tasks:
            c = comparison(df, protocol, quantity, task, cells)
            if c.friedman.k >= 2 and c.instances >= 1:
                out.append(c)
    return out
