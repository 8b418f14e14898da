"""A convolutional host architecture: 2-D convolutions with ReLU and positively homogeneous pooling, then a linear head.

Layer ``l < n_conv`` is a convolution ``layers.{l}.weight`` ``(C_{l+1}, C_l, k, k)`` with bias ``layers.{l}.bias``
(:class:`ConvLayer`: kernel, stride, zero padding, optional ``max``/``avg`` pooling), followed by ReLU; the head
``layers.{n_conv}.weight`` has shape ``(out, C, H', W')``. Prunable: kernels and the head weight. Units of the path
metrics are channels. Initialisation is the MLP host's with ``fan_in = C_l k^2`` (``C H' W'`` for the head).

:class:`ConvArchitecture` implements the network protocol (:mod:`plantseek.nets.interface`); its stacked forward runs
``K`` networks as one grouped convolution (``groups = K``). The full description is in ``docs/design/families.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from plantseek.core.errors import ConfigError
from plantseek.nets.interface import bias_name, weight_name
from plantseek.nets.interface import Edges, HiddenUnits, NetworkModule, Params, Structure

POOLINGS = {"max": F.max_pool2d, "avg": F.avg_pool2d}


@dataclass(frozen=True)
class ConvLayer:
    """One convolution: output ``channels``, square ``kernel``, ``stride``, zero ``padding``, then ReLU and a
    ``pool x pool`` pooling (1 = none)."""

    channels: int
    kernel: int = 3
    stride: int = 1
    padding: int = 1
    pool: int = 1

    def __post_init__(self) -> None:
        for name in ("channels", "kernel", "stride", "pool"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"conv layer {name} must be an integer >= 1, got {v!r}")
        if isinstance(self.padding, bool) or not isinstance(self.padding, int) or self.padding < 0:
            raise ConfigError(f"conv layer padding must be an integer >= 0, got {self.padding!r}")

    def out_size(self, size: int) -> int:
        """Side of the feature map after convolution and pooling, for an input of side ``size``."""
        return ((size + 2 * self.padding - self.kernel) // self.stride + 1) // self.pool


@dataclass(frozen=True)
class ConvArchitecture:
    """``in_channels`` square images of side ``image_size``, the convolutions ``convs``, ``out_features`` outputs."""

    in_channels: int
    image_size: int
    convs: tuple[ConvLayer, ...]
    out_features: int
    pooling: str = "max"

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ConfigError(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        if not self.convs:
            raise ConfigError("a convolutional host needs at least one conv layer")
        if min(self.sides) < 1:
            raise ConfigError(f"the feature maps of {self.image_size}x{self.image_size} inputs shrink to nothing "
                              f"(sides {', '.join(map(str, self.sides))})")

    @property
    def sides(self) -> tuple[int, ...]:
        """Feature-map side of the input and after every conv layer (pooling included)."""
        out = [self.image_size]
        for c in self.convs:
            out.append(c.out_size(out[-1]))
        return tuple(out)

    @property
    def widths(self) -> tuple[int, ...]:
        """Units (channels) per group from input to output."""
        return (self.in_channels, *(c.channels for c in self.convs), self.out_features)

    @property
    def depth(self) -> int:
        return len(self.widths)

    @property
    def n_layers(self) -> int:
        """Number of weights: the convolutions and the head."""
        return len(self.convs) + 1

    def weight_names(self) -> list[str]:
        return [weight_name(l) for l in range(self.n_layers)]

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        w, side = self.widths, self.sides[-1]
        shapes = {weight_name(l): (c.channels, w[l], c.kernel, c.kernel) for l, c in enumerate(self.convs)}
        shapes[weight_name(len(self.convs))] = (self.out_features, w[-2], side, side)
        return shapes

    # --- the network protocol (plantseek.nets.interface) ---------------------------------------------------------
    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.in_channels, self.image_size, self.image_size)

    @property
    def n_prunable(self) -> int:
        return sum(math.prod(s) for s in self.weight_shapes().values())

    def prunable_shapes(self) -> dict[str, tuple[int, ...]]:
        return self.weight_shapes()

    def bias_shapes(self) -> dict[str, tuple[int]]:
        return {bias_name(l): (self.widths[l + 1],) for l in range(self.n_layers)}

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        w, b = self.weight_shapes(), self.bias_shapes()
        return {n: s for l in range(self.n_layers) for n, s in ((weight_name(l), w[weight_name(l)]),
                                                                  (bias_name(l), b[bias_name(l)]))}

    def fan_in(self, name: str) -> int:
        return math.prod(self.weight_shapes()[weight_name(int(name.split(".")[1]))][1:])

    def forward_flops(self) -> int:
        """FLOPs of one sample's dense forward pass: 2 per multiply-add, i.e. per kernel entry and position of the
        convolution's output map (before pooling), plus 2 per head weight (pooling and ReLU are not counted)."""
        total, w = 0, self.widths
        for l, c in enumerate(self.convs):
            side = (self.sides[l] + 2 * c.padding - c.kernel) // c.stride + 1
            total += 2 * c.channels * w[l] * c.kernel * c.kernel * side * side
        return total + 2 * math.prod(self.weight_shapes()[weight_name(len(self.convs))])

    def structure(self) -> Structure:
        groups = {f"units.{l}": n for l, n in enumerate(self.widths)}
        edges = {}
        for l, (name, shape) in enumerate(self.weight_shapes().items()):
            o, i = torch.meshgrid(torch.arange(shape[0]), torch.arange(shape[1]), indexing="ij")
            expand = lambda t: t[:, :, None, None].expand(shape)  # noqa: E731
            edges[name] = Edges(f"units.{l}", f"units.{l + 1}", expand(i), expand(o))
        return Structure(groups, ("units.0",), (f"units.{self.n_layers}",), edges)

    def output_parameters(self) -> list[str]:
        return [weight_name(self.n_layers - 1), bias_name(self.n_layers - 1)]

    def hidden_units(self) -> list[HiddenUnits]:
        return [HiddenUnits(((weight_name(l), 0), (bias_name(l), 0)), ((weight_name(l + 1), 1),))
                for l in range(self.n_layers - 1)]

    def init(self, generator: torch.Generator) -> Params:
        """He initialisation in float64 with the MLP host's depth-scaled bias spread (see the module docstring)."""
        state: Params = {}
        bias_std = 1.0
        for l, (name, shape) in enumerate(self.weight_shapes().items()):
            std = math.sqrt(2.0 / math.prod(shape[1:]))
            bias_std *= std
            state[name] = torch.randn(shape, generator=generator, dtype=torch.float64) * std
            state[bias_name(l)] = torch.randn(shape[0], generator=generator, dtype=torch.float64) * bias_std
        return state

    def build(self, params: Params, dtype: torch.dtype = torch.float32) -> nn.Module:
        return NetworkModule(self, params, dtype)

    def forward(self, params: Params, x: torch.Tensor, mask: Params | None = None) -> torch.Tensor:
        """Outputs ``(b, out)`` for inputs ``(b, C, H, W)``; masked parameters multiplied by their mask."""
        return self.forward_stacked({n: p.unsqueeze(0) for n, p in params.items()}, x.unsqueeze(0),
                                    None if mask is None else {n: m.unsqueeze(0) for n, m in mask.items()})[0]

    def forward_stacked(self, params: Params, x: torch.Tensor, mask: Params | None = None, *,
                        channels_last: bool = False) -> torch.Tensor:
        """Outputs ``(K, b, out)`` of K networks (params ``(K, *shape)``, x ``(K, b, C, H, W)``) as grouped
        convolutions; a mask entry ``(K, *shape)`` multiplies its parameter. ``channels_last``: feature maps and
        kernels in torch's channels-last memory format (the same function, rounded differently; faster for
        stacked training on the CPU, see plantseek.train.stacked)."""
        k, b = x.shape[:2]
        pool = POOLINGS[self.pooling]
        layout = torch.channels_last if channels_last else torch.contiguous_format
        h = x.transpose(0, 1).reshape(b, k * x.shape[2], *x.shape[3:])  # (b, K*C, H, W)
        h = h.contiguous(memory_format=layout)
        for l, conv in enumerate(self.convs):
            w, bias = _masked(params, mask, l, h.dtype)
            w = w.flatten(0, 1).contiguous(memory_format=layout)
            h = F.conv2d(h, w, bias.flatten(), stride=conv.stride, padding=conv.padding, groups=k)
            h = torch.relu(h)
            if conv.pool > 1:
                h = pool(h, conv.pool)
        w, bias = _masked(params, mask, len(self.convs), h.dtype)
        h = h.reshape(b, k, -1).transpose(0, 1)  # (K, b, C*H'*W')
        return torch.baddbmm(bias.unsqueeze(1), h, w.flatten(2).transpose(1, 2))


def _masked(params: Params, mask: Params | None, l: int, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    w, b = params[weight_name(l)], params[bias_name(l)]
    if mask is not None and weight_name(l) in mask:
        w = w * mask[weight_name(l)].to(w.dtype)
    if mask is not None and bias_name(l) in mask:
        b = b * mask[bias_name(l)].to(b.dtype)
    return w, b
