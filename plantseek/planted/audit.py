"""Leak audit of a planted instance: could the ticket be read off the host weights by a trivial statistic?

* per weight layer, the two-sample Kolmogorov-Smirnov statistic between |planted weights| and |other weights|
  (0 = same distribution, 1 = fully separated);
* per hidden layer, the bias mechanism (:mod:`plantseek.families.mlp.planting`): the share of exactly-zero host biases
  (expected 0: the host keeps the paper's initialisation), the ticket units whose bias the ticket prunes, the share of
  positive biases among ticket units (route (a) makes a few positive; other units: ~0.5), and the share of ticket
  neurons among zero-bias neurons next to their share of all neurons (equal = zero biases carry no information);
* :func:`zero_bias_detector_recall`: the recall of a mask that keeps the weights of zero-bias units first, at the
  ticket density, next to a random mask's expected recall (the density);
* per hidden layer (channels of a conv host), where the ticket neurons sit: mean and spread of their host index /
  (width - 1) (uniform placement: mean ~0.5, std ~0.29).
"""

from __future__ import annotations

import numpy as np
import torch

from plantseek.families.registry import family_hook
from plantseek.nets.interface import bias_name, weight_name
from plantseek.planted.instance import PlantedInstance


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic sup |F_a - F_b|."""
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    if a.size == 0 or b.size == 0:
        return float("nan")
    grid = np.concatenate([a, b])
    fa = np.searchsorted(a, grid, side="right") / a.size
    fb = np.searchsorted(b, grid, side="right") / b.size
    return float(np.max(np.abs(fa - fb)))


def audit(instance: PlantedInstance) -> dict:
    family_audit = family_hook(instance.task.family, "audit")  # e.g. per projection for attention hosts
    if family_audit is not None:
        return family_audit(instance)
    layers = []
    for l in range(instance.arch.n_layers):
        w = instance.initial_state[weight_name(l)].abs()
        m = instance.ticket[weight_name(l)]
        entry = {"layer": l, "ks_planted_vs_other": ks_statistic(w[m].numpy(), w[~m].numpy())}
        if l < instance.arch.n_layers - 1:
            b = instance.initial_state[bias_name(l)]
            width = b.numel()
            is_ticket = torch.zeros(width, dtype=torch.bool)
            idx = instance.placement[l]
            is_ticket[idx] = True
            zero = b == 0
            kept_bias = instance.ticket.get(bias_name(l), is_ticket)
            entry.update(
                zero_bias_neurons=int(zero.sum()),
                zero_bias_share=float(zero.double().mean()),
                pruned_bias_units=int((is_ticket & ~kept_bias).sum()),
                ticket_positive_bias_share=float((b[idx] > 0).double().mean()),
                ticket_share_of_zero_bias=float(is_ticket[zero].double().mean()) if zero.any() else None,
                ticket_share_of_neurons=float(is_ticket.double().mean()),
                placement_mean=float(idx.double().mean() / max(1, width - 1)),
                placement_std=float(idx.double().std(unbiased=False) / max(1, width - 1)) if idx.numel() > 1 else 0.0,
            )
        layers.append(entry)
    ks = [e["ks_planted_vs_other"] for e in layers if not np.isnan(e["ks_planted_vs_other"])]
    return {"max_ks": max(ks) if ks else None, "layers": layers,
            "zero_bias_detector_recall": zero_bias_detector_recall(instance),
            "random_mask_recall": instance.ticket_density}


def zero_bias_detector_recall(instance: PlantedInstance, seed: int = 0) -> float:
    """Recall of the ticket's weights by the zero-bias leak detector at the ticket density: weights into or out of
    a hidden unit with an exactly zero bias are kept first, the rest of the budget at random (seeded); a random
    mask's expected recall is the density."""
    arch, generator = instance.arch, torch.Generator().manual_seed(seed)
    scores, ticket = [], []
    for l in range(arch.n_layers):
        w = instance.initial_state[weight_name(l)]
        score = torch.rand(w.shape, generator=generator, dtype=torch.float64)
        kernel = (None,) * (w.dim() - 2)  # a convolution's kernel axes (none for a matrix)
        if l < arch.n_layers - 1:
            score += (instance.initial_state[bias_name(l)] == 0).double()[(slice(None), None, *kernel)]
        if l > 0:
            score += (instance.initial_state[bias_name(l - 1)] == 0).double()[(None, slice(None), *kernel)]
        scores.append(score.flatten())
        ticket.append(instance.ticket[weight_name(l)].flatten())
    all_scores, all_ticket = torch.cat(scores), torch.cat(ticket)
    kept = torch.topk(all_scores, instance.ticket_weights).indices
    return float(all_ticket[kept].double().sum() / all_ticket.sum())
