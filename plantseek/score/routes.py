"""Per-route recall (the routing task, ``docs/routing.md``): a task whose :meth:`weight_routes` labels each target
weight with its route (a cluster's planted subnetwork; the ticket is the union of disjoint routes) gets, per cell,
the share of each route's ticket weights the mask keeps.

Metrics (in each cell's metrics dict): ``route_recall_{r}`` per route ``r``, ``route_recall_min`` (the worst-served
route), ``route_recall_max`` and ``routes_complete`` (the number of routes kept whole).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from plantseek.nets.interface import weight_name
from plantseek.nets.masks import Mask


def host_routes(weight_routes: Sequence[np.ndarray], placement: Sequence[torch.Tensor],
                shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """Per host weight matrix, the route of each planted weight (-1 elsewhere): target weight ``(i, j)`` of layer
    ``l`` sits at host ``(placement[l][i], placement[l - 1][j])`` (inputs keep their index)."""
    out = {}
    for l, owner in enumerate(weight_routes):
        name = weight_name(l)
        host = torch.full(shapes[name], -1, dtype=torch.long)
        rows = placement[l]
        cols = placement[l - 1] if l else torch.arange(owner.shape[1])
        i, j = np.nonzero(owner >= 0)
        host[rows[torch.from_numpy(i)], cols[torch.from_numpy(j)]] = torch.from_numpy(owner[i, j]).long()
        out[name] = host
    return out


def route_recalls(mask: Mask, routes: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The share of each route's weights that ``mask`` keeps, and the summaries named in the module docstring."""
    n = 1 + max(int(r.max()) for r in routes.values())
    kept, total = np.zeros(n), np.zeros(n)
    for name, owner in routes.items():
        on = owner >= 0
        total += np.bincount(owner[on].numpy(), minlength=n)
        kept += np.bincount(owner[on & mask[name].bool()].numpy(), minlength=n)
    recall = kept / total
    out: dict[str, Any] = {f"route_recall_{r}": float(recall[r]) for r in range(n)}
    out.update(route_recall_min=float(recall.min()), route_recall_max=float(recall.max()),
               routes_complete=float((kept == total).sum()))
    return out
