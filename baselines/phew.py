"""PHEW, Paths with Higher Edge Weights (Patil & Dovrolis 2021, "PHEW: constructing sparse networks that learn
fast and generalize well without training data", ICML): a data-free mask made of input→output paths.

Update rule: sample random walks through the host at its initial weights; from a unit, the walk moves to a unit of
the next layer with probability proportional to the magnitude |w| of the connecting weight (a biased random walk,
favouring paths of higher edge weights). Walks alternate between starting at an input unit (round-robin over the
inputs) and walking forward, and starting at an output unit (round-robin over the outputs) and walking backward,
so that every input and output is reached. Each walk adds its weights to the mask, until the mask holds exactly
``kept_count(density)`` weights. Every kept weight lies on an input→output path (no dangling weight).

Exact count (our completion rule, the paper stops at the budget without saying how the last path is cut): a walk
that would add more new weights than the budget has left is skipped; after ``patience`` (1000) skipped walks in a
row, the remaining weights are the largest-|w| ones joining a unit that is reached from an input to a unit that
reaches an output (such a weight lies on a path, so none dangles).

Hyper-parameters: none but the walk rule (the paper's). Walks are drawn 1024 at a time with ``torch.multinomial``
from the pruner's generator (forward and backward alternating within a batch). Chain-structured networks only (one
weight per layer, ``(n_out, n_in, ...)``): on a convolutional host a unit is a channel, a walk steps between
channels by the summed |w| of the kernel entries joining them and keeps one of those entries, drawn ∝ |w| (our
reading for convolutions; on an MLP this is the rule above, with no extra draw). Cost: no training; about 10⁴ walks at
density 0.5 on the default hosts (a fraction of a second).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from plantseek.core.errors import PrunerError
from plantseek.prune.contract import PRUNERS, declared
from plantseek.nets.masks import Mask, kept_count, validate_density
from plantseek.prune.schedules import full_mask

BATCH = 1024


def sample_walks(weights: list[torch.Tensor], starts: torch.Tensor, forward: bool,
                 generator: torch.Generator) -> np.ndarray:
    """``(B, L + 1)`` unit indices per layer of B walks (layer 0 = input) starting at ``starts`` (input units when
    ``forward``, else output units walking backward); each step chooses a neighbour with probability ∝ the
    connection's magnitude (``weights`` are ``(n_out, n_in)`` unit-to-unit magnitudes)."""
    n_layers = len(weights)
    units = [None] * (n_layers + 1)
    if forward:
        units[0] = starts
        for l, w in enumerate(weights):
            units[l + 1] = torch.multinomial(w.abs().t()[units[l]], 1, generator=generator).squeeze(1)
    else:
        units[n_layers] = starts
        for l in range(n_layers - 1, -1, -1):
            units[l] = torch.multinomial(weights[l].abs()[units[l + 1]], 1, generator=generator).squeeze(1)
    return torch.stack(units, dim=1).numpy()


def sample_entries(entries: list[torch.Tensor], walks: np.ndarray, generator: torch.Generator) -> np.ndarray:
    """``(B, L)`` entry indices: for each step of each walk, one of the weight entries joining its two units (a
    convolution's kernel positions, flattened), with probability ∝ |w|; all zero where every layer has one entry
    per unit pair (an MLP: no draw is made)."""
    picks = np.zeros((walks.shape[0], len(entries)), dtype=np.int64)
    for l, e in enumerate(entries):
        if e.shape[2] > 1:
            rows = e.abs()[torch.from_numpy(walks[:, l + 1]), torch.from_numpy(walks[:, l])]
            picks[:, l] = torch.multinomial(rows, 1, generator=generator).squeeze(1).numpy()
    return picks


def _completion(kept: list[np.ndarray], entries: list[torch.Tensor], left: int) -> None:
    """Add the ``left`` largest-|w| weights joining an input-reached unit to an output-reaching one (in place;
    ``kept`` and ``entries`` are ``(n_out, n_in, entries per unit pair)``)."""
    n_layers = len(kept)
    joined = [k.any(axis=2) for k in kept]
    reached = [None] * (n_layers + 1)  # units with a kept path from an input
    reaching = [None] * (n_layers + 1)  # units with a kept path to an output
    reached[0] = np.ones(kept[0].shape[1], dtype=bool)
    for l in range(n_layers):
        reached[l + 1] = (joined[l][:, reached[l]]).any(axis=1)
    reaching[n_layers] = np.ones(kept[-1].shape[0], dtype=bool)
    for l in range(n_layers - 1, -1, -1):
        reaching[l] = (joined[l][reaching[l + 1], :]).any(axis=0)
    scores = {}
    for l, w in enumerate(entries):
        ok = np.outer(reaching[l + 1], reached[l])[:, :, None] & ~kept[l]
        scores[str(l)] = torch.where(torch.from_numpy(ok), w.abs().double(), torch.tensor(-1.0, dtype=torch.float64))
    candidates = sum(int((s >= 0).sum()) for s in scores.values())
    if candidates < left:
        raise PrunerError(f"phew: only {candidates} weights can complete the paths, {left} needed")
    flat = torch.cat([s.flatten() for s in scores.values()])
    order = torch.sort(-flat, stable=True).indices[:left]
    offset = 0
    for l, s in enumerate(scores.values()):
        pick = order[(order >= offset) & (order < offset + s.numel())] - offset
        kept[l].reshape(-1)[pick.numpy()] = True
        offset += s.numel()


def phew_mask(entries: list[torch.Tensor], budget: int, generator: torch.Generator, patience: int = 1000
              ) -> list[np.ndarray]:
    """Boolean kept arrays (one per layer, ``(n_out, n_in, entries per unit pair)``, as ``entries``) holding exactly
    ``budget`` weights on paths. A walk steps between units by the summed |w| of their entries, then keeps one
    entry ∝ |w| (for an MLP, the one weight)."""
    kept = [np.zeros(tuple(e.shape), dtype=bool) for e in entries]
    units = [e.abs().sum(dim=2) for e in entries]
    n_in, n_out = entries[0].shape[1], entries[-1].shape[0]
    total, skipped, walk = 0, 0, 0
    while total < budget and skipped < patience:
        ids = torch.arange(walk, walk + BATCH)
        fwd = sample_walks(units, (ids[0::2] // 2) % n_in, True, generator)
        bwd = sample_walks(units, (ids[1::2] // 2) % n_out, False, generator)
        fwd_at, bwd_at = sample_entries(entries, fwd, generator), sample_entries(entries, bwd, generator)
        for f, fa, b, ba in zip(fwd, fwd_at, bwd, bwd_at):
            for path, at in ((f, fa), (b, ba)):
                new = [l for l in range(len(kept)) if not kept[l][path[l + 1], path[l], at[l]]]
                if len(new) > budget - total:
                    skipped += 1
                    continue
                skipped = 0
                for l in new:
                    kept[l][path[l + 1], path[l], at[l]] = True
                total += len(new)
                if total == budget or skipped >= patience:
                    break
            if total == budget or skipped >= patience:
                break
        walk += BATCH
    if total < budget:
        _completion(kept, entries, budget - total)
    return kept


@dataclass
class PHEW:
    name: str = "phew"
    description: str = "data-free: union of random input→output walks biased by |w| up to the budget"
    patience: int = 1000
    protocol: ClassVar[str] = "single-shot"

    def prune(self, model, data, density: float, *, generator: torch.Generator, budget) -> Mask:
        d = validate_density(density)
        if d == 1.0:
            return full_mask(model)
        prunable = model.prunable()
        weights = [p.detach().double().cpu() for p in prunable.values()]
        if any(w.dim() < 2 for w in weights) or any(a.shape[1] != b.shape[0] for a, b in zip(weights[1:], weights)):
            raise PrunerError("phew needs a chain of weights (n_out, n_in, ...) whose units join layer to layer")
        entries = [w.reshape(w.shape[0], w.shape[1], -1) for w in weights]
        k = kept_count(d, sum(w.numel() for w in weights))
        kept = phew_mask(entries, k, generator, self.patience)
        return {n: torch.from_numpy(m.reshape(w.shape).copy()) for (n, w), m in zip(prunable.items(), kept)}


PRUNERS.register("phew")(declared(PHEW, tags={"modern"}, rank=23))
