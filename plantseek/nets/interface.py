"""The network protocol: everything pruners, scoring, readout and training need to know about a host architecture.

A host architecture is an object implementing :class:`Network` (the MLP of
:mod:`plantseek.families.mlp.network` is the first one). Code outside the network modules touches a network only through
this protocol, so another architecture (convolutional, attention, an MLP with skip connections)
joins without changes to the pruners.

**Parameters** are plain ``dict[str, Tensor]`` keyed by parameter name. ``parameter_shapes()`` lists every
parameter in a fixed order (the order of state dicts, of the batched engine's flat buffer and of score draws);
``prunable_shapes()`` the prunable ones (the *weights*; density counts these only), in order; ``bias_shapes()``
the non-prunable parameters a mask may also carry (optional 0/1 entries; edge-popup scores them); a parameter
without a mask entry is kept. ``n_prunable`` is the number of prunable entries. A mask is a dict of boolean
tensors with one entry per prunable weight (and optional bias entries), in the parameters' shapes.

Methods (``K`` = stacked networks, ``b`` = batch size; ``input_shape`` = one sample's shape):

=============================== =======================================================================================
``input_shape``                 shape of one input sample, e.g. ``(2,)``; SynFlow feeds ``ones(1, *input_shape)``
``prunable_shapes()``           ``{weight name: shape}`` in order: masks, scores, selection, density, harness checks
``parameter_shapes()``          ``{name: shape}`` of all parameters in order: leaf copies (SNIP, GraSP), edge-popup,
                                batched engine layout, SynFlow (non-prunable parameters are set to zero)
``bias_shapes()``               ``{name: shape}`` of the biases a mask may carry (mask validation, edge-popup)
``n_prunable``                  number of prunable weight entries (densities and kept counts)
``fan_in(name)``                inputs feeding one unit that parameter ``name`` writes to (edge-popup's score init)
``structure()``                 the unit graph (:class:`Structure`): path metrics (effective density, collapse)
``forward(params, x, mask)``    outputs ``(b, out)`` for inputs ``(b, *input_shape)``; each parameter with a mask
                                entry is multiplied by it (as ``param * mask.to(param.dtype)``). Differentiable,
                                any dtype: SNIP, GraSP, SynFlow, strong evaluation, readout, the module's forward
``forward_stacked(params, x,    K networks at once: params ``(K, *shape)``, x ``(K, b, *input_shape)``, mask entries
mask)``                         ``(K, *shape)`` of any float dtype (0/1 or straight-through) multiplying the
                                parameters; returns ``(K, b, out)``: batched strong evaluation, edge-popup
``init(generator)``             fresh float64 parameters drawn from ``generator`` (planting, re-initialised hosts)
``build(params, dtype)``        a torch module holding a copy of ``params`` (see *modules* below)
``output_parameters()``         names of the parameters whose axis 0 indexes the outputs and which scale them
                                linearly (weight and bias of the last layer): readout calibration folds per-output
                                factors into them
``hidden_units()``              the unit groups (:class:`HiddenUnits`) followed by a positively homogeneous
                                activation (ReLU), with their incoming and outgoing parameters: readout balancing
``forward_flops()``             floating-point operations of one sample's *dense* forward pass, counted as
                                ``torch.utils.flop_counter`` counts them (2 per multiply-add of a weight; biases,
                                activations and pooling free): a pruner's compute (:mod:`plantseek.records.compute`)
=============================== =======================================================================================

**Modules.** ``build`` returns a ``torch.nn.Module`` with ``arch`` (the architecture), ``prunable()`` (``{weight
name: Parameter}``, in order), ``named_parameters()`` yielding the protocol's parameter names, and ``forward(x,
mask=None)`` equal to ``arch.forward(params, x, mask)``. Pruners receive such a module (``PlantedInstance.host()``)
and reach everything else through ``model.arch`` and :func:`network_parameters`. :class:`NetworkModule` implements
this for any architecture.

**Training.** The MLP trains with the exact batched engine (:mod:`plantseek.train.batched`, whose stacked
forward is the MLP's ``forward_stacked`` with per-layer product plans); any other architecture trains network by
network through its module (same data order and optimiser rules; :func:`plantseek.train.loop.train_masks`).

**Structure.** Units come in named groups (an MLP layer, a channel set); every prunable weight entry connects
one source unit to one target unit (:class:`Edges`; a convolution kernel entry connects an input channel to an
output channel). Groups are listed in topological order, so any DAG (a skip connection included) is described.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol, runtime_checkable

import torch
from torch import nn

Params = dict[str, torch.Tensor]
Shapes = dict[str, tuple[int, ...]]


@dataclass(frozen=True, eq=False)
class Edges:
    """The connections of one prunable weight: entry ``w[i]`` connects unit ``source_units[i]`` of group ``source``
    to unit ``target_units[i]`` of group ``target`` (both long tensors of the weight's shape)."""

    source: str
    target: str
    source_units: torch.Tensor
    target_units: torch.Tensor


@dataclass(frozen=True, eq=False)
class Structure:
    """The unit graph of a network: ``groups`` (name -> number of units) in topological order, the input and output
    groups, and the :class:`Edges` of every prunable weight (in prunable order). ``links`` are fixed, never pruned
    connections between units (a residual stream's identity, the mixing inside an attention head): :class:`Edges`
    without a weight, always present; none in a chain."""

    groups: dict[str, int]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    edges: dict[str, Edges]
    links: tuple[Edges, ...] = ()


@dataclass(frozen=True)
class HiddenUnits:
    """A group of hidden units followed by a positively homogeneous activation: ``incoming`` and ``outgoing`` list
    ``(parameter name, unit axis)``; scaling a unit's incoming entries by g > 0 and its outgoing ones by 1/g leaves
    the network function unchanged."""

    incoming: tuple[tuple[str, int], ...]
    outgoing: tuple[tuple[str, int], ...]


def weight_name(layer: int) -> str:
    """The name of layer ``layer``'s weight in a layered host (the MLP's and the CNN's ``layers.{l}.weight``)."""
    return f"layers.{layer}.weight"


def bias_name(layer: int) -> str:
    """The name of layer ``layer``'s bias in a layered host (``layers.{l}.bias``)."""
    return f"layers.{layer}.bias"


def dense_edges(source: str, target: str, n_out: int, n_in: int) -> Edges:
    """The edges of a fully connected ``(n_out, n_in)`` weight from group ``source`` to group ``target``."""
    return Edges(source, target, torch.arange(n_in).expand(n_out, n_in),
                 torch.arange(n_out)[:, None].expand(n_out, n_in))


def chain_structure(shapes: list[tuple[str, tuple[int, int]]]) -> Structure:
    """The structure of a chain of fully connected ``(out, in)`` weights: groups ``units.0`` (input) ..
    ``units.L`` (output)."""
    groups = {"units.0": shapes[0][1][1], **{f"units.{l + 1}": s[0] for l, (_, s) in enumerate(shapes)}}
    edges = {n: dense_edges(f"units.{l}", f"units.{l + 1}", *s) for l, (n, s) in enumerate(shapes)}
    return Structure(groups, ("units.0",), (f"units.{len(shapes)}",), edges)


@runtime_checkable
class Network(Protocol):
    """A host architecture (see the module docstring for what each member means and who uses it)."""

    input_shape: tuple[int, ...]

    @property
    def n_prunable(self) -> int: ...

    def prunable_shapes(self) -> Shapes: ...

    def parameter_shapes(self) -> Shapes: ...

    def bias_shapes(self) -> Shapes: ...

    def fan_in(self, name: str) -> int: ...

    def structure(self) -> Structure: ...

    def forward(self, params: Params, x: torch.Tensor, mask: Params | None = None) -> torch.Tensor: ...

    def forward_stacked(self, params: Params, x: torch.Tensor, mask: Params | None = None) -> torch.Tensor: ...

    def init(self, generator: torch.Generator) -> Params: ...

    def build(self, params: Params, dtype: torch.dtype = torch.float32) -> nn.Module: ...

    def output_parameters(self) -> list[str]: ...

    def hidden_units(self) -> list[HiddenUnits]: ...

    def forward_flops(self) -> int: ...


class Host(Protocol):
    """A built host network (an ``nn.Module`` made by :meth:`Network.build`) as pruners use it: the ``model`` of the
    pruner contract (:class:`plantseek.prune.contract.Pruner`)."""

    @property
    def arch(self) -> Network: ...

    def __call__(self, x: torch.Tensor, mask: Params | None = None) -> torch.Tensor: ...

    def prunable(self) -> dict[str, nn.Parameter]: ...

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]: ...

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, nn.Parameter]]: ...


def count(shapes: Shapes) -> int:
    """Number of entries of all parameters of ``shapes``."""
    return sum(math.prod(s) for s in shapes.values())


def masked(params: Params, mask: Params | None) -> Params:
    """``params`` with every parameter that has a mask entry multiplied by it (in the parameter's dtype)."""
    if mask is None:
        return params
    return {n: p * mask[n].to(p.dtype) if n in mask else p for n, p in params.items()}


def network_parameters(model: nn.Module | Host) -> dict[str, nn.Parameter]:
    """A built module's parameters by protocol name, in ``model.arch.parameter_shapes()`` order."""
    named = dict(model.named_parameters())
    arch: Network = getattr(model, "arch")  # torch types nn.Module attributes as Tensor | Module
    return {n: named[n] for n in arch.parameter_shapes()}


def stack_forward(forward: Callable[[Params, torch.Tensor, Params | None], torch.Tensor], params: Params,
                  x: torch.Tensor, mask: Params | None = None) -> torch.Tensor:
    """A stacked forward pass built from a single-network one, network by network (for architectures without a
    batched formulation)."""
    k = x.shape[0]

    def pick(d: Params, i: int) -> Params:
        return {n: t[i] for n, t in d.items()}

    return torch.stack([forward(pick(params, i), x[i], None if mask is None else pick(mask, i)) for i in range(k)])


class NetworkModule(nn.Module):
    """A module holding a copy of ``params`` for any architecture: parameters are registered under their protocol
    names (dotted names become nested modules), and ``forward(x, mask)`` is ``arch.forward``."""

    def __init__(self, arch: Network, params: Params, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.arch = arch
        for name in arch.parameter_shapes():
            *path, leaf = name.split(".")
            owner: nn.Module = self
            for part in path:
                if not hasattr(owner, part):
                    owner.add_module(part, nn.Module())
                owner = getattr(owner, part)
            owner.register_parameter(leaf, nn.Parameter(params[name].detach().to(dtype).clone()))

    def forward(self, x: torch.Tensor, mask: Params | None = None) -> torch.Tensor:
        params: Params = dict(network_parameters(self))
        return self.arch.forward(params, x, mask)

    def prunable(self) -> dict[str, nn.Parameter]:
        params = network_parameters(self)
        return {n: params[n] for n in self.arch.prunable_shapes()}
