"""Layer pruning at initialisation: the lottery-ticket hypothesis seen through removing whole layers (after
"The Lottery Ticket Hypothesis through the lens of layer pruning" / "winning tickets when the pruning process
removes layers"): choose at initialisation which whole hidden layers to give up, then spend the weight budget on
the others.

What removing a layer means here: a residual-free MLP cannot drop a hidden layer (its input and output widths
differ, and nothing routes around it), so a removed layer is **collapsed** to a bottleneck of ``bottleneck`` units
(default ``2 x in_features``, the narrowest ReLU layer that can pass the network's input through unchanged,
``x = relu(x) - relu(-x)``): every weight (and prunable bias) into or out of its other units is pruned. Hosts with a
residual stream could skip a block instead; this pruner applies to the MLP hosts only (a chain of fully connected
layers) and fails with one line on any other host (the conv hosts' channel stacks have no identity path either,
the attention host's blocks sit on a residual stream: removing a block there is a different rule, not built).

Rule (``layer-pruning``): score every weight by SNIP's connection sensitivity ``|g ⊙ w|`` at initialisation (one
prune batch of 256 training samples, :func:`plantseek.baselines.snip.loss_gradient`); a hidden layer's score is the
mean sensitivity of its incoming weights; collapse the hidden layers of lowest score first, at most
``floor(H x (1 - density))`` of the ``H`` hidden layers and never all of them, and only while the weights left
available still hold ``kept_count(density)``; a collapsed layer keeps its ``bottleneck`` units of largest summed
sensitivity (incoming and outgoing). Then keep the ``kept_count(density)`` most sensitive available weights
(global :func:`plantseek.nets.masks.select_top`). ``collapsed[k]`` lists the collapsed hidden layers (1-based: hidden
layer ``h`` is the output of weight ``h - 1``) for the k-th density of the last call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Sequence

import torch

from plantseek.baselines.snip import loss_gradient
from plantseek.core.errors import PrunerError
from plantseek.families.mlp.network import Architecture
from plantseek.nets.interface import bias_name, weight_name
from plantseek.nets.masks import Mask, kept_count, mask_count, select_top
from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import BatchPruner, check_generators, full_mask, score_batch


def layer_plan(sensitivity: dict[str, torch.Tensor], widths: Sequence[int], density: float, bottleneck: int,
               n_prunable: int) -> tuple[list[int], Mask]:
    """``(collapsed hidden layers, available weights and biases)`` of the rule in the module docstring, from the
    per-entry sensitivities (weights ``layers.{l}.weight``, and biases when they are prunable)."""
    hidden = len(widths) - 2
    allowed = {n: torch.ones(s.shape, dtype=torch.bool) for n, s in sensitivity.items()}
    k = kept_count(density, n_prunable)
    layer_score = [float(sensitivity[weight_name(h - 1)].double().mean()) for h in range(1, hidden + 1)]
    order = sorted(range(1, hidden + 1), key=lambda h: (layer_score[h - 1], h))
    collapsed: list[int] = []
    for h in order[: min(hidden - 1, math.floor(hidden * (1 - density)))]:
        w_in, w_out = sensitivity[weight_name(h - 1)].double(), sensitivity[weight_name(h)].double()
        unit = w_in.sum(dim=1) + w_out.sum(dim=0)
        keep = torch.zeros(widths[h], dtype=torch.bool)
        keep[torch.sort(unit, descending=True, stable=True).indices[: min(bottleneck, widths[h])]] = True
        trial = dict(allowed)
        trial[weight_name(h - 1)] = allowed[weight_name(h - 1)] & keep[:, None]
        trial[weight_name(h)] = allowed[weight_name(h)] & keep[None, :]
        if bias_name(h - 1) in trial:
            trial[bias_name(h - 1)] = allowed[bias_name(h - 1)] & keep
        if mask_count(trial) < k:
            break
        allowed = trial
        collapsed.append(h)
    return sorted(collapsed), allowed


@dataclass
class LayerPruning(BatchPruner):
    name: str = "layer-pruning"
    description: str = ("at initialisation, collapse the hidden layers of lowest SNIP sensitivity to a 2 x input "
                        "bottleneck (up to floor(H(1-density)) of H), then keep the most sensitive available weights")
    bottleneck: int = 0  # 0: 2 x the network's input width
    batch_size: int = 256
    protocol: ClassVar[str] = "single-shot"
    collapsed: list[list[int]] = field(default_factory=list, init=False, repr=False, compare=False)

    def prune_batch(self, model, data, densities: Sequence[float], *, generators: Sequence[torch.Generator],
                    budget) -> list[Mask]:
        ds = check_generators(densities, generators)
        arch = model.arch
        if not isinstance(arch, Architecture):
            raise PrunerError(f"{self.name} applies to the MLP hosts only (a chain of fully connected layers), not to "
                              f"a {type(arch).__name__}")
        width = self.bottleneck or 2 * arch.widths[0]
        self.collapsed = [[] for _ in ds]
        masks = []
        for k, (d, g) in enumerate(zip(ds, generators)):
            if d == 1.0:
                masks.append(full_mask(model, budget))
                continue
            x, y = score_batch(data, g, self.batch_size)
            state, grads = loss_gradient(model, data, x, y, budget=budget)
            sensitivity = {n: (grads[n] * state[n].detach()).abs().cpu() for n in grads}
            n_total = sum(s.numel() for s in sensitivity.values())
            self.collapsed[k], allowed = layer_plan(sensitivity, arch.widths, d, width, n_total)
            masks.append(select_top(sensitivity, d, allowed=allowed))
        return masks


PRUNERS.register("layer-pruning")(declared(LayerPruning, tags={"ticket-literature", "mlp-only"}, rank=24))
