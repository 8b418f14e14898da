"""Random pruning with layer-wise ratios: a uniformly random mask whose per-layer counts follow a density rule.

* ``random-erk``: Erdős–Rényi-Kernel ratios (Evci, Gale, Menick, Castro & Elsen 2020, "Rigging the lottery:
  making all tickets winners"), ``d_l = ε (n_in + n_out) / (n_in n_out)``;
* ``random-balanced``: every layer keeps the same number of weights, and ``random-pyramidal``: layer densities
  falling geometrically with depth (Gadhikar, Mukherjee & Burkholz 2023, "Why random pruning is all we need to
  start sparse").

Update rule: none (single-shot, data-free): per-layer counts from :mod:`plantseek.prune.layerwise` (ε solved so
that the total is exactly ``kept_count(density)``, layers that would exceed density 1 made dense and ε re-solved,
integer counts by largest remainders), then within each layer the top of U[0, 1) scores drawn from the
generator layer by layer. Hyper-parameters: none (the papers' rules have no free parameter but ε, which is
solved). Unchanged from the papers; for these MLPs the input and output layers are small (2·100, 100·4), so at
density 0.5 ERK and balanced keep them dense.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.layerwise import random_layerwise_mask
from plantseek.nets.masks import validate_density

MODERN = frozenset({"modern"})


@dataclass
class RandomLayerwise:
    """Random weights, per-layer counts from the layer-wise density rule ``rule``."""

    rule: str = "erk"
    name: str = "random-erk"
    description: str = "uniformly random weights, Erdős–Rényi-Kernel layer-wise densities (exact total)"
    protocol: ClassVar[str] = "single-shot"

    def prune(self, model, data, density: float, *, generator, budget):
        shapes = {n: tuple(p.shape) for n, p in model.prunable().items()}
        return random_layerwise_mask(self.rule, validate_density(density), shapes, generator)


PRUNERS.register("random-erk")(declared(RandomLayerwise, tags=MODERN, rank=20))


@PRUNERS.register("random-balanced")
@declared(tags=MODERN, rank=21)
def _balanced() -> RandomLayerwise:
    return RandomLayerwise(rule="balanced", name="random-balanced",
                           description="uniformly random weights, the same number kept in every layer (exact total)")


@PRUNERS.register("random-pyramidal")
@declared(tags=MODERN, rank=22)
def _pyramidal() -> RandomLayerwise:
    return RandomLayerwise(rule="pyramidal", name="random-pyramidal",
                           description="uniformly random weights, layer densities q^l falling with depth (exact total)")
