"""Multiplicity-aware recall (the Multiple Ticket Hypothesis; ``docs/multiple-tickets.md``): where an instance
plants several tickets, recall against the first understates a mask that recovered another. These metrics score a
mask against every planted ticket: the best recall and the number of tickets found."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch

from plantseek.nets.interface import Structure
from plantseek.score.metrics import overlap_counts

#: a planted ticket counts as found by a mask that keeps at least this fraction of its weights
TICKET_FOUND_RECALL = 0.9


def multi_ticket_metrics(mask: Mapping[str, torch.Tensor], tickets: Sequence[Mapping[str, torch.Tensor]],
                         structure: Structure | None = None) -> dict[str, Any]:
    """Multiplicity-aware recall against every planted ticket (the Multiple Ticket Hypothesis): ``best_recall`` (the
    largest recall over the tickets), ``best_ticket`` (its index, the first on ties), ``tickets_found`` (tickets
    with recall >= ``TICKET_FOUND_RECALL``) and ``n_tickets``. With one ticket, ``best_recall`` is the plain recall."""
    if not tickets:
        raise ValueError("multi_ticket_metrics needs at least one ticket")
    recalls = [_recall_in(mask, t, structure) for t in tickets]
    best = max(range(len(recalls)), key=lambda i: (recalls[i], -i))
    return {"best_recall": recalls[best], "best_ticket": best,
            "tickets_found": sum(r >= TICKET_FOUND_RECALL for r in recalls), "n_tickets": len(recalls)}


def _recall_in(mask: Mapping[str, torch.Tensor], ticket: Mapping[str, torch.Tensor],
               structure: Structure | None) -> float:
    c = overlap_counts(mask, ticket, structure)
    return float(c["both"].sum() / c["ticket"].sum()) if c["ticket"].sum() else 1.0


def instance_ticket_metrics(mask: Mapping[str, torch.Tensor], tickets: Sequence[Mapping[str, torch.Tensor]],
                            structure: Structure | None = None) -> dict[str, Any]:
    """:func:`multi_ticket_metrics` where an instance plants several tickets; ``{}`` for one (the cells of
    single-ticket instances keep their recovery metrics as they were)."""
    return multi_ticket_metrics(mask, tickets, structure) if len(tickets) > 1 else {}
