"""Magnitude pruning of the TRAINED network (the post-training baseline of Wanda, SparseGPT and OWL).

Rule: keep the weights of largest |W_ij| of the densely trained host, compared within each layer (uniform layer
density, the layer-wise magnitude baseline of Sun et al. 2023, "A Simple and Effective Pruning Approach for Large
Language Models", and Frantar & Alistarh 2023); no weight update, no calibration data used. Change for small
networks: none (the per-layer counts are :func:`plantseek.nets.masks.layer_counts`, exact in total).
"""

from __future__ import annotations

from dataclasses import dataclass

from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.layer_reconstruction import LayerwisePruner
from plantseek.prune.posttraining import select_layer


@dataclass
class MagnitudePosttraining(LayerwisePruner):
    """|W| of the trained network, per layer."""

    name: str = "magnitude-posttraining"
    description: str = "largest |W| of the trained network, uniform per layer (no calibration data)"
    needs_inputs = False

    def prune_layer(self, name, w, x, k):
        return select_layer(w.abs(), k), None


PRUNERS.register("magnitude-posttraining", declared(MagnitudePosttraining, tags={"post-training"}, rank=1))
