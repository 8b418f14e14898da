"""Plant your own ticket: :func:`plant_network` hides any sparse ReLU network in a random host of the same depth.

The target is a ``torch.nn.Sequential`` of supported layers, or an already built :class:`TargetNetwork` /
:class:`ConvTarget`; its nonzero weights define the ticket:

* an MLP: ``Linear`` layers with ``ReLU`` between them (none after the last);
* a CNN: blocks ``Conv2d, ReLU[, MaxPool2d | AvgPool2d]`` (square kernels, no dilation, one group, pooling with
  ``stride == kernel_size`` and no padding, one pooling kind), then ``Flatten`` and one ``Linear``.

The host is an :class:`plantseek.families.mlp.network.Architecture` (widths from input to output) or a
:class:`plantseek.families.conv.network.ConvArchitecture`
with the target's depth, inputs, outputs and geometry and at least its
widths. Planting is the same as for the hand-made tasks (:mod:`plantseek.families.mlp.planting`,
:mod:`plantseek.families.conv.planting`). The instance's task is a regression onto the target's own outputs
(``network``: inputs uniform on ``[-1, 1]``, labels ``target(x)`` plus Gaussian ``noise``, default 0), so the planted
ticket's scale-correct strong metric equals the target's. Such an instance lives in memory: its task is not in the
registry, so it cannot be saved and re-loaded by name.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from plantseek.core import seeding
from plantseek.core.errors import ConfigError
from plantseek.families.conv.network import ConvArchitecture, ConvLayer
from plantseek.families.mlp.network import Architecture, bias_name, weight_name
from plantseek.families.conv.planting import ConvTarget, check_conv_fits, plant_conv_target
from plantseek.planted.instance import InstanceSpec, PlantedInstance
from plantseek.families.mlp.planting import check_fits, plant_target
from plantseek.planted.targets import TargetNetwork
from plantseek.planted.task import DataConfig, Split, Task

POOLS = {nn.MaxPool2d: "max", nn.AvgPool2d: "avg"}


class NetworkTask(Task):
    """Regression onto a planted target's own outputs (see the module docstring)."""

    name = "network"
    kind = "regression"
    min_depth = 2

    def __init__(self, target: TargetNetwork | ConvTarget, input_shape: tuple[int, ...], noise: float = 0.0) -> None:
        super().__init__(noise=noise)
        self._target, self.input_shape = target, input_shape
        self.family = "conv" if isinstance(target, ConvTarget) else "MLP"
        self.in_features, self.out_features = input_shape[0], target.widths[-1]

    def target(self, depth: int) -> TargetNetwork | ConvTarget:
        return self._target

    def sample(self, n: int, generator: torch.Generator) -> Split:
        x = torch.rand(n, *self.input_shape, generator=generator, dtype=torch.float64) * 2.0 - 1.0
        y = torch.from_numpy(np.asarray(self._target(x.numpy()), dtype=np.float64))
        return Split(x, y + self.options.noise * torch.randn(y.shape, generator=generator, dtype=torch.float64))


def mlp_target(model: nn.Sequential) -> TargetNetwork:
    """The :class:`TargetNetwork` of a ``Linear, ReLU, ..., Linear`` sequence."""
    layers = list(model)
    _check_layers(layers, (nn.Linear, nn.ReLU))
    linears = [m for m in layers if isinstance(m, nn.Linear)]
    expected = [t for m in linears for t in (nn.Linear, nn.ReLU)][:-1]
    if [type(m) for m in layers] != expected:
        raise ConfigError("an MLP target must alternate Linear and ReLU, starting and ending with Linear")
    weights = [_array(m.weight) for m in linears]
    biases = [_array(m.bias) if m.bias is not None else np.zeros(m.out_features) for m in linears]
    return TargetNetwork(weights, biases, description="a user's MLP target")


def conv_target(model: nn.Sequential, image_size: int) -> ConvTarget:
    """The :class:`ConvTarget` of ``Conv2d, ReLU[, pool]`` blocks, ``Flatten`` and one ``Linear`` (square images)."""
    layers = list(model)
    _check_layers(layers, (nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.Flatten, nn.Linear))
    if len(layers) < 4 or not isinstance(layers[-1], nn.Linear) or not isinstance(layers[-2], nn.Flatten):
        raise ConfigError("a CNN target must end with Flatten and Linear")
    convs, kinds, params, i = [], set(), {}, 0
    while i < len(layers) - 2:
        conv, relu = layers[i], layers[i + 1] if i + 1 < len(layers) else None
        if not isinstance(conv, nn.Conv2d) or not isinstance(relu, nn.ReLU):
            raise ConfigError(f"layer {i} of the CNN target: expected a Conv2d followed by ReLU")
        pool, i = 1, i + 2
        if type(layers[i]) in POOLS:
            pool, i = _pool_size(layers[i]), i + 1
            kinds.add(POOLS[type(layers[i - 1])])
        convs.append(ConvLayer(conv.out_channels, _square(conv), conv.stride[0], _padding(conv), pool))
        l = len(convs) - 1
        params[weight_name(l)] = torch.from_numpy(_array(conv.weight))
        params[bias_name(l)] = torch.from_numpy(_array(conv.bias) if conv.bias is not None
                                                else np.zeros(conv.out_channels))
    if len(kinds) > 1:
        raise ConfigError("a CNN target must use one pooling kind (max or avg)")
    head = layers[-1]
    arch = ConvArchitecture(layers[0].in_channels, image_size, tuple(convs), head.out_features,
                            kinds.pop() if kinds else "max")
    shape = arch.weight_shapes()[weight_name(len(convs))]
    if head.in_features != math.prod(shape[1:]):
        raise ConfigError(f"the CNN target's Linear reads {head.in_features} features, its last feature map has "
                          f"{math.prod(shape[1:])} on {image_size}x{image_size} inputs")
    params[weight_name(len(convs))] = torch.from_numpy(_array(head.weight)).reshape(shape)
    params[bias_name(len(convs))] = torch.from_numpy(_array(head.bias) if head.bias is not None
                                                     else np.zeros(head.out_features))
    return ConvTarget(arch, params, "a user's CNN target")


def plant_network(target: Any, host_architecture: Architecture | ConvArchitecture, *, seed: int,
                  data: DataConfig | None = None, noise: float = 0.0) -> PlantedInstance:
    """Hide ``target`` (see the module docstring) in a random host of ``host_architecture``; seeded by ``seed``."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    arch, ticket_net = host_architecture, _as_target(target, host_architecture)
    if any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in arch.widths):
        raise ConfigError(f"host widths must be positive integers, got {tuple(arch.widths)}")
    if ticket_net.n_weights == sum(w.size for w in ticket_net.weights):
        raise ConfigError("the target has no zero weight: a ticket is a sparse network, nothing would be hidden")
    if isinstance(arch, ConvArchitecture):
        check_conv_fits(ticket_net, arch)
        planter, input_shape = plant_conv_target, arch.input_shape
    else:
        check_fits(ticket_net, arch)
        planter, input_shape = plant_target, (arch.widths[0],)
    task = NetworkTask(ticket_net, input_shape, noise)
    spec = InstanceSpec("network", arch.depth, max(arch.widths[1:-1], default=0), seed, {"noise": noise},
                        data or DataConfig())
    streams = lambda *names: seeding.generator(seed, "network", *names)  # noqa: E731
    planted = planter(ticket_net, arch, arch.init(streams("host", *arch.widths)), streams("plant"))
    splits = task.make_data(spec.data, streams("data"))
    return PlantedInstance(spec, task, arch, planted.state, planted.ticket, planted.scales, splits, planted.target,
                           planted.placement, planted.neuron_scales)


def _as_target(target: Any, arch: Any) -> TargetNetwork | ConvTarget:
    if isinstance(target, (TargetNetwork, ConvTarget)):
        out = target
    elif isinstance(target, nn.Sequential):
        out = conv_target(target, arch.image_size) if isinstance(arch, ConvArchitecture) else mlp_target(target)
    else:
        raise ConfigError(f"a target must be a torch.nn.Sequential, a TargetNetwork or a ConvTarget, "
                          f"got {type(target).__name__}")
    if not all(np.isfinite(w).all() for w in [*out.weights, *out.biases]):
        raise ConfigError("the target has NaN or infinite weights or biases")
    return out


def _check_layers(layers: list[nn.Module], supported: tuple[type, ...]) -> None:
    for i, m in enumerate(layers):
        if type(m) not in supported:
            names = ", ".join(t.__name__ for t in supported)
            raise ConfigError(f"unsupported layer {type(m).__name__} at position {i} (supported: {names})")


def _array(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).cpu().numpy().copy()


def _square(conv: nn.Conv2d) -> int:
    k = conv.kernel_size
    if k[0] != k[1] or conv.stride[0] != conv.stride[1] or conv.dilation != (1, 1) or conv.groups != 1:
        raise ConfigError("a Conv2d of the target must have a square kernel, equal strides, no dilation, one group")
    return k[0]


def _padding(conv: nn.Conv2d) -> int:
    p = conv.padding
    if isinstance(p, str) or p[0] != p[1] or conv.padding_mode != "zeros":
        raise ConfigError("a Conv2d of the target must have equal integer zero padding")
    return p[0]


def _pool_size(pool: nn.Module) -> int:
    k, s = pool.kernel_size, pool.stride
    k, s = (k if isinstance(k, int) else k[0]), (s if isinstance(s, int) else s[0])
    if k != s or pool.padding not in (0, (0, 0)) or getattr(pool, "ceil_mode", False):
        raise ConfigError("a pooling layer of the target must have stride == kernel_size and no padding")
    return k
