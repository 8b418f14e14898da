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

from plantseek.families.registry import family_order
from plantseek.frame.labels import slugify
from plantseek.stats.blocks import comparison_cells, instance_matrix
from plantseek.stats.paired import ALPHA, pairwise
from plantseek.stats.ranks import Friedman, cliques, friedman, rank_stability

ALL_TASKS = ""


@dataclass(frozen=True)
class Comparison:
    """The statistics of one protocol's methods on one task (``task`` = :data:`ALL_TASKS`: every task), on one
    quantity (``weak_metric`` or ``recall``, oriented higher = better). ``family`` and ``training`` name the task
    family (the stored ``family`` column) and weak training whose settings it compares, where the results hold
    several (else ``""``: all of them, which are then one)."""

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
    family: str = ""
    training: str = ""
    tasks: tuple[str, ...] = ()  # the tasks of the compared instances


    @property
    def methods(self) -> list[str]:
        return list(self.friedman.mean_ranks)

    @property
    def key(self) -> str:
        """A file-name safe name: ``<protocol>[-<family>][-<training>][-<task>]-<quantity>``."""
        parts = [self.protocol, self.family, self.training, self.task, self.quantity.replace("_", "-")]
        return slugify("-".join(p for p in parts if p))


def comparison(df: pd.DataFrame, protocol: str, quantity: str = "weak_metric", task: str = ALL_TASKS,
               cells: pd.DataFrame | None = None, family: str = "", training: str = "") -> Comparison:
    """The statistics of ``protocol``'s methods on ``task`` (all tasks by default) and ``quantity`` (``cells``:
    :func:`~plantseek.stats.blocks.comparison_cells` of ``df`` when already at hand), only on the settings of
    ``family`` and ``training`` where those are given."""
    cells = comparison_cells(df) if cells is None else cells
    if family:
        cells = cells[cells["_family"].eq(family)]
    if training:
        cells = cells[cells["_training"].eq(training)]
    m = instance_matrix(df, protocol, quantity, task or None, cells)
    fr = friedman(m)
    joined = cliques(fr.mean_ranks, fr.cd)
    if np.isfinite(fr.p) and fr.p >= ALPHA:  # Demšar: no post-hoc test when the Friedman test does not reject
        joined = [tuple(fr.mean_ranks)]
    seeds = int(m.index.get_level_values("seed").nunique()) if len(m) else 0
    sids = set(m.index.get_level_values("_sid")) if len(m) else set()
    tasks = tuple(sorted(set(cells.loc[cells["_sid"].isin(sids), "task"])))
    return Comparison(protocol=protocol, task=task, quantity=quantity, instances=len(m),
                      incomplete=int(m.attrs.get("incomplete", 0)), seeds=seeds, friedman=fr,
                      cliques=joined, pairs=pairwise(m), stability=rank_stability(m), family=family,
                      training=training, tasks=tasks)


def comparisons(df: pd.DataFrame, quantity: str = "weak_metric", per_task: bool = True) -> list[Comparison]:
    """One :class:`Comparison` per protocol with at least two methods, and within it per task family and per weak
    training where the protocol's cells have several (settings of different families or trainings have different
    methods, and an instance lacking a method would leave the comparison): over all of its tasks, then
    (``per_task``) per task where it has at least two methods with a complete instance. Protocols sorted by name,
    families in the registry's order (:func:`plantseek.families.registry.family_order`), trainings by name."""
    cells = comparison_cells(df)
    out = []
    for protocol in sorted(set(cells["protocol"]) - {""}):
        mine = cells[cells["protocol"].eq(protocol)]
        if mine["_method"].nunique() < 2:
            continue
        fams, trainings = family_order(mine["_family"]), sorted(set(mine["_training"]))
        for family in fams:
            for training in trainings:
                group = mine[mine["_family"].eq(family) & mine["_training"].eq(training)]
                if group["_method"].nunique() < 2:
                    continue
                tasks = [ALL_TASKS] + (sorted(group["task"].unique()) if per_task and group["task"].nunique() > 1
                                       else [])
                for task in tasks:
                    c = comparison(df, protocol, quantity, task, group, family if len(fams) > 1 else "",
                                   training if len(trainings) > 1 else "")
                    if c.friedman.k >= 2 and c.instances >= 1:
                        out.append(c)
    return out
