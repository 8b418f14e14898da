"""The shared schedule of the layer-wise post-training pruners (:mod:`plantseek.prune.posttraining`).

A :class:`LayerwisePruner` overrides :meth:`LayerwisePruner.prune_layer` (one layer: its trained weight, its input
activations on the calibration set and its kept count -> the layer's mask and, optionally, its updated weight) and,
for non-uniform layer densities, :meth:`LayerwisePruner.counts`. The schedule, as in the papers' implementations:

1. per-layer kept counts summing exactly to ``kept_count(density)`` (uniform by default:
   :func:`plantseek.nets.masks.layer_counts`);
2. layers in order from the input; each layer's inputs are computed on the network pruned (and updated) so far
   (``sequential``; the inputs of the first layer are the calibration inputs themselves), in float64. Every host
   works: a weight is its ``(out, -1)`` matrix and its inputs the matching rows
   (:func:`plantseek.prune.layer_inputs.layer_inputs`: samples for MLP layers, sample-positions for the attention
   host's projections, im2col patches for conv kernels, flattened feature maps for the conv head), so the papers'
   per-output-row rules for conv and linear layers apply unchanged;
3. under an N:M or whole-unit pattern (:mod:`plantseek.nets.patterns`) every layer's count is the pattern's and
   the selection functions keep within it (:class:`~plantseek.prune.posttraining.PatternCount`);
4. the mask of every prunable weight, and the updated weights when the method changed any (a
   :class:`~plantseek.prune.posttraining.PostTrainingResult`).

With prunable biases (the paper protocol's cells) a layer's bias is one more input column whose input is 1 on every
sample: it is scored, kept and updated like a weight, and the layer's count covers weights and bias (a pattern with
prunable biases is a one-line PrunerError).
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
from plantseek.prune.layer_inputs import layer_inputs, weight_matrix
from plantseek.prune.posttraining import PROTOCOL, PatternCount, PostTrainingResult, trained_weights
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
        """One layer: ``w`` (out, in) float64 trained weight matrix (a conv kernel as (out, C·kh·kw)), ``x``
        (rows, in) float64 inputs (samples, sample-positions or conv patches; None when ``needs_inputs`` is False),
        ``k`` kept entries -> (boolean keep of ``w``'s shape with exactly ``k`` True, updated weight or None)."""
        raise NotImplementedError

    def prune(self, model: Any, data: Any, density: float, *, generator: torch.Generator,
              budget: Any) -> Mask | PostTrainingResult:
        pattern = pattern_of(density)  # read before validation, which gives a plain float
        d = validate_density(density)
        work = model.arch.build(trained_weights(model), torch.float64)
        params = network_parameters(work)
        names = list(work.prunable())
        biases = layer_biases(names, set(model.arch.bias_shapes())) if biases_prunable(budget) else {}
        if biases and pattern is not None:
            raise PrunerError(f"{self.name}: a {pattern.spec} pattern with prunable biases is not supported (the "
                              "pattern groups a layer's weights, not its bias)")
        sizes = {n: params[n].numel() + (params[n].shape[0] if n in biases else 0) for n in names}
        if pattern is None:
            counts = self.counts(work, data, d, sizes)
        else:  # the pattern fixes every layer's count (OWL's non-uniform layer densities do not apply)
            counts = {n: PatternCount(pattern, tuple(params[n].shape)) for n in names}
        mask: Mask = {}
        updated: dict[str, torch.Tensor] = {}
        for name in names:
            x = layer_inputs(work, data.x, self.name)[name] if self.needs_inputs else None
            w = weight_matrix(params[name].detach().clone())  # (out, in): conv kernels (out, C*kh*kw)
            bias = biases.get(name)
            if bias is not None:  # the bias as one more input column, whose input is 1 on every sample (position)
                w = torch.cat([w, params[bias].detach().clone()[:, None]], dim=1)
                x = None if x is None else torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype)], dim=1)
            keep, new = self.prune_layer(name, w, x, counts[name])
            if int(keep.sum()) != counts[name]:
                raise PrunerError(f"{self.name}: layer {name} kept {int(keep.sum())} weights, expected {counts[name]}")
            final = (w if new is None else new) * keep
            parts = [(name, keep, final)] if bias is None else [
                (name, keep[:, :-1], final[:, :-1]), (bias, keep[:, -1], final[:, -1])]
            for part, part_keep, part_final in parts:
                shape = params[part].shape
                mask[part] = part_keep.reshape(shape).contiguous()
                if new is not None:
                    updated[part] = part_final.reshape(shape).contiguous()
                with torch.no_grad():
                    params[part].copy_(part_final.reshape(shape))
        return PostTrainingResult(mask, updated) if updated else mask


def layer_biases(weights: list[str], bias_names: set[str]) -> dict[str, str]:
    """``{weight name: its layer's bias name}`` for the layers whose bias is a parameter (``layers.{l}.weight`` ->
    ``layers.{l}.bias``)."""
    out = {}
    for name in weights:
        bias = name[: -len(".weight")] + ".bias" if name.endswith(".weight") else ""
        if bias in bias_names:
            out[name] = bias
    return out
