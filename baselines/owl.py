"""OWL (Yin et al. 2024, "Outlier Weighed Layerwise Sparsity (OWL): A Missing Secret Sauce for Pruning LLMs to High
Sparsity", ICML 2024): non-uniform layer densities from the layers' outlier ratios, on top of Wanda.

Rule: on the trained dense network, each layer's Wanda scores ``A = |W|·‖X‖₂``; its outlier ratio ``D_l`` = share
of entries with ``A > M · mean(A_l)``, ``M = 5``; the ratios are rescaled to ``[0, 2λ]`` (``λ = 0.08``) and a layer's
density is ``d + scale·(D_l − s)``: layers with more outliers keep more. Then Wanda prunes every layer to its count
(per output row, layers in order). The shift ``s`` is solved so that the kept counts sum exactly to
``kept_count(d)`` (densities clipped to [0, 1]; the real counts rounded by largest remainders:
:func:`plantseek.prune.layerwise.integer_counts`), so the layer densities average exactly to the requested one in
kept-count terms.

Changes for small networks: the paper's layers are of equal size and its λ is absolute at density ~0.3; here layers
differ in size (the shift is solved in kept counts, not as a plain mean) and the deviation is scaled by
``scale = min(1, d / 0.3)`` so that a low density does not push layers to zero by the deviation alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.layer_reconstruction import LayerwisePruner
from plantseek.prune.layerwise import integer_counts
from plantseek.prune.layer_inputs import layer_inputs, weight_matrix
from plantseek.prune.posttraining import select_rows
from plantseek.nets.interface import network_parameters
from plantseek.nets.masks import kept_count
from plantseek.baselines.wanda import wanda_scores


def outlier_ratio(score: torch.Tensor, m: float = 5.0) -> float:
    """Share of a layer's scores above ``m`` times their mean."""
    return float((score > m * score.mean()).double().mean())


def owl_densities(ratios: dict[str, float], sizes: dict[str, int], density: float, lam: float = 0.08,
                  ) -> dict[str, int]:
    """Kept counts per layer from outlier ratios: see the module docstring; sums exactly to ``kept_count``."""
    k = kept_count(density, sum(sizes.values()))
    lo, hi = min(ratios.values()), max(ratios.values())
    dev = {n: (r - lo) / (hi - lo) * 2 * lam if hi > lo else 0.0 for n, r in ratios.items()}
    scale = min(1.0, density / 0.3)

    def real(shift: float) -> dict[str, float]:
        return {n: sizes[n] * min(1.0, max(0.0, density + scale * (dev[n] - shift))) for n in sizes}

    a, b = -2.0 / max(scale, 1e-12) - 1.0, 2.0 / max(scale, 1e-12) + 1.0  # kept total: all at a, none at b
    for _ in range(200):
        mid = (a + b) / 2
        if sum(real(mid).values()) > k:
            a = mid
        else:
            b = mid
    return integer_counts(real((a + b) / 2), sizes, k)


@dataclass
class OWL(LayerwisePruner):
    """Wanda with outlier-weighed layer densities."""

    name: str = "owl"
    description: str = "Wanda with layer densities from the layers' outlier ratios (M = 5, λ = 0.08; Yin et al. 2024)"
    m: float = 5.0
    lam: float = 0.08

    def counts(self, model, data, density, sizes):
        inputs = layer_inputs(model, data.x, self.name)
        params = network_parameters(model)
        ratios = {n: outlier_ratio(wanda_scores(weight_matrix(params[n].detach()), inputs[n]), self.m) for n in sizes}
        return owl_densities(ratios, sizes, density, self.lam)

    def prune_layer(self, name, w, x, k):
        return select_rows(wanda_scores(w, x), k), None


PRUNERS.register("owl", declared(OWL, tags={"post-training"}, rank=5))
