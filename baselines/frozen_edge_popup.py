"""Partially frozen strong tickets: edge-popup on a host whose weights are partly frozen at random before the search
(Otsuka, Chijiwa, Kawai, Inoue, Mitsuno, Iida & Kobayashi 2024, "Partially frozen random networks contain compact
strong lottery tickets", TMLR).

Rule (``frozen-edge-popup``): before the search, a seeded random share ``frozen_share`` of each prunable weight
tensor's entries is **frozen**; of the frozen entries of a layer, ``locked = min(count, floor(density x frozen))``
are drawn at random and *locked into* the ticket (always kept), the other frozen entries are *permanently pruned*.
Edge-popup (:class:`plantseek.baselines.edge_popup.EdgePopup`: learned scores on the frozen initial weights and
biases, straight-through top-k per layer, the same hyper-parameters) then chooses the remaining ``count - locked``
kept entries of each layer among the free ones only: the frozen entries' scores are pinned (a locked entry ranks
above every free one, a pruned one below; neither receives a gradient). Biases are never frozen. Per layer exactly
``layer_counts(density)`` weights are kept, as by edge-popup (``locked`` is raised where the free entries could not
hold the rest).

Otsuka et al. freeze with two separate ratios (a pruning ratio and a locking ratio) to shrink the search space and
the stored ticket; here one share, split by the density, so that freezing does not move the expected density of a
layer (the locked share of the frozen entries equals the density). ``frozen_share = 0.5`` by default (a stated
parameter and part of the pruner's description); 0 is edge-popup itself (nothing is drawn: the same masks). The
frozen sets are drawn from a generator derived from each density's generator before edge-popup's own draws. Small
networks: no change beyond edge-popup's own (see its module); the frozen draw is per layer, so a thin layer (Circle's
first, 2 x width) keeps its share.
``frozen[k]`` holds the (locked, pruned) masks of the k-th density of the last call, for tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch

from plantseek.baselines.edge_popup import EdgePopup, _kept_counts
from plantseek.core.errors import ConfigError
from plantseek.nets.masks import Mask
from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import check_generators, derive_generator
from plantseek.train.config import biases_prunable

#: the pinned score of a locked entry (above every learned |score|; finite, so the straight-through stays exact)
LOCKED_SCORE = 1e6


def frozen_sets(shapes: dict[str, tuple[int, ...]], counts: dict[str, int], density: float, share: float,
                generator: torch.Generator) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """``{weight: (locked, pruned)}`` boolean masks: per tensor, ``round(share * n)`` entries frozen at random; of
    those ``locked`` (see the module docstring) locked in, the rest pruned; ``counts`` are the per-tensor kept
    counts the search must reach."""
    out = {}
    for name, shape in shapes.items():
        n = math.prod(shape)
        order = torch.randperm(n, generator=generator)
        n_frozen = math.floor(share * n + 0.5)
        free = n - n_frozen
        locked = min(counts[name], math.floor(density * n_frozen))
        locked = max(locked, counts[name] - free)  # the free entries must hold the rest
        lock, prune = torch.zeros(n, dtype=torch.bool), torch.zeros(n, dtype=torch.bool)
        lock[order[:locked]] = True
        prune[order[locked:n_frozen]] = True
        out[name] = (lock.reshape(shape), prune.reshape(shape))
    return out


@dataclass
class FrozenEdgePopup(EdgePopup):
    name: str = "frozen-edge-popup"
    description: str = ("edge-popup after freezing a random half of each layer's weights (a density share of them "
                        "locked into the ticket, the rest pruned); the search chooses among the free weights")
    frozen_share: float = 0.5
    frozen: list[dict[str, tuple[torch.Tensor, torch.Tensor]]] = field(default_factory=list, init=False, repr=False,
                                                                        compare=False)

    def __post_init__(self) -> None:
        share = self.frozen_share
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.0 <= share <= 1.0:
            raise ConfigError(f"frozen_share must be a number in [0, 1], got {share!r}")
        if self.anneal:
            raise ConfigError("frozen-edge-popup keeps the requested density throughout (no annealing)")

    def prune_batch(self, model, data, densities: Sequence[float], *, generators: Sequence[torch.Generator],
                    budget) -> list[Mask]:
        ds = check_generators(densities, generators)
        arch = model.arch
        shapes = dict(arch.prunable_shapes())
        share = self.frozen_share
        self.frozen = [] if share == 0 else [
            frozen_sets(shapes, _kept_counts(arch, d, biases_prunable(budget)), d, share, derive_generator(g))
            for d, g in zip(ds, generators)]
        return super().prune_batch(model, data, ds, generators=generators, budget=budget)

    def effective_scores(self, scores: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Locked entries pinned at ``LOCKED_SCORE``, pruned ones at 0, the free ones the learned scores (the
        pinned entries get no gradient)."""
        if not self.frozen:
            return scores
        out = dict(scores)
        for name, s in scores.items():
            if name not in self.frozen[0]:
                continue
            lock = torch.stack([f[name][0] for f in self.frozen]).to(s.device)
            prune = torch.stack([f[name][1] for f in self.frozen]).to(s.device)
            pinned = torch.where(lock, torch.full_like(s, LOCKED_SCORE), torch.zeros_like(s))
            out[name] = torch.where(lock | prune, pinned, s)
        return out


PRUNERS.register("frozen-edge-popup")(declared(FrozenEdgePopup, tags={"ticket-literature"}, rank=20))
