"""A reference-style computation of the single-shot scores, written independently for the tests (not the reference
code): the structure of Tanaka et al.'s SynFlow code base that the paper's runs used. Every layer is a module with
``weight_mask`` and ``bias_mask`` buffers multiplying its parameters; the masked parameters are the weights and,
with ``prune_bias``, the biases; scores are ranked globally and a parameter is kept when its score is above the
k-th smallest, ``k = int((1 - density) * n)``; SynFlow takes the absolute value of *every* parameter (the biases
too) and feeds an all-ones input; the model runs in float32.

``python tests/prune/reference_style.py`` prints the mask overlap of plantseek's pruners with this computation on
Helix (depth 5, width 100), with and without prunable biases (Jaccard over the weights, then over weights and
biases).
"""

from __future__ import annotations

import torch
from torch import nn


class MaskedLinear(nn.Linear):
    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__(weight.shape[1], weight.shape[0])
        with torch.no_grad():
            self.weight.copy_(weight)
            self.bias.copy_(bias)
        self.register_buffer("weight_mask", torch.ones_like(self.weight))
        self.register_buffer("bias_mask", torch.ones_like(self.bias))

    def forward(self, x):
        return nn.functional.linear(x, self.weight * self.weight_mask, self.bias * self.bias_mask)


class MaskedMLP(nn.Module):
    def __init__(self, state: dict[str, torch.Tensor], n_layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(MaskedLinear(state[f"layers.{l}.weight"].float(), state[f"layers.{l}.bias"].float())
                                    for l in range(n_layers))

    def forward(self, x):
        for i, layer in enumerate(self.layers):
            x = layer(x)
            x = torch.relu(x) if i < len(self.layers) - 1 else x
        return x

    def masked_parameters(self, prune_bias: bool):
        for l, layer in enumerate(self.layers):
            yield f"layers.{l}.weight", layer.weight_mask, layer.weight
            if prune_bias:
                yield f"layers.{l}.bias", layer.bias_mask, layer.bias


def _magnitude(model, params, x, y, loss):
    return {n: p.detach().abs() for n, _, p in params}


def _snip(model, params, x, y, loss):
    for _, m, _ in params:
        m.requires_grad_(True)
    loss(model(x), y).backward()
    return {n: m.grad.detach().abs() for n, m, _ in params}


def _grasp(model, params, x, y, loss, temperature=200.0):
    ps = [p for _, _, p in params]
    stopped = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss(model(x) / temperature, y), ps)])
    grads = torch.autograd.grad(loss(model(x) / temperature, y), ps, create_graph=True)
    (stopped * torch.cat([g.reshape(-1) for g in grads])).sum().backward()
    return {n: (p.grad * p.data).detach() for n, _, p in params}


def _synflow(model, params, x, y, loss):
    with torch.no_grad():
        for p in model.state_dict().values():
            p.abs_()
    model(torch.ones(1, x.shape[1])).sum().backward()
    return {n: (p.grad * p).detach().abs() for n, _, p in params}


SCORES = {"magnitude": _magnitude, "snip": _snip, "grasp": _grasp, "synflow": _synflow}


def reference_mask(instance, pruner: str, density: float, x, y, prune_bias: bool) -> dict[str, torch.Tensor]:
    """The kept entries (``{name: bool tensor}``) of the masked parameters, reference style."""
    model = MaskedMLP(instance.initial_state, instance.arch.n_layers)
    params = list(model.masked_parameters(prune_bias))
    y = y.float() if y.is_floating_point() else y
    scores = SCORES[pruner](model, params, x.float(), y, instance.task.loss)
    flat = torch.cat([s.reshape(-1) for s in scores.values()])
    k = int((1.0 - density) * flat.numel())
    threshold = torch.kthvalue(flat, k).values
    return {n: s > threshold for n, s in scores.items()}


def overlap(ours: dict[str, torch.Tensor], reference: dict[str, torch.Tensor], weights_only: bool = False) -> float:
    """Jaccard overlap |ours ∩ reference| / |ours ∪ reference| of the kept entries (a parameter without a mask
    entry in ``ours`` is kept): over the weights only, or over weights and biases."""
    names = [n for n in reference if not (weights_only and n.endswith("bias"))]
    mine = {n: ours[n] if n in ours else torch.ones_like(reference[n]) for n in names}
    both = sum(int((mine[n] & reference[n]).sum()) for n in names)
    either = sum(int((mine[n] | reference[n]).sum()) for n in names)
    return both / either


def main() -> None:
    from plantseek import plant
    from plantseek.prune.contract import get_pruner
    from plantseek.prune.schedules import score_batch
    from plantseek.train.config import TrainConfig

    inst = plant("helix", depth=5, width=100, seed=0)
    for pruner in SCORES:
        for density in (0.01, 0.05, 0.1):
            row = [pruner, f"{density:g}"]
            for prune_bias in (False, True):
                data, seed = inst.pruner_data(), 7
                x, y = score_batch(data, torch.Generator().manual_seed(seed), 256)
                reference = reference_mask(inst, pruner, density, x, y, True)
                ours = get_pruner(pruner).prune(inst.host(), data, density, generator=torch.Generator().manual_seed(
                    seed), budget=TrainConfig(prunable_biases=prune_bias))
                row += [f"{overlap(ours, reference, weights_only=True):.3f}", f"{overlap(ours, reference):.3f}"]
            print(" | ".join(row))


if __name__ == "__main__":
    main()
