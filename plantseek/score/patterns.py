"""Recovery metrics of pattern cells (:mod:`plantseek.nets.patterns`), added to a cell's metrics dict.

* N:M cells (``"2:4"``): ``nm_ceiling``, the best recall any mask of the pattern can reach on the planted ticket
  (:func:`nm_ceiling`: per group, ``min(group quota, ticket weights in the group)``, summed, over the ticket's
  weights), and ``nm_feasible``, whether the whole ticket fits the pattern (:func:`nm_feasible`; then the ceiling
  is 1).
* Structured cells (``"units:0.25"``): ``structured_recall``, the share of ticket units kept
  (:func:`structured_recall`: a unit is a row of a prunable tensor, a ticket unit one holding at least one ticket
  weight, a kept unit one with at least one kept weight), and ``ticket_units``, their number.

Only the ticket's weight tensors count (the mask's keys that the ticket has).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from plantseek.core.patterns import Pattern, is_pattern_spec, parse_pattern
from plantseek.nets.patterns import group_counts, group_quota, rows_of

#: The metric keys this module adds (to recompute or drop them).
PATTERN_KEYS = ("nm_ceiling", "nm_feasible", "structured_recall", "ticket_units")


def nm_kept_ceiling(ticket: Mapping[str, torch.Tensor], pattern: Pattern) -> tuple[int, int]:
    """``(ticket weights an N:M mask can keep at most, ticket weights)``."""
    best = total = 0
    for t in ticket.values():
        counts = group_counts(t.bool(), pattern.m)
        best += int(torch.minimum(counts, group_quota(tuple(t.shape), pattern)).sum())
        total += int(counts.sum())
    return best, total


def nm_ceiling(ticket: Mapping[str, torch.Tensor], pattern: Pattern) -> float:
    """The best recall of the ticket over all masks of the N:M ``pattern`` (1.0 for an empty ticket)."""
    best, total = nm_kept_ceiling(ticket, pattern)
    return best / total if total else 1.0


def nm_feasible(ticket: Mapping[str, torch.Tensor], pattern: Pattern) -> bool:
    """Whether some mask of the N:M ``pattern`` keeps the whole ticket (no group holds more ticket weights than
    it keeps)."""
    best, total = nm_kept_ceiling(ticket, pattern)
    return best == total


def structured_counts(mask: Mapping[str, torch.Tensor], ticket: Mapping[str, torch.Tensor]) -> tuple[int, int]:
    """``(ticket units kept, ticket units)`` over the ticket's tensors (a unit is a row)."""
    kept = total = 0
    for name, t in ticket.items():
        units = rows_of(t.bool()).any(dim=1)
        alive = rows_of(mask[name].bool()).any(dim=1)
        kept += int((units & alive).sum())
        total += int(units.sum())
    return kept, total


def structured_recall(mask: Mapping[str, torch.Tensor], ticket: Mapping[str, torch.Tensor]) -> float:
    """Share of the ticket's units that the mask keeps (1.0 when the ticket has none)."""
    kept, total = structured_counts(mask, ticket)
    return kept / total if total else 1.0


def pattern_metrics(mask: Mapping[str, torch.Tensor], ticket: Mapping[str, torch.Tensor],
                    density_spec: str) -> dict[str, Any]:
    """The pattern metrics of a cell whose requested density is ``density_spec`` ({} for a non-pattern cell)."""
    if not is_pattern_spec(density_spec):
        return {}
    pattern = parse_pattern(density_spec)
    tick = {n: t for n, t in ticket.items() if n in mask}
    if pattern.kind == "nm":
        return {"nm_ceiling": nm_ceiling(tick, pattern), "nm_feasible": nm_feasible(tick, pattern)}
    kept, total = structured_counts(mask, tick)
    return {"structured_recall": kept / total if total else 1.0, "ticket_units": total}


__all__ = ["PATTERN_KEYS", "nm_kept_ceiling", "nm_ceiling", "nm_feasible", "structured_counts",
           "structured_recall", "pattern_metrics"]
