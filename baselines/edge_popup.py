"""Edge-popup (Ramanujan et al. 2020): strong tickets from learned scores on frozen weights and biases.

Every weight and every bias of the host gets a score; the forward pass uses the host's *frozen initial*
parameters restricted to the top-|score| entries of each layer, and the scores learn through a straight-through
gradient (the top-k step is treated as the identity on |score|). The weights and biases are never changed.

* Per layer (local) selection: exactly ``layer_counts(density, sizes)`` weights per layer (the exact total
  ``kept_count(density)``), and for the biases the top fraction ``density`` of each layer, at least one
  (``kept_count(density, n_out)``). The returned mask has an entry ``layers.{l}.bias`` per layer; density counts
  weights only. Final masks are chosen with :func:`plantseek.prune.masks.select_top` (ties by position); during
  training ``torch.topk`` picks the same sets up to exact ties of scores.
* Training: SGD momentum 0.9, weight decay 5e-4 (on the scores), lr 0.1 with a per-epoch cosine schedule,
  batch 32, ``budget.epochs`` epochs (10 by default). Scores start ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (the
  Kaiming-uniform initialisation of the original code), drawn from the pruner's generator.
* Objective: the task loss (cross-entropy or MSE) of the masked host's **raw outputs**, with no softmax or other
  readout. (The harness evaluates the mask on the host's initial weights with the scale-corrected readout of
  :mod:`plantseek.score.evaluation`; the planted output scales are not known to a pruner.)
* ``edge-popup-annealed`` keeps density**(i/E) in epoch i = 1..E and ends at the requested density.

:meth:`EdgePopup.prune_batch` trains the score sets of several densities of one instance together (one stacked
forward pass per step; each density keeps its own generator for the initial scores and the data order);
:meth:`EdgePopup.prune` is ``prune_batch`` with one density. ``history[k]`` lists, for the k-th density of the last
call, the per-layer kept counts (weights and biases) of the mask in force at the end of each epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar, Sequence

import torch

from plantseek.core.errors import ConfigError
from plantseek.prune.masks import Mask, kept_count, layer_counts, select_top, validate_density
from plantseek.nets.mlp import bias_name, weight_name
from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import derive_generator, model_device, model_dtype
from plantseek.train.loop import TrainConfig, batches, epoch_lr, make_optimizer


def epoch_densities(density: float, epochs: int, anneal: bool) -> list[float]:
    """The density in force in each epoch: ``density**(i/E)`` in epoch i = 1..E when annealing, else
    ``density`` throughout (the last epoch always uses ``density`` itself)."""
    if not anneal:
        return [density] * epochs
    return [density if i == epochs else density ** (i / epochs) for i in range(1, epochs + 1)]


def _top_mask(scores: torch.Tensor, k: int) -> torch.Tensor:
    """0/1 mask (in ``scores``' dtype) of the ``k`` largest entries of a 1-D tensor."""
    m = torch.zeros_like(scores)
    if k >= scores.numel():
        return m.fill_(1)
    m[torch.topk(scores, k, sorted=False).indices] = 1
    return m


@dataclass
class EdgePopup:
    """Edge-popup: learned scores, straight-through top-k per layer, frozen weights and biases."""

    name: str = "edge-popup"
    description: str = "learned scores on frozen weights and biases, top-k per layer (straight-through)"
    anneal: bool = False
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    batch_size: int = 32
    protocol: ClassVar[str] = "strong"
    history: list[list[dict[str, int]]] = field(default_factory=list, init=False, repr=False, compare=False)

    def train_config(self, budget) -> TrainConfig:
        return TrainConfig(epochs=budget.epochs, batch_size=self.batch_size, lr=self.lr, optimizer="sgd",
                           momentum=self.momentum, weight_decay=self.weight_decay, schedule="cosine")

    def prune(self, model, data, density: float, *, generator: torch.Generator, budget) -> Mask:
        return self.prune_batch(model, data, [density], generators=[generator], budget=budget)[0]

    def prune_batch(self, model, data, densities: Sequence[float], *, generators: Sequence[torch.Generator],
                    budget) -> list[Mask]:
        ds = [validate_density(d) for d in densities]
        if len(generators) != len(ds):
            raise ConfigError(f"prune_batch needs one generator per density ({len(ds)}), got {len(generators)}")
        config = self.train_config(budget)
        dtype, device = model_dtype(model), model_device(model)
        n_layers = len(model.layers)
        weights = [layer.weight.detach() for layer in model.layers]
        biases = [layer.bias.detach() for layer in model.layers]
        sizes = {weight_name(l): w.numel() for l, w in enumerate(weights)}

        # initial scores and data order, per density from its own generator
        init_gens = [derive_generator(g) for g in generators]
        order_gens = [derive_generator(g) for g in generators]
        per_net = []
        for g in init_gens:
            layers = []
            for w in weights:
                bound = 1.0 / math.sqrt(w.shape[1])
                sw = (torch.rand(w.shape, generator=g, dtype=torch.float64) * 2 - 1) * bound
                sb = (torch.rand(w.shape[0], generator=g, dtype=torch.float64) * 2 - 1) * bound
                layers.append((sw, sb))
            per_net.append(layers)
        sw = [torch.stack([net[l][0] for net in per_net]).to(device, dtype).requires_grad_(True)
              for l in range(n_layers)]
        sb = [torch.stack([net[l][1] for net in per_net]).to(device, dtype).requires_grad_(True)
              for l in range(n_layers)]
        optimizer = make_optimizer(sw + sb, config)

        x = data.x.to(device=device, dtype=dtype)
        y = data.y.to(device=device, dtype=dtype) if data.y.is_floating_point() else data.y.to(device)
        schedule = [epoch_densities(d, config.epochs, self.anneal) for d in ds]
        self.history = [[] for _ in ds]
        for epoch in range(config.epochs):
            for group in optimizer.param_groups:
                group["lr"] = epoch_lr(config, epoch)
            dens = [s[epoch] for s in schedule]
            w_counts = [list(layer_counts(d, sizes).values()) for d in dens]
            b_counts = [[kept_count(d, b.numel()) for b in biases] for d in dens]
            for idxs in zip(*(batches(x.shape[0], config.batch_size, g) for g in order_gens)):
                idx = torch.stack(idxs).to(device)
                out = self._forward(x[idx], weights, biases, sw, sb, w_counts, b_counts)
                loss = sum(data.loss(out[k], y[idx[k]]) for k in range(len(ds)))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
            for k in range(len(ds)):
                counts = {}
                for l in range(n_layers):
                    counts[weight_name(l)] = int(_top_mask(sw[l][k].detach().abs().reshape(-1), w_counts[k][l]).sum())
                    counts[bias_name(l)] = int(_top_mask(sb[l][k].detach().abs(), b_counts[k][l]).sum())
                self.history[k].append(counts)

        masks = []
        for k, d in enumerate(ds):
            scores_w = {weight_name(l): sw[l][k].detach().abs().cpu() for l in range(n_layers)}
            mask = select_top(scores_w, d, scope="local")
            for l in range(n_layers):
                mask.update({bias_name(l): select_top({"b": sb[l][k].detach().abs().cpu()}, d)["b"]})
            masks.append(mask)
        return masks

    @staticmethod
    def _forward(x, weights, biases, sw, sb, w_counts, b_counts):
        """Stacked forward of K score sets: ``x`` is (K, B, in); returns (K, B, out)."""
        K = x.shape[0]
        h = x
        last = len(weights) - 1
        for l, (w, b) in enumerate(zip(weights, biases)):
            aw, ab = sw[l].abs(), sb[l].abs()
            mw = torch.stack([_top_mask(aw[k].detach().reshape(-1), w_counts[k][l]) for k in range(K)])
            mb = torch.stack([_top_mask(ab[k].detach(), b_counts[k][l]) for k in range(K)])
            # straight-through: forward uses the 0/1 mask, backward treats top-k as the identity on |score|
            mw = mw.reshape(aw.shape) + aw - aw.detach()
            mb = mb + ab - ab.detach()
            h = torch.baddbmm((b * mb).unsqueeze(1), h, (w * mw).transpose(1, 2))
            if l < last:
                h = torch.relu(h)
        return h


PRUNERS.register("edge-popup")(declared(EdgePopup, tags={"paper"}, rank=0))


@PRUNERS.register("edge-popup-annealed")
@declared(tags={"paper"}, rank=1)
def _edge_popup_annealed() -> EdgePopup:
    return EdgePopup(name="edge-popup-annealed", anneal=True,
                     description="edge-popup keeping density**(i/E) in epoch i, ending at the requested density")
