"""Reading a grid's cells for a verdict (pure functions of a results frame; torch-free).

The frame is :func:`plantseek.store.results.load_results`'s, restricted to one grid's successful cells. A *group* is
the rows of one (task, pruner, density spec): one row per seed. Every number a verdict rests on comes from here,
with its :class:`~plantseek.repro.rules.Stat` (mean, spread, n), so the report can show it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from plantseek.repro.rules import Stat, matches, stat

SPARSE = ("ticket", "0.01")
MODERATE = ("0.1", "0.5")
BELOW_ONE = ("ticket", "0.01", "0.1", "0.5")


@dataclass(frozen=True)
class Ticket:
    """One group judged by :func:`plantseek.repro.rules.matches`: its statistic, the reference's, the verdict."""

    found: bool | None
    group: Stat
    reference: Stat

    def mark(self) -> str:
        return {True: "✓", False: "✗", None: "?"}[self.found]

    def text(self, spec: str) -> str:
        return f"{spec} {self.group.text()} {self.mark()}"


def direction(df: pd.DataFrame) -> bool:
    """Whether the task metric of ``df`` (one task) is higher-better: its ``higher_is_better`` column, else the
    metric name (accuracy is higher-better, every other metric lower-better)."""
    known = df["higher_is_better"].dropna() if "higher_is_better" in df.columns else pd.Series([], dtype=object)
    if len(known):
        return bool(known.iloc[0])
    return bool(len(df)) and str(df["metric_name"].iloc[0]) == "accuracy"


def rows(df: pd.DataFrame | None, task: str | None = None, pruner: str | None = None,
         spec: str | None = None) -> pd.DataFrame:
    """The rows of ``df`` with the given task, pruner and density spec (None: any); empty for no frame."""
    if df is None:
        return pd.DataFrame(columns=["task", "pruner", "density_spec", "seed"])
    keep = pd.Series(True, index=df.index)
    for column, value in (("task", task), ("pruner", pruner), ("density_spec", spec)):
        if value is not None:
            keep &= df[column].astype(str).eq(value)
    return df[keep]


def per_seed(df: pd.DataFrame, column: str) -> Stat:
    """The statistic over seeds of a per-instance column (e.g. ``dense_weak_metric``, repeated on every cell of an
    instance): one value per seed."""
    if not len(df):
        return stat([])
    return stat(df.groupby("seed")[column].first())


def reference(df: pd.DataFrame) -> Stat:
    """The trained dense host of ``df``'s instances: the reference every ticket is judged against."""
    return per_seed(df, "dense_weak_metric")


def ticket(group: pd.DataFrame, kind: str, ref: Stat | None = None) -> Ticket:
    """Whether ``group`` (one task, pruner, density) is a ``kind`` ("weak" or "strong") ticket."""
    ref = reference(group) if ref is None else ref
    s = stat(group[f"{kind}_metric"]) if len(group) else stat([])
    return Ticket(matches(s, ref, direction(group)) if len(group) else None, s, ref)


def tasks_of(df: pd.DataFrame | None) -> list[str]:
    return [] if df is None else sorted(set(df["task"].astype(str)))


def pruners_of(df: pd.DataFrame | None) -> list[str]:
    return [] if df is None else sorted(set(df["pruner"].astype(str)))


def reference_text(df: pd.DataFrame, task: str) -> str:
    """``task: trained dense host ... ; planted ticket ...`` (the references shown beside a verdict)."""
    t = rows(df, task)
    return (f"{task} ({t['metric_name'].iloc[0] if len(t) else '?'}): trained dense host {reference(t).text()}, "
            f"planted ticket {per_seed(t, 'ticket_metric').text()}")


def sparsest_ticket(df: pd.DataFrame, task: str, pruner: str, kind: str = "weak",
                    specs: tuple[str, ...] = BELOW_ONE) -> str | None:
    """The sparsest density spec (of ``specs``, sparsest first) at which ``pruner`` finds a ``kind`` ticket."""
    for spec in specs:
        if ticket(rows(df, task, pruner, spec), kind).found:
            return spec
    return None


def collapse_share(df: pd.DataFrame) -> float:
    """The share of cells whose mask has no input-to-output path (``layer_collapse``); NaN for no cells."""
    values = df["layer_collapse"].dropna().astype(bool) if len(df) else pd.Series([], dtype=bool)
    return float(values.mean()) if len(values) else float("nan")
