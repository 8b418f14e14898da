"""Planting a target ticket into a randomly initialised host, layer by layer, in float64.

For each target neuron (in a random order) with incoming target weights ``w`` on previous target neurons that
were placed at host neurons ``pi(i)`` with scales ``s_i``, and bias ``c``, the vector to plant is
``u = (w_i / s_i for nonzero w_i, c)``. Every unused host neuron ``h`` offers its current parameters
``p_h = (W[h, pi(i)], b[h])``; the best positive factor is ``lam = <p_h, u> / |u|^2`` (least squares); where that
is not positive, ``lam = |p_h| / |u|`` keeps the magnitudes (the fit is then poor and the neuron unlikely to
win). The host neuron with the smallest residual ``|p_h - lam u|^2`` wins (exact ties: a uniformly random one
from the generator), and only those parameters are overwritten with ``lam * u``; ``lam`` becomes the neuron's
scale. Since ``lam > 0`` and ReLU is positively homogeneous, the host restricted to the ticket computes
``scale * target(x)`` with one factor per output. Output neurons keep their order (output k is target output k).

Leak removal: a ticket neuron whose target bias is exactly zero gets an exactly zero host bias. In each hidden
layer, the same share of *non-ticket* neurons (chosen at random) get an exactly zero bias too, so that a zero
bias says nothing about ticket membership (P(zero bias | ticket) = P(zero bias | not ticket)).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plantseek.core.errors import ConfigError
from plantseek.nets.mlp import Architecture, Mask, bias_name, weight_name
from plantseek.planted.targets import TargetNetwork


@dataclass
class PlantedHost:
    state: dict[str, torch.Tensor]  # host parameters after planting, float64
    ticket: Mask  # True on the planted (nonzero target) weights
    scales: torch.Tensor  # per-output factor, float64: masked host(x) = scales * target(x)
    placement: list[torch.Tensor]  # per weight layer: host index of each target neuron of its output side
    neuron_scales: list[torch.Tensor]  # per weight layer: lam of each target neuron of its output side


def check_fits(target: TargetNetwork, arch: Architecture) -> None:
    tw, hw = target.widths, list(arch.widths)
    if len(tw) != len(hw):
        raise ConfigError(f"ticket has depth {len(tw)} but the host has depth {len(hw)}")
    if tw[0] != hw[0] or tw[-1] != hw[-1]:
        raise ConfigError(f"ticket maps {tw[0]}->{tw[-1]} but the host maps {hw[0]}->{hw[-1]}")
    widest = max(tw[1:-1], default=0)
    if any(t > h for t, h in zip(tw[1:-1], hw[1:-1])):
        raise ConfigError(f"width {min(hw[1:-1])} is narrower than the ticket's widest hidden layer ({widest} neurons)")


def plant_target(
    target: TargetNetwork, arch: Architecture, host: dict[str, torch.Tensor], generator: torch.Generator
) -> PlantedHost:
    """Plant ``target`` into (a copy of) the host parameters ``host``; randomness from ``generator``."""
    check_fits(target, arch)
    state = {k: v.clone().to(torch.float64) for k, v in host.items()}
    ticket: Mask = {}
    placement: list[torch.Tensor] = []
    neuron_scales: list[torch.Tensor] = []
    prev_idx = torch.arange(arch.widths[0])
    prev_scale = torch.ones(arch.widths[0], dtype=torch.float64)
    last = arch.n_layers - 1
    for l in range(arch.n_layers):
        W, b = state[weight_name(l)], state[bias_name(l)]
        T = torch.from_numpy(target.weights[l])
        c = torch.from_numpy(target.biases[l])
        n_target, n_host = T.shape[0], W.shape[0]
        used = torch.zeros(n_host, dtype=torch.bool)
        idx = torch.empty(n_target, dtype=torch.long)
        lam_all = torch.empty(n_target, dtype=torch.float64)
        mask = torch.zeros(W.shape, dtype=torch.bool)
        for j in torch.randperm(n_target, generator=generator).tolist():
            support = torch.nonzero(T[j]).flatten()
            cols = prev_idx[support]
            u = torch.cat([T[j, support] / prev_scale[support], c[j : j + 1]])
            P = torch.cat([W[:, cols], b[:, None]], dim=1)  # every host neuron's matching parameters
            inner, p2, u2 = P @ u, (P * P).sum(1), float(u @ u)
            if u2 == 0.0:  # a target neuron with no weights and zero bias: nothing to match
                lam = torch.ones(n_host, dtype=torch.float64)
                err = p2.clone()
            else:
                lam = torch.where(inner > 0, inner / u2, torch.sqrt(p2 / u2))
                lam = torch.where(lam > 0, lam, torch.ones_like(lam))
                err = p2 - 2 * lam * inner + lam * lam * u2
            if l == last:
                h = j
            else:
                err[used] = torch.inf
                perm = torch.randperm(n_host, generator=generator)
                h = int(perm[torch.argmin(err[perm])])
            used[h] = True
            W[h, cols] = lam[h] * u[:-1]
            b[h] = lam[h] * c[j]
            mask[h, cols] = True
            idx[j], lam_all[j] = h, lam[h]
        if l < last:
            hide_zero_biases(b, used, idx[c == 0], generator)
        ticket[weight_name(l)] = mask
        placement.append(idx)
        neuron_scales.append(lam_all)
        prev_idx, prev_scale = idx, lam_all
    return PlantedHost(state, ticket, lam_all.clone(), placement, neuron_scales)


def hide_zero_biases(b: torch.Tensor, ticket_neurons: torch.Tensor, zero_bias_ticket: torch.Tensor,
                     generator: torch.Generator) -> None:
    """Zero the biases of a random share of non-ticket neurons equal to the ticket's zero-bias share."""
    n_ticket = int(ticket_neurons.sum())
    if n_ticket == 0 or zero_bias_ticket.numel() == 0:
        return
    others = torch.nonzero(~ticket_neurons).flatten()
    n_zero = int(round(zero_bias_ticket.numel() / n_ticket * others.numel()))
    chosen = others[torch.randperm(others.numel(), generator=generator)[:n_zero]]
    b[chosen] = 0.0
