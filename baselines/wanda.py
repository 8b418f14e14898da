"""Wanda (Sun, Liu, Bair & Kolter 2023, "A Simple and Effective Pruning Approach for Large Language Models",
arXiv 2306.11695): pruning by weights and activations.

Rule: score ``S_ij = |W_ij| · ‖X_j‖₂`` (``X_j``: input feature j of the layer over the calibration rows), compared
per output row (every row of a layer keeps the same number of weights); no weight update. Layers are pruned in
order from the input, each on the inputs of the network pruned so far, as the reference implementation does.
Changes for small networks: a layer's kept count need not divide by its rows: the ``k mod rows`` remaining weights
go to the rows whose next candidate scores highest (:func:`plantseek.prune.posttraining.select_rows`), so the total
is exactly ``kept_count(density)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.layer_reconstruction import LayerwisePruner
from plantseek.prune.posttraining import input_norms, select_rows


def wanda_scores(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``|W_ij| · ‖X_j‖₂`` for a weight (out, in) and inputs (samples, in)."""
    return w.abs() * input_norms(x)[None, :]


@dataclass
class Wanda(LayerwisePruner):
    """|W_ij|·‖X_j‖₂ per output row."""

    name: str = "wanda"
    description: str = "|W_ij|·‖X_j‖₂ on the calibration set, compared per output row (Sun et al. 2023)"

    def prune_layer(self, name, w, x, k):
        return select_rows(wanda_scores(w, x), k), None


PRUNERS.register("wanda", declared(Wanda, tags={"post-training"}, rank=2))
