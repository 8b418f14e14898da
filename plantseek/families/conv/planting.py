"""Planting a sparse convolutional target into a convolutional host (:mod:`plantseek.families.conv.network`), in
float64.

A :class:`ConvTarget` is a small network of the host's own geometry (fewer channels per layer) whose nonzero kernel
and head entries are the ticket. Planting runs layer by layer with the matching of
:func:`plantseek.planted.matching.plant_layer`: a target output channel (its kernel entries on the matched input
channels, and its bias) goes to the unused host channel that matches it best up to a positive factor, which
positively homogeneous ReLU and pooling carry into the head, so the masked host computes ``scale * target(x)``.
Factors follow a rule of :data:`FACTOR_RULES` (``"host-matched"``, the default: :mod:`plantseek.planted.factors`, or
the paper's ``"least-squares"``). Zero target biases are pruned by the ticket (route (b)).
Details: ``docs/design/families.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
import numpy as np
import torch

from plantseek.core.errors import ConfigError
from plantseek.families.conv.network import ConvArchitecture
from plantseek.nets.interface import bias_name, weight_name
from plantseek.nets.interface import Params
from plantseek.planted.factors import FACTOR_RULES, FactorLayer, draw_layer, solve_factors
from plantseek.planted.matching import PlantedHost, plant_layer, ticket_matrix


@dataclass
class ConvTarget:
    """A sparse convolutional target: ``arch`` (its channels, the host's geometry) and float64 ``params``."""

    arch: ConvArchitecture
    params: Params
    description: str = ""
    notes: dict = field(default_factory=dict)
    n_dropped_weights: int = 0  # no numerically-zero entries are produced by the hand-made constructions
    factors: str = "host-matched"  # a rule of FACTOR_RULES: how planting chooses each channel's factor

    def __post_init__(self) -> None:
        if self.factors not in FACTOR_RULES:
            raise ConfigError(f"factors must be one of {', '.join(FACTOR_RULES)}, got {self.factors!r}")
        shapes = self.arch.parameter_shapes()
        if set(self.params) != set(shapes):
            raise ConfigError(f"conv target parameters {sorted(self.params)} do not match {sorted(shapes)}")
        for name, shape in shapes.items():
            p = torch.as_tensor(self.params[name], dtype=torch.float64)
            if tuple(p.shape) != shape:
                raise ConfigError(f"conv target {name} has shape {tuple(p.shape)}, expected {shape}")
            if not bool(torch.isfinite(p).all()):
                raise ConfigError(f"conv target {name} has non-finite entries")
            self.params[name] = p.clone()

    @property
    def widths(self) -> list[int]:
        return list(self.arch.widths)

    @property
    def depth(self) -> int:
        return self.arch.depth

    @property
    def weights(self) -> list[np.ndarray]:
        return [self.params[n].numpy() for n in self.arch.weight_names()]

    @property
    def biases(self) -> list[np.ndarray]:
        return [self.params[n].numpy() for n in self.arch.bias_shapes()]

    def n_weights_per_layer(self) -> list[int]:
        return [int(np.count_nonzero(w)) for w in self.weights]

    @property
    def n_weights(self) -> int:
        return sum(self.n_weights_per_layer())

    def __call__(self, x) -> np.ndarray:
        """Outputs (numpy float64) for inputs ``(b, C, H, W)`` (numpy or torch)."""
        with torch.no_grad():
            return self.arch.forward(self.params, torch.as_tensor(x, dtype=torch.float64)).numpy()


def check_conv_fits(target: ConvTarget, arch: ConvArchitecture) -> None:
    """One-line errors where ``target`` cannot be planted into ``arch``."""
    t = target.arch
    if len(t.convs) != len(arch.convs):
        raise ConfigError(f"ticket has depth {t.depth} but the host has depth {arch.depth}")
    same = ((t.in_channels, t.image_size, t.out_features, t.pooling)
            == (arch.in_channels, arch.image_size, arch.out_features, arch.pooling))
    geometry = [(c.kernel, c.stride, c.padding, c.pool) for c in t.convs]
    if not same or geometry != [(c.kernel, c.stride, c.padding, c.pool) for c in arch.convs]:
        raise ConfigError("ticket and host differ in input, output, kernels, strides, paddings or pooling")
    narrow = [l for l, (a, b) in enumerate(zip(t.convs, arch.convs)) if a.channels > b.channels]
    if narrow:
        raise ConfigError(f"host conv layer {narrow[0]} has {arch.convs[narrow[0]].channels} channels, fewer than "
                          f"the ticket's {t.convs[narrow[0]].channels}")


def plant_conv_target(target: ConvTarget, arch: ConvArchitecture, host: Params,
                      generator: torch.Generator) -> PlantedHost:
    """Plant ``target`` into (a copy of) the host parameters ``host``; randomness from ``generator``."""
    check_conv_fits(target, arch)
    state = {k: v.clone().to(torch.float64).contiguous() for k, v in host.items()}
    ticket: Params = {}
    placement: list[torch.Tensor] = []
    neuron_scales: list[torch.Tensor] = []
    prev_idx = torch.arange(arch.in_channels)
    prev_scale = torch.ones(arch.in_channels, dtype=torch.float64)
    layers = _factor_layers(target, arch)
    matched = target.factors == "host-matched"
    draws = [draw_layer(lay, state[weight_name(l)], state[bias_name(l)], generator)
             for l, lay in enumerate(layers)] if matched else []
    for l in range(arch.n_layers):
        W, b = state[weight_name(l)], state[bias_name(l)]
        spatial = math.prod(W.shape[2:])  # kernel entries (the head: positions of the last feature map)
        col_map = (prev_idx[:, None] * spatial + torch.arange(spatial)).flatten()
        col_scale = prev_scale.repeat_interleave(spatial)
        T, c = layers[l].T, layers[l].c
        matrix = W.view(W.shape[0], -1)
        no_floors = (np.full(T.shape[0], np.nan), np.zeros(T.shape[0], dtype=bool))  # no route (a) units here
        factors = None
        if matched:
            factors = torch.from_numpy(solve_factors(layers, draws, [f.numpy() for f in neuron_scales])[l])
        layer = plant_layer(T, c, matrix, b, col_map, col_scale, no_floors, generator,
                            l == arch.n_layers - 1, factors)
        ticket[weight_name(l)] = ticket_matrix(T, layer.idx, col_map, matrix.shape).view(W.shape)
        kept_bias = torch.zeros(b.shape[0], dtype=torch.bool)
        kept_bias[layer.idx[layer.keeps_bias]] = True
        ticket[bias_name(l)] = kept_bias
        placement.append(layer.idx)
        neuron_scales.append(layer.lam)
        prev_idx, prev_scale = layer.idx, layer.lam
    return PlantedHost(state, ticket, prev_scale.clone(), placement, neuron_scales, target)


def _factor_layers(target: ConvTarget, arch: ConvArchitecture) -> list[FactorLayer]:
    """The target's layers as :func:`plantseek.planted.factors.solve_factors` sees them: a channel's kernel entries
    (the head: its positions) are columns of the input channel's unit; the first layer reads the image (factor 1); a
    nonzero bias counts unless every host unit of its layer is a ticket unit (the head)."""
    out = []
    for l, name in enumerate(target.arch.weight_names()):
        w = target.params[name]
        T = w.numpy().reshape(w.shape[0], -1)
        spatial = math.prod(w.shape[2:])
        units = np.repeat(np.arange(w.shape[1]), spatial) if l else np.full(T.shape[1], -1)
        c = target.params[bias_name(l)].numpy()
        full = T.shape[0] == arch.widths[l + 1]
        out.append(FactorLayer(T, units, c, (c != 0) & ~full, full))
    return out
