"""A generic batched training path for any architecture of the network protocol: K masked networks trained at once
through ``arch.forward_stacked`` (for the convolutional host: one grouped convolution per layer serves all K).

Each network keeps its own initial state, mask, data order (its own generator: one ``randperm`` per epoch, the rule
of :func:`plantseek.train.loop.batches`, drawn as the per-network path draws them) and optimiser state: the
parameters are stacked ``(K, *shape)`` leaves and the optimiser (torch's Adam or SGD of the ``TrainConfig``) is
elementwise, the K losses are summed, so each network's gradient is its own. The result equals
:func:`plantseek.train.loop.train_masks` with ``engine="loop"`` up to floating-point rounding (the stacked
convolution and Adam's kernel over stacked tensors round differently; tests hold float64 to 1e-9), not bit for bit:
the per-network path remains the reference that the cells of a grid use. Pruned weights get zero gradients and are
set to exactly zero at the end, as there.

Formulation (:data:`STACKED_FORWARD_OPTIONS`): the convolutional host runs its grouped convolutions in torch's
channels-last memory format, measured faster on the CPU than the default layout (README, "Convolutional hosts and
tickets"), and faster than an im2col or shifted-GEMM formulation with batched matrix products or ``torch.func.vmap``
over the per-network forward (measured there too).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from plantseek.families.conv.network import ConvArchitecture
from plantseek.families.mlp.network import Mask
from plantseek.nets.interface import Network
from plantseek.train.batched import _epoch_permutations
from plantseek.train.config import TrainConfig, epoch_lr
from plantseek.train.loop import make_optimizer


#: keyword options of ``forward_stacked`` used for training, per architecture type (none: its default formulation)
STACKED_FORWARD_OPTIONS: dict[type, dict] = {ConvArchitecture: {"channels_last": True}}


def stacked_masks(arch: Network, masks: Sequence[Mask | None], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Float ``(K, *shape)`` mask entries: every weight (ones where a network has no mask) and the biases that some
    network's mask carries (ones elsewhere)."""
    names = list(arch.prunable_shapes()) + [n for n in arch.bias_shapes() if any(m and n in m for m in masks)]
    shapes = arch.parameter_shapes()
    pick = lambda m, n: m[n] if m is not None and n in m else torch.ones(shapes[n], dtype=torch.bool)  # noqa: E731
    return {n: torch.stack([pick(m, n).to(dtype) for m in masks]) for n in names}


def conv_map_elements(arch: ConvArchitecture) -> int:
    """Entries of the largest feature map of one sample (a conv layer's output before pooling)."""
    sides = [(side + 2 * c.padding - c.kernel) // c.stride + 1 for side, c in zip(arch.sides, arch.convs)]
    return max(c.channels * side * side for c, side in zip(arch.convs, sides))


#: per architecture type, the entries of one sample's largest activation, which sets the chunk of networks stacked
#: at once (:func:`stacked_chunk`); types without a rule stack all K
MAP_ELEMENTS: dict[type, Callable[[Network], int]] = {ConvArchitecture: conv_map_elements}
#: bytes of the largest stacked activation of one step that a chunk may fill (measured on the CPU, README conv section:
#: activations that outgrow the caches make the elementwise passes, ReLU and pooling, dominate a step)
CHUNK_BYTES = 8 * 2**20


def stacked_chunk(arch: Network, k: int, batch_size: int, dtype: torch.dtype) -> int:
    """How many of ``k`` networks to stack at once: as many as keep the largest activation of a step within
    :data:`CHUNK_BYTES` (at least one), or all ``k`` for architectures without a rule in :data:`MAP_ELEMENTS`."""
    rule = MAP_ELEMENTS.get(type(arch))
    if rule is None:
        return k
    per_network = rule(arch) * batch_size * torch.empty((), dtype=dtype).element_size()
    return max(1, min(k, CHUNK_BYTES // per_network))


def train_masks_stacked(arch: Network, initial_state: dict[str, torch.Tensor] | Sequence[dict[str, torch.Tensor]],
                        masks: Sequence[Mask | None], x: torch.Tensor, y: torch.Tensor, loss_fn,
                        config: TrainConfig, generators: Sequence[torch.Generator],
                        dtype: torch.dtype = torch.float32, forward_options: dict | None = None,
                        chunk: int | None = None) -> list[torch.nn.Module]:
    """Train one copy of the initial network per mask, ``chunk`` networks at once (default :func:`stacked_chunk`;
    chunks one after the other, so generators serving several networks are drawn as the per-network path draws
    them); returns the trained modules (eval mode). ``forward_options``: keyword options of ``arch.forward_stacked``
    (default: :data:`STACKED_FORWARD_OPTIONS`)."""
    k = len(masks)
    if len(generators) != k:
        raise ValueError("need one generator per mask")
    states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state] * k
    options = STACKED_FORWARD_OPTIONS.get(type(arch), {}) if forward_options is None else forward_options
    step = chunk or stacked_chunk(arch, k, config.batch_size, dtype)
    out: list[torch.nn.Module] = []
    for s in range(0, k, step):
        part = slice(s, s + step)
        out += _train_stacked(arch, states[part], masks[part], x, y, loss_fn, config, generators[part], dtype, options)
    return out


def _train_stacked(arch: Network, states: Sequence[dict[str, torch.Tensor]], masks: Sequence[Mask | None],
                   x: torch.Tensor, y: torch.Tensor, loss_fn, config: TrainConfig,
                   generators: Sequence[torch.Generator], dtype: torch.dtype, options: dict) -> list[torch.nn.Module]:
    """Train the networks of one chunk as one stacked model."""
    k = len(masks)
    params = {n: torch.stack([st[n].to(dtype) for st in states]).requires_grad_(True) for n in arch.parameter_shapes()}
    mask = stacked_masks(arch, masks, dtype)
    optimizer = make_optimizer(list(params.values()), config)
    x = x.to(dtype)
    y = y if not y.is_floating_point() else y.to(dtype)
    for epoch, perms in enumerate(_epoch_permutations(generators, x.shape[0], config.epochs, torch.device("cpu"))):
        for group in optimizer.param_groups:
            group["lr"] = epoch_lr(config, epoch)
        for start in range(0, x.shape[0], config.batch_size):
            idx = perms[:, start: start + config.batch_size]  # (K, b)
            optimizer.zero_grad(set_to_none=True)
            out = arch.forward_stacked(params, x[idx], mask, **options)
            loss = sum(loss_fn(out[i], y[idx[i]]) for i in range(k))
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        for n in arch.prunable_shapes():
            params[n].mul_(mask[n])
    return [arch.build({n: p[i].detach() for n, p in params.items()}, dtype).eval() for i in range(k)]
