"""Planting a target ticket into a randomly initialised MLP host, layer by layer, in float64.

:func:`plant_target` plants each layer with the matching of :func:`plantseek.planted.matching.plant_layer`: each
target neuron gets a positive factor (by default host-matched, :mod:`plantseek.planted.factors`: its planted values
take the host layer's magnitudes; ``TargetNetwork.factors = "least-squares"``: the paper's fit to each candidate) and
goes to the unused host neuron closest to that multiple of it; the factor becomes its scale, so the host restricted
to the ticket computes ``scale * target(x)`` with one factor per output. Zero target
biases are not planted as zeros (a leak): route (a) gives provably active units a non-zero bias that the next layer
absorbs, route (b) lets the ticket's bias mask prune the rest, so the ticket carries a bias entry per layer.
:func:`check_same_function` checks the planted target against the task's to ``SAME_FUNCTION_TOL``. The derivation
(routes (a) and (b), ``always_active`` units) is in ``docs/design/families.md``.
"""

from __future__ import annotations

import numpy as np
import torch

from plantseek.core.errors import ConfigError
from plantseek.families.mlp.network import Architecture, Mask, bias_name, weight_name
from plantseek.planted.factors import FactorLayer, draw_layer, solve_factors
from plantseek.planted.matching import PlantedHost, plant_layer, ticket_matrix
from plantseek.planted.targets import TargetNetwork, preactivation_lower_bounds, shift_bias

#: inputs up to which check_same_function adds the 3^d corners of {-1, 0, 1}^d (a user's target may have many)
MAX_CORNER_DIM = 6
#: the planted target must compute the task's target to this relative precision
SAME_FUNCTION_TOL = 1e-12


def check_fits(target: TargetNetwork, arch: Architecture) -> None:
    tw, hw = target.widths, list(arch.widths)
    if len(tw) != len(hw):
        raise ConfigError(f"ticket has depth {len(tw)} but the host has depth {len(hw)}")
    if tw[0] != hw[0] or tw[-1] != hw[-1]:
        raise ConfigError(f"ticket maps {tw[0]}->{tw[-1]} but the host maps {hw[0]}->{hw[-1]}")
    widest = max(tw[1:-1], default=0)
    if any(t > h for t, h in zip(tw[1:-1], hw[1:-1])):
        raise ConfigError(f"width {min(hw[1:-1])} is narrower than the ticket's widest hidden layer ({widest} neurons)")


def shiftable_units(target: TargetNetwork) -> list[np.ndarray]:
    """Per layer, the lower bound of the pre-activation of each hidden unit of route (a) (zero target bias and a
    pre-activation >= 0 on the whole domain, or flagged ``always_active`` by the target: floor 0 where the interval
    bound is looser), NaN elsewhere."""
    bounds = preactivation_lower_bounds(target)
    last = len(target.weights) - 1
    floors = [np.where((b == 0) & (lo >= 0) & (l < last), lo, np.nan)
              for l, (b, lo) in enumerate(zip(target.biases, bounds))]
    for l, flags in enumerate(target.always_active or []):
        if l < last:  # proved active by the constructor: no slack below its own bias where the bounds are loose
            floors[l] = np.where(flags, np.maximum(bounds[l], 0.0), floors[l])
    return floors


def plant_target(
    target: TargetNetwork, arch: Architecture, host: dict[str, torch.Tensor], generator: torch.Generator
) -> PlantedHost:
    """Plant ``target`` into (a copy of) the host parameters ``host``; randomness from ``generator``."""
    check_fits(target, arch)
    planted = target.copy()
    shiftable = shiftable_units(target)
    state = {k: v.clone().to(torch.float64) for k, v in host.items()}
    ticket: Mask = {}
    placement: list[torch.Tensor] = []
    neuron_scales: list[torch.Tensor] = []
    prev_idx = torch.arange(arch.widths[0])
    prev_scale = torch.ones(arch.widths[0], dtype=torch.float64)
    last = arch.n_layers - 1
    flagged = target.always_active or [np.zeros(b.shape, dtype=bool) for b in target.biases]
    matched = target.factors == "host-matched"
    draws = [draw_layer(lay, state[weight_name(l)], state[bias_name(l)], generator)
             for l, lay in enumerate(factor_layers(planted, shiftable, arch.widths[1:]))] if matched else []
    for l in range(arch.n_layers):
        W, b = state[weight_name(l)], state[bias_name(l)]
        factors = None
        if matched:  # re-solved per layer: route (a) shifts of the layer before change this layer's biases
            layers = factor_layers(planted, shiftable, arch.widths[1:])
            factors = torch.from_numpy(solve_factors(layers, draws, [f.numpy() for f in neuron_scales])[l])
        layer = plant_layer(planted.weights[l], planted.biases[l], W, b, prev_idx, prev_scale,
                            (shiftable[l], flagged[l]), generator, l == last, factors)
        for unit, beta in layer.shifts.items():
            shift_bias(planted, l, unit, beta)
        mask = ticket_matrix(planted.weights[l], layer.idx, prev_idx, W.shape)
        bias_mask = torch.zeros(arch.widths[l + 1], dtype=torch.bool)
        bias_mask[layer.idx[layer.keeps_bias]] = True
        ticket[weight_name(l)], ticket[bias_name(l)] = mask, bias_mask
        placement.append(layer.idx)
        neuron_scales.append(layer.lam)
        prev_idx, prev_scale = layer.idx, layer.lam
    check_same_function(target, planted)
    return PlantedHost(state, ticket, prev_scale.clone(), placement, neuron_scales, planted)


def factor_layers(target: TargetNetwork, shiftable: list[np.ndarray], host_widths) -> list[FactorLayer]:
    """The target's layers as :func:`plantseek.planted.factors.solve_factors` sees them: column ``i`` of layer ``l``
    comes from unit ``i`` of layer ``l - 1`` (the first layer's from the inputs, factor 1); a bias counts where it is
    planted (not where its unit takes route (a), the host's own bias, or (b), zero: pruned by the ticket) and tells
    ticket units from others (not in a layer whose every host unit is a ticket unit, e.g. the outputs)."""
    out = []
    for l, (w, c) in enumerate(zip(target.weights, target.biases)):
        units = np.arange(w.shape[1]) if l else np.full(w.shape[1], -1)
        telling = w.shape[0] < host_widths[l]
        out.append(FactorLayer(w, units, c, np.isnan(shiftable[l]) & (c != 0) & telling, not telling))
    return out


def check_same_function(target: TargetNetwork, planted: TargetNetwork, n: int = 4096) -> float:
    """The largest deviation of ``planted`` from ``target`` on ``n`` fixed points of the input domain (a seeded
    uniform sample plus the corners of ``{-1, 0, 1}^d`` for ``d <= MAX_CORNER_DIM``), relative to the largest
    magnitude involved (outputs and planted biases: the shifts of route (a) cancel in float64 to about 1e-16 of
    their size). Raises RuntimeError above SAME_FUNCTION_TOL."""
    d = target.widths[0]
    x = np.random.default_rng(0).uniform(-1.0, 1.0, size=(n, d))
    if d <= MAX_CORNER_DIM:
        corners = np.array(np.meshgrid(*[[-1.0, 0.0, 1.0]] * d)).reshape(d, -1).T
        x = np.concatenate([x, corners])
    a, b = target(x), planted(x)
    size = max(1.0, float(np.max(np.abs(a))), *(float(np.max(np.abs(c))) for c in planted.biases))
    deviation = float(np.max(np.abs(a - b))) / size
    if deviation > SAME_FUNCTION_TOL:
        raise RuntimeError(f"planting changed the target's function (relative deviation {deviation:.2g})")
    return deviation
