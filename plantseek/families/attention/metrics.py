"""Recovery metrics of attention hosts (:mod:`plantseek.families.attention.network`): per projection type and per
ticket head.

Pure functions of a mask and the ticket (weight entries only, as in :mod:`plantseek.score.metrics`):

- ``per_projection``: per kind (``q``, ``k``, ``v``, ``o``, ``up``, ``down``, ``readout``; pooled over blocks) the
  ``recall`` (kept ticket weights / ticket weights; None where the ticket has none of that kind) and the ``density``
  (kept / all weights of that kind);
- ``per_head``: the ticket's heads (``[block, host head]``: heads with a ticket weight in their query, key or value
  rows or their output columns) and each head's recall over those weights;
- ``ticket_heads_recovered``: the fraction of ticket heads whose ticket weights are all kept (1 without heads).

:func:`architecture_recovery` adds them to a cell's recovery metrics on a transformer host and nothing elsewhere.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from plantseek.families.attention.network import TransformerArchitecture, block_name

KINDS = ("q", "k", "v", "o", "up", "down", "readout")


def _names(arch: TransformerArchitecture, kind: str) -> list[str]:
    return ["readout.weight"] if kind == "readout" else [block_name(b, kind) for b in range(arch.n_blocks)]


def per_projection(mask: Mapping[str, torch.Tensor], ticket: Mapping[str, torch.Tensor],
                   arch: TransformerArchitecture) -> dict[str, dict[str, float | None]]:
    recall: dict[str, float | None] = {}
    density: dict[str, float | None] = {}
    for kind in KINDS:
        names = _names(arch, kind)
        kept = sum(int(mask[n].bool().sum()) for n in names)
        total = sum(mask[n].numel() for n in names)
        tick = sum(int(ticket[n].sum()) for n in names)
        both = sum(int((mask[n].bool() & ticket[n]).sum()) for n in names)
        recall[kind] = both / tick if tick else None
        density[kind] = kept / total
    return {"recall": recall, "density": density}


def head_weights(entries: Mapping[str, torch.Tensor], arch: TransformerArchitecture, blk: int, head: int
                 ) -> torch.Tensor:
    """The entries of one head's query, key and value rows and output columns, flattened into one vector."""
    rows = slice(head * arch.head_dim, (head + 1) * arch.head_dim)
    parts = [entries[block_name(blk, p)][rows].flatten() for p in ("q", "k", "v")]
    return torch.cat(parts + [entries[block_name(blk, "o")][:, rows].flatten()])


def per_head(mask: Mapping[str, torch.Tensor], ticket: Mapping[str, torch.Tensor],
             arch: TransformerArchitecture) -> dict[str, Any]:
    heads, recall = [], []
    for blk in range(arch.n_blocks):
        for head in range(arch.n_heads):
            t = head_weights(ticket, arch, blk, head).bool()
            if bool(t.any()):
                kept = head_weights(mask, arch, blk, head).bool()
                heads.append([blk, head])
                recall.append(int((kept & t).sum()) / int(t.sum()))
    return {"heads": heads, "recall": recall}


def architecture_recovery(mask: Mapping[str, torch.Tensor], ticket: Mapping[str, torch.Tensor],
                          arch: Any) -> dict[str, Any]:
    """The attention recovery metrics on a transformer host; ``{}`` on any other architecture."""
    if not isinstance(arch, TransformerArchitecture):
        return {}
    heads = per_head(mask, ticket, arch)
    whole = [r == 1.0 for r in heads["recall"]]
    return {"per_projection": per_projection(mask, ticket, arch), "per_head": heads,
            "ticket_heads_recovered": sum(whole) / len(whole) if whole else 1.0}
