"""The shared schedule of the layer-wise post-training pruners (:mod:`plantseek.prune.posttraining`).

A :class:`LayerwisePruner` overrides :meth:`LayerwisePruner.prune_layer` (one layer: its trained weight, its input
activations on the calibration set and its kept count -> the layer's mask and, optionally, its updated weight) and,
for non-uniform layer densities, :meth:`LayerwisePruner.counts`. The schedule, as in the papers' implementations:

1. per-layer kept counts summing exactly to ``kept_count(density)`` (uniform by default:
   :func:`plantseek.nets.masks.layer_counts`);
2. layers in order from the input; each layer's inputs are computed on the network pruned (and updated) so far
   (``sequential``; the inputs of the first layer are the calibration inputs themselves), in float64;
3. under an N:M or whole-unit pattern (:mod:`plantseek.nets.patterns`) every layer's count is the pattern's and
   the selection functions keep within it (:class:`~plantseek.prune.posttraining.PatternCount`);
4. the mask of every prunable weight, and the updated weights when the method changed any (a
   :class:`~plantseek.prune.posttraining.PostTrainingResult`).

Only the weights are prunable here (a budget with prunable biases is a one-line PrunerError).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from plantseek.core.errors import PrunerError
from plantseek.core.types import Mask
from plantseek.nets.interface import network_parameters
from plantseek.nets.masks import layer_counts, validate_density
from plantseek.nets.patterns import pattern_of
from plantseek.prune.posttraining import PROTOCOL, PatternCount, PostTrainingResult, layer_inputs, trained_weights
from plantseek.train.config import biases_prunable


@dataclass
class LayerwisePruner:
    """Base of the layer-wise post-training pruners (see the module docstring)."""

    name: str = "layerwise"
    description: str = "layer-wise post-training pruner (override prune_layer())"
    protocol: ClassVar[str] = PROTOCOL
    needs_inputs: ClassVar[bool] = True  # magnitude does not look at the data

    def counts(self, model: Any, data: Any, density: float, sizes: dict[str, int]) -> dict[str, int]:
        """Kept count per layer, summing exactly to ``kept_count(density, sum(sizes))``: uniform by default."""
        return layer_counts(density, sizes)

    def prune_layer(self, name: str, w: torch.Tensor, x: torch.Tensor | None,
                    k: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One layer: ``w`` (out, in) float64 trained weight, ``x`` (samples, in) float64 inputs (None when
        ``needs_inputs`` is False), ``k`` kept entries -> (boolean keep of ``w``'s shape with exactly ``k`` True,
        updated weight or None)."""
        raise NotImplementedError

    def prune(self, model: Any, data: Any, density: float, *, generator: torch.Generator,
              budget: Any) -> Mask | PostTrainingResult:
        pattern = pattern_of(density)  # read before validation, which gives a plain float
        d = validate_density(density)
        if biases_prunable(budget):
            raise PrunerError(f"{self.name}: prunes weights only (the budget makes the biases prunable)")
        work = model.arch.build(trained_weights(model), torch.float64)
        params = network_parameters(work)
        names = list(work.prunable())
        if any(params[n].dim() != 2 for n in names):
            raise PrunerError(f"{self.name}: needs 2-D (out, in) weights (the MLP host; conv and attention hosts are "
                              "not supported)")
        if pattern is None:
            counts = self.counts(work, data, d, {n: params[n].numel() for n in names})
        else:  # the pattern fixes every layer's count (OWL's non-uniform layer densities do not apply)
            counts = {n: PatternCount(pattern, tuple(params[n].shape)) for n in names}
        mask: Mask = {}
        updated: dict[str, torch.Tensor] = {}
        for name in names:
            x = layer_inputs(work, data.x, self.name)[name] if self.needs_inputs else None
            w = params[name].detach().clone()
            keep, new = self.prune_layer(name, w, x, counts[name])
            if int(keep.sum()) != counts[name]:
                raise PrunerError(f"{self.name}: layer {name} kept {int(keep.sum())} weights, expected {counts[name]}")
            mask[name] = keep
            final = (w if new is None else new) * keep
            if new is not None:
                updated[name] = final
            with torch.no_grad():
                params[name].copy_(final)
        return PostTrainingResult(mask, updated) if updated else mask
