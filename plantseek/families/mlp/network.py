"""The host architecture: a fully connected ReLU MLP with a linear last layer.

Parameters are named ``layers.{l}.weight`` (shape ``out x in``) and ``layers.{l}.bias``. The weights are the
prunable parameters: density counts weights only. A mask may also carry optional ``layers.{l}.bias`` entries
(edge-popup scores biases too); biases without an entry are kept. A network of depth ``L`` (input and output layers
counted) has ``L - 1`` weight matrices.

:class:`Architecture` implements the network protocol (:mod:`plantseek.nets.interface`); its stacked forward pass
takes an optional per-layer product so that the batched training engine can pass its exact product plans.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from plantseek.core.types import Mask
from plantseek.nets.interface import HiddenUnits, Structure, bias_name, chain_structure, weight_name

Product = Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Architecture:
    """Layer widths from input to output, e.g. ``(2, 100, 100, 100, 4)`` for Circle depth 5 width 100."""

    widths: tuple[int, ...]

    @classmethod
    def mlp(cls, in_features: int, out_features: int, depth: int, width: int) -> "Architecture":
        return cls((in_features, *([width] * (depth - 2)), out_features))

    @property
    def depth(self) -> int:
        return len(self.widths)

    @property
    def n_layers(self) -> int:
        """Number of weight matrices."""
        return len(self.widths) - 1

    def weight_names(self) -> list[str]:
        return [weight_name(layer) for layer in range(self.n_layers)]

    def weight_shapes(self) -> dict[str, tuple[int, int]]:
        return {weight_name(l): (self.widths[l + 1], self.widths[l]) for l in range(self.n_layers)}

    def bias_shapes(self) -> dict[str, tuple[int]]:
        return {bias_name(l): (self.widths[l + 1],) for l in range(self.n_layers)}

    @property
    def n_prunable(self) -> int:
        return sum(a * b for a, b in zip(self.widths[:-1], self.widths[1:]))

    @classmethod
    def from_state(cls, state: dict[str, torch.Tensor]) -> "Architecture":
        """The architecture of an MLP state dict (``layers.{l}.weight`` / ``.bias``)."""
        n_layers = sum(1 for k in state if k.endswith(".weight"))
        weights = [state[weight_name(l)] for l in range(n_layers)]
        return cls((weights[0].shape[1], *(w.shape[0] for w in weights)))

    # --- the network protocol (plantseek.nets.interface) ---------------------------------------------------------
    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.widths[0],)

    def prunable_shapes(self) -> dict[str, tuple[int, int]]:
        return self.weight_shapes()

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        w, b = self.weight_shapes(), self.bias_shapes()
        return {n: s for l in range(self.n_layers) for n, s in ((weight_name(l), w[weight_name(l)]),
                                                                  (bias_name(l), b[bias_name(l)]))}

    def fan_in(self, name: str) -> int:
        return self.widths[int(name.split(".")[1])]

    def structure(self) -> Structure:
        return chain_structure(list(self.weight_shapes().items()))

    def output_parameters(self) -> list[str]:
        return [weight_name(self.n_layers - 1), bias_name(self.n_layers - 1)]

    def hidden_units(self) -> list[HiddenUnits]:
        return [HiddenUnits(((weight_name(l), 0), (bias_name(l), 0)), ((weight_name(l + 1), 1),))
                for l in range(self.n_layers - 1)]

    def forward_flops(self) -> int:
        """2 FLOPs per weight and sample (each weight is one multiply-add of one sample's dense forward pass)."""
        return 2 * self.n_prunable

    def init(self, generator: torch.Generator) -> dict[str, torch.Tensor]:
        return he_init(self, generator)

    def build(self, params: dict[str, torch.Tensor], dtype: torch.dtype = torch.float32) -> "MLP":
        return build_model(self, params, dtype)

    def forward(self, params: dict[str, torch.Tensor], x: torch.Tensor, mask: Mask | None = None) -> torch.Tensor:
        """Outputs ``(b, out)``: ``F.linear`` per layer, ReLU between layers, masked parameters multiplied."""
        for l in range(self.n_layers):
            w, b = params[weight_name(l)], params[bias_name(l)]
            if mask is not None:
                w = w * mask[weight_name(l)].to(w.dtype)
                if bias_name(l) in mask:
                    b = b * mask[bias_name(l)].to(b.dtype)
            x = torch.nn.functional.linear(x, w, b)
            if l < self.n_layers - 1:
                x = torch.relu(x)
        return x

    def forward_stacked(self, params: dict[str, torch.Tensor], x: torch.Tensor, mask: Mask | None = None, *,
                        product: Product | None = None,
                        activations: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Outputs ``(K, b, out)`` of K networks (params ``(K, *shape)``, x ``(K, b, in)``); a mask entry
        ``(K, *shape)`` multiplies its parameter. ``product(l, bias, h, w)`` computes layer ``l``'s affine map
        (default ``torch.baddbmm(bias.unsqueeze(1), h, w.transpose(1, 2))``); ``activations`` (a list) receives the
        output of every layer (after its ReLU)."""
        for l in range(self.n_layers):
            w, b = params[weight_name(l)], params[bias_name(l)]
            if mask is not None and weight_name(l) in mask:
                w = w * mask[weight_name(l)]
            if mask is not None and bias_name(l) in mask:
                b = b * mask[bias_name(l)]
            x = torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2)) if product is None else product(l, b, x, w)
            if l < self.n_layers - 1:
                x = x.relu_()
            if activations is not None:
                activations.append(x)
        return x


class MLP(nn.Module):
    """ReLU MLP; ``forward(x, mask)`` multiplies each weight by its mask when one is given."""

    def __init__(self, arch: Architecture, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.arch = arch
        self.layers = nn.ModuleList(
            nn.Linear(a, b, dtype=dtype) for a, b in zip(arch.widths[:-1], arch.widths[1:])
        )

    def forward(self, x: torch.Tensor, mask: Mask | None = None) -> torch.Tensor:
        params = {n: p for l, layer in enumerate(self.layers)
                  for n, p in ((weight_name(l), layer.weight), (bias_name(l), layer.bias))}
        return self.arch.forward(params, x, mask)

    def prunable(self) -> dict[str, nn.Parameter]:
        """The prunable parameters (the weights), by name, in layer order."""
        return {weight_name(l): layer.weight for l, layer in enumerate(self.layers)}


def forward_state(state: dict[str, torch.Tensor], x: torch.Tensor, mask: Mask | None = None) -> torch.Tensor:
    """Forward pass of an MLP given as a state dict (kept for callers without an architecture at hand; the same as
    ``Architecture.from_state(state).forward(state, x, mask)``)."""
    return Architecture.from_state(state).forward(state, x, mask)


def he_init(arch: Architecture, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Paper initialisation in float64: W_l ~ N(0, 2/n_{l-1}); b_l ~ N(0, s_l^2), s_l = prod_{k<=l} sqrt(2/n_{k-1}).

    The bias spread shrinks multiplicatively with depth.
    """
    state: dict[str, torch.Tensor] = {}
    bias_std = 1.0
    for l in range(arch.n_layers):
        fan_in, fan_out = arch.widths[l], arch.widths[l + 1]
        std = math.sqrt(2.0 / fan_in)
        bias_std *= std
        state[weight_name(l)] = torch.randn(fan_out, fan_in, generator=generator, dtype=torch.float64) * std
        state[bias_name(l)] = torch.randn(fan_out, generator=generator, dtype=torch.float64) * bias_std
    return state


def build_model(arch: Architecture, state: dict[str, torch.Tensor], dtype: torch.dtype = torch.float32) -> MLP:
    """A fresh MLP holding a copy of ``state`` in ``dtype``."""
    model = MLP(arch, dtype=dtype)
    with torch.no_grad():
        model.load_state_dict({k: v.to(dtype) for k, v in state.items()})
    return model
