"""Which cells the overall ranking compares: the same (setting, density, seed) cells for every ranked method.

A mean rank is only comparable between methods that were ranked on the same cells. Two choices make that so
(rule text: :data:`plantseek.report.rules.RANKING_RULE`):

1. **The seeds of a comparison.** A comparison is one (task setting, requested density below 1). Its seeds are the
   seed set of one of its methods, the one that maximises (methods holding a cell at every one of those seeds) x
   (number of seeds), ties to the larger set: with 25 methods at seeds 0-9, five of them also at 10-24 and a
   submission at seed 0 only, the comparison's seeds are 0-9 (25 x 10 = 250 against 5 x 25 and 26 x 1). A method
   *takes part* in the comparison when it holds a cell at every one of those seeds; only those seeds count.
2. **The comparisons of the ranking.** The ranked comparisons are the comparison set of one of the methods,
   chosen by the same rule: most methods taking part in all of them, times how many there are. The **ranked
   methods** take part in every one of them, and nothing else enters their mean ranks.

Every other method is ranked **on a common subset**: the ranked comparisons it takes part in, where it is ranked
among the ranked methods, on those comparisons only; the row names the subset (how many comparisons and seeds),
its position there, and is never mixed into the main order.

Pure functions of a prepared frame (:mod:`plantseek.frame.prepared`), competitors only.
"""

from __future__ import annotations

from typing import Hashable, Iterable

import pandas as pd

Comparison = tuple[Hashable, str]  # (setting id, requested density)


def _best_common(sets: dict[str, frozenset]) -> frozenset:
    """Among the methods' sets, the one maximising (methods whose set contains it) x its size; ties: larger, then
    the first in sorted order (deterministic)."""
    candidates = sorted(set(sets.values()), key=lambda s: sorted(map(str, s)))
    def score(c: frozenset) -> tuple[int, int]:
        holders = sum(1 for s in sets.values() if c <= s)
        return holders * len(c), len(c)
    return max(candidates, key=score, default=frozenset())


def comparison_seeds(comp: pd.DataFrame) -> tuple[frozenset, set[str]]:
    """The seeds of one comparison (rows: its cells, columns ``_method`` and ``seed``) and the methods taking part."""
    seeds = {m: frozenset(g["seed"]) for m, g in comp.groupby("_method")}
    chosen = _best_common(seeds)
    return chosen, {m for m, s in seeds.items() if chosen <= s}


def is_comparison_density(d: pd.DataFrame) -> pd.Series:
    return (d["density"] < 1) | d["density"].isna() & d["density_spec"].eq("ticket")


def comparisons(d: pd.DataFrame) -> dict[Comparison, tuple[frozenset, set[str]]]:
    """Every comparison with at least two methods taking part: its seeds and its methods."""
    d = d[is_comparison_density(d)]
    out = {}
    for key, comp in d.groupby(["_sid", "density_spec"], sort=True):
        seeds, methods = comparison_seeds(comp)
        if len(methods) >= 2:
            out[(key[0], key[1])] = (seeds, methods)
    return out


def ranked_comparisons(comps: dict[Comparison, tuple[frozenset, set[str]]]) -> tuple[frozenset, set[str]]:
    """The comparisons of the main ranking and its methods (those taking part in every one)."""
    taking_part: dict[str, set[Comparison]] = {}
    for key, (_, methods) in comps.items():
        for m in methods:
            taking_part.setdefault(m, set()).add(key)
    chosen = _best_common({m: frozenset(k) for m, k in taking_part.items()})
    return chosen, {m for m, k in taking_part.items() if chosen <= k}


def cells_of(d: pd.DataFrame, comps: dict[Comparison, tuple[frozenset, set[str]]], keys: Iterable[Comparison],
             methods: set[str]) -> pd.DataFrame:
    """The cells of ``methods`` in the comparisons ``keys``, at each comparison's seeds only."""
    parts = []
    for key in keys:
        seeds, _ = comps[key]
        g = d[d["_sid"].eq(key[0]) & d["density_spec"].eq(key[1]) & d["_method"].isin(methods)
              & d["seed"].isin(seeds)]
        parts.append(g)
    return pd.concat(parts) if parts else d.iloc[0:0]


def describe_subset(keys: Iterable[Comparison], comps: dict[Comparison, tuple[frozenset, set[str]]],
                    total: int) -> str:
    """e.g. ``"4 of 12 comparisons, 1 seed each"`` or ``"12 of 12 comparisons, 2-10 seeds"``."""
    keys = list(keys)
    counts = sorted({len(comps[k][0]) for k in keys})
    if not counts:
        return f"0 of {total} comparisons"
    seeds = (f"{counts[0]} seed{'s' if counts[0] != 1 else ''} each" if len(counts) == 1
             else f"{counts[0]}-{counts[-1]} seeds")
    return f"{len(keys)} of {total} comparisons, {seeds}"
