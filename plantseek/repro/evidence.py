"""Reading a grid's cells for a verdict (pure functions of a results frame; torch-free).

The frame is :func:`plantseek.store.results.load_results`'s, restricted to one grid's successful cells. A *group* is
the rows of one (task, pruner, density spec): one row per seed. Every number a verdict rests on comes from here,
with its :class:`~plantseek.repro.rules.Stat` (mean, spread, n) for display and the
:class:`~plantseek.repro.rules.Decision` (a bootstrap interval over seeds) that decides it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from plantseek.repro.rules import Decision, Stat, exceeds, interval, stat, tolerance, unit, within

SPARSE = ("ticket", "0.01")
MODERATE = ("0.1", "0.5")
BELOW_ONE = ("ticket", "0.01", "0.1", "0.5")


@dataclass(frozen=True)
class Ticket:
    """One group judged by :func:`plantseek.repro.rules.within`: its display statistic and the decision (with its
    interval); ``found`` is None where it is undecided or the group has no cells (``missing``)."""

    decision: Decision
    group: Stat
    missing: bool = False

    @property
    def found(self) -> bool | None:
        return None if self.missing else self.decision.holds

    def mark(self) -> str:
        return "—" if self.missing else self.decision.mark()

    def text(self, spec: str) -> str:
        if self.missing:
            return f"{spec}: no cells"
        return f"{spec} {self.group.brief()}: {self.decision.text()}"  # the group's own decision, no mark


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


def seed_values(df: pd.DataFrame, column: str) -> dict[int, float]:
    """One value per seed of ``column`` (the first cell's: per-instance columns such as ``dense_weak_metric`` are
    repeated on every cell of an instance; a group has one cell per seed)."""
    if not len(df):
        return {}
    return {int(k): float(v) for k, v in df.groupby("seed")[column].first().items() if v is not None}


def per_seed(df: pd.DataFrame, column: str) -> Stat:
    """The display statistic over seeds of a per-instance column: one value per seed."""
    return stat(seed_values(df, column).values())


def reference(df: pd.DataFrame) -> Stat:
    """The trained dense host of ``df``'s instances (display): the reference every ticket is judged against."""
    return per_seed(df, "dense_weak_metric")


def task_tolerance(df: pd.DataFrame) -> float:
    """The tolerance of :func:`plantseek.repro.rules.tolerance` on ``df``'s instances (one task): the gap between
    the trained dense host and the planted ticket."""
    return tolerance(seed_values(df, "dense_weak_metric"), seed_values(df, "ticket_metric"), direction(df))


#: the column each kind of ticket is judged on: "paper-readout" is the strong metric read out as the paper's
#: edge-popup model did (plantseek.score.evaluation.paper_readout), for the reproduction's paper-readout variant
METRIC_OF_KIND = {"weak": "weak_metric", "strong": "strong_metric", "paper-readout": "strong_metric_paper_readout"}


def ticket(group: pd.DataFrame, kind: str) -> Ticket:
    """Whether ``group`` (one task, pruner, density) is a ``kind`` (:data:`METRIC_OF_KIND`) ticket: its per-seed
    ``kind`` metric against the trained dense host of the same seeds, within the tolerance of its instances. Missing
    when the group has no cell or its cells lack that metric (stored before it existed)."""
    column = METRIC_OF_KIND[kind]
    if not len(group) or column not in group.columns or group[column].isna().all():
        return Ticket(Decision(None, "shortfall", interval([]), float("nan")), stat([]), missing=True)
    metric = seed_values(group, column)
    decision = within(metric, seed_values(group, "dense_weak_metric"), task_tolerance(group), direction(group))
    return Ticket(decision, stat(metric.values()))


def tasks_of(df: pd.DataFrame | None) -> list[str]:
    return [] if df is None else sorted(set(df["task"].astype(str)))


def pruners_of(df: pd.DataFrame | None) -> list[str]:
    return [] if df is None else sorted(set(df["pruner"].astype(str)))


def reference_text(df: pd.DataFrame, task: str) -> str:
    """``task: trained dense host ..., planted ticket ..., tolerance ...`` (the references shown beside a
    verdict)."""
    t = rows(df, task)
    hib = direction(t)
    return (f"{task} ({t['metric_name'].iloc[0] if len(t) else '?'}): trained dense host {reference(t).text()}, "
            f"planted ticket {per_seed(t, 'ticket_metric').text()}, tolerance {task_tolerance(t):.3g} {unit(hib)}")


NONE = "none"


def sparsest_ticket(df: pd.DataFrame, task: str, pruner: str, kind: str = "weak",
                    specs: tuple[str, ...] = BELOW_ONE) -> str | None:
    """The sparsest density spec (of ``specs``, sparsest first) at which ``pruner`` finds a ``kind`` ticket, every
    sparser one decided as no ticket; :data:`NONE` when none is one; None when an undecided (or missing) group
    comes first."""
    for spec in specs:
        found = ticket(rows(df, task, pruner, spec), kind).found
        if found is None:
            return None
        if found:
            return spec
    return NONE


def collapse_share(df: pd.DataFrame) -> float:
    """The share of cells whose mask has no input-to-output path (``layer_collapse``); NaN for no cells."""
    values = df["layer_collapse"].dropna().astype(bool) if len(df) else pd.Series([], dtype=bool)
    return float(values.mean()) if len(values) else float("nan")


def collapse_decision(df: pd.DataFrame) -> Decision:
    """Whether most masks of ``df`` collapse: the per-seed share of collapsed cells (over the tasks of ``df``)
    against 0.5 (:func:`plantseek.repro.rules.exceeds`)."""
    if not len(df):
        return exceeds({})
    cells = df.dropna(subset=["layer_collapse"])
    shares = cells.groupby("seed")["layer_collapse"].apply(lambda v: float(v.astype(bool).mean()))
    return exceeds({int(k): float(v) for k, v in shares.items()})
