"""The stacked training engine for every architecture but the MLP (engine 3: the convolutional and the attention host):
K masked networks trained at once through ``arch.forward_stacked`` (the convolutional host: one grouped convolution
per layer serves all K; the attention host: batched ``bmm``/``einsum``).

Each network keeps its own initial state, mask, training data, data order (its own generator: one ``randperm`` per
epoch, the rule of :func:`plantseek.train.loop.batches`, drawn as the per-network path draws them) and optimiser state.
The parameters of the K networks are views into one flat buffer, padded as the MLP engine's
(:mod:`plantseek.train.batched`), and the optimiser is its flat one (torch's fused Adam takes its vector loop for every
element of a padded buffer, so an element's update depends on nothing but its own values); the loss gradient is
the MLP engine's per-network one (:func:`plantseek.train.losses.loss_grad_fn`), back-propagated by autograd.

**Batch independence** (the engine rule, ``docs/design/engine.md``): a network's bytes must not depend on what it is
stacked with. Elementwise steps, pooling and the per-network loss cannot mix networks; the batched kernels could
round differently by the number of networks (measured: a convolution with ``groups = 1`` rounds differently from the
same network's convolution in a grouped one, while any ``groups >= 2`` agree, whatever the neighbours and position).
So every stack is held to one reference, a network **stacked with a copy of itself** (K = 2), by a probe per stacked
shape (:func:`stack_plan`, cached per process, random networks, one forward and backward pass): a stack of K that
rounds like the reference trains as it is; a lone network that does not is stacked with a copy (its result dropped);
a stack of K > 1 that does not is trained network by network, each with its copy. On a GPU (``exact=False``) nothing
is probed and nothing is promised beyond float tolerance.

The per-network path (:func:`plantseek.train.loop.train_model`) is the reference these networks equal up to float
rounding (tests hold float64 to 1e-9). The convolutional host runs its grouped convolutions in torch's channels-last
memory format (:data:`STACKED_FORWARD_OPTIONS`), measured faster on the CPU than the default layout
(docs/conv-hosts.md). On the CPU the stacks are pairs (:data:`CPU_STACK`, measured fastest); elsewhere they are cut
into chunks that keep the largest activation of a step within :data:`CHUNK_BYTES`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable, Sequence

import torch

from plantseek.core.errors import ConfigError
from plantseek.core.progress import tick
from plantseek.families.conv.network import ConvArchitecture
from plantseek.families.mlp.network import Mask
from plantseek.nets.interface import Network, count
from plantseek.train.batched import _Data, _as_list, _epoch_permutations, draw_permutations
from plantseek.train.config import TrainConfig, epoch_lr
from plantseek.train.device import resolve_device
from plantseek.train.flat_optimizers import FlatAdam, FlatFusedAdam, FlatSGD, padded_length
from plantseek.train.losses import loss_grad_fn

State = dict[str, torch.Tensor]

#: keyword options of ``forward_stacked`` used for training, per architecture type (none: its default formulation)
STACKED_FORWARD_OPTIONS: dict[type, dict] = {ConvArchitecture: {"channels_last": True}}


def stacked_masks(arch: Network, masks: Sequence[Mask | None], dtype: torch.dtype,
                  device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """Float ``(K, *shape)`` mask entries: every weight (ones where a network has no mask) and the biases that some
    network's mask carries (ones elsewhere)."""
    names = list(arch.prunable_shapes()) + [n for n in arch.bias_shapes() if any(m and n in m for m in masks)]
    shapes = arch.parameter_shapes()
    pick = lambda m, n: m[n] if m is not None and n in m else torch.ones(shapes[n], dtype=torch.bool)  # noqa: E731
    return {n: torch.stack([pick(m, n).to(dtype) for m in masks]).to(device) for n in names}


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
#: networks stacked at once on the CPU: pairs. Measured (``benchmarks/stacked_pairs.py``: 21 networks of densities
#: 0.01-1.0, one epoch, one thread; docs/performance.md, "Engine 3"): pairs beat every larger stack and the per-network
#: path on the conv-paper hosts (bars 0.50 s against 0.91-1.07 s for 4-21 and 0.97 s one by one; digits 2.91 s against
#: 4.94-5.17 s and 3.55 s) and the attention-paper host (0.55 s against 1.12-1.13 s and 0.94 s): the activations of
#: more networks leave the caches. A pair is also the reference every stack is held to.
CPU_STACK = 2


def stacked_chunk(arch: Network, k: int, batch_size: int, dtype: torch.dtype) -> int:
    """How many of ``k`` networks to stack at once: as many as keep the largest activation of a step within
    :data:`CHUNK_BYTES` (at least one), or all ``k`` for architectures without a rule in :data:`MAP_ELEMENTS`."""
    rule = MAP_ELEMENTS.get(type(arch))
    if rule is None:
        return k
    per_network = rule(arch) * batch_size * torch.empty((), dtype=dtype).element_size()
    return max(1, min(k, CHUNK_BYTES // per_network))


# --------------------------------------------------------------------------------------------------------------
# the stacked model and its probe
# --------------------------------------------------------------------------------------------------------------
class StackedNetworks:
    """K networks of one architecture: ``params[name]`` ``(K, *shape)`` leaves that are views into the padded flat
    buffer ``flat`` (``grad_flat`` mirrors it), the float masks, and one forward and backward pass."""

    def __init__(self, arch: Network, states: Sequence[State], masks: Sequence[Mask | None], dtype: torch.dtype,
                 device: torch.device, options: dict) -> None:
        self.arch, self.k, self.options = arch, len(states), options
        shapes = arch.parameter_shapes()
        self.flat = torch.zeros(padded_length(self.k * count(shapes)), dtype=dtype, device=device)
        self.grad_flat = torch.zeros_like(self.flat)
        self.params: State = {}
        self.grads: State = {}
        offset = 0
        for name, shape in shapes.items():
            n = self.k * math.prod(shape)
            view = self.flat[offset: offset + n].view(self.k, *shape)
            view.copy_(torch.stack([s[name].to(dtype) for s in states]))
            self.params[name] = view.requires_grad_(True)
            self.grads[name] = self.grad_flat[offset: offset + n].view(self.k, *shape)
            offset += n
        self.masks = stacked_masks(arch, masks, dtype, device)

    def forward_backward(self, x: torch.Tensor, output_grad: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """Outputs ``(K, b, out)`` for inputs ``(K, b, ...)``; fills ``grad_flat`` with the gradients of the loss whose
        output gradient ``output_grad(out)`` returns."""
        with torch.enable_grad():
            out = self.arch.forward_stacked(self.params, x, self.masks, **self.options)
            out.backward(output_grad(out.detach()))
        with torch.no_grad():
            for name, p in self.params.items():
                self.grads[name].copy_(p.grad)
                p.grad = None
        return out.detach()

    def state(self, k: int) -> State:
        """Network ``k``'s parameters (CPU copies), pruned weights set to exactly zero."""
        with torch.no_grad():
            return {n: (p[k] * self.masks[n][k] if n in self.arch.prunable_shapes() else p[k]).detach()
                    .to("cpu", copy=True) for n, p in self.params.items()}


def _probe_step(arch: Network, states: Sequence[State], x: torch.Tensor, dtype: torch.dtype,
                options: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs and the flat gradients of one forward and backward pass of ``states`` stacked (no masks)."""
    model = StackedNetworks(arch, states, [None] * len(states), dtype, torch.device("cpu"), options)
    out = model.forward_backward(x.to(dtype), lambda o: torch.ones_like(o) / o.numel())
    return out, model.grad_flat


@lru_cache(maxsize=None)
def stack_plan(arch: Network, k: int, b: int, dtype: torch.dtype, options: tuple) -> str:
    """How ``k`` networks of ``arch`` train on batches of ``b`` samples so that each rounds exactly like the reference
    (the network stacked with a copy of itself): ``"stack"`` (as they are), ``"pad"`` (k = 1: with a copy) or
    ``"pairs"`` (network by network, each with a copy). Probed on random networks and inputs, CPU only."""
    opts = dict(options)
    g = torch.Generator().manual_seed(0)
    nets = [arch.init(g) for _ in range(k)]
    x = torch.randn(k, b, *arch.input_shape, generator=g, dtype=torch.float64)
    out, grads = _probe_step(arch, nets, x, dtype, opts)
    for i in sorted({0, k - 1}):
        ref_out, ref_grads = _probe_step(arch, [nets[i], nets[i]], x[[i, i]], dtype, opts)
        if not torch.equal(out[i], ref_out[0]) or not torch.equal(_network_grads(grads, arch, k, i),
                                                                  _network_grads(ref_grads, arch, 2, 0)):
            return "pad" if k == 1 else "pairs"
    return "stack"


def _network_grads(grad_flat: torch.Tensor, arch: Network, k: int, i: int) -> torch.Tensor:
    """Network ``i``'s gradients out of the flat gradient buffer of a stack of ``k``, concatenated."""
    parts, offset = [], 0
    for shape in arch.parameter_shapes().values():
        n = math.prod(shape)
        parts.append(grad_flat[offset + i * n: offset + (i + 1) * n])
        offset += k * n
    return torch.cat(parts)


# --------------------------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------------------------
def train_masks_stacked(arch: Network, initial_state: State | Sequence[State], masks: Sequence[Mask | None],
                        x: torch.Tensor | Sequence[torch.Tensor], y: torch.Tensor | Sequence[torch.Tensor], loss_fn,
                        config: TrainConfig, generators: Sequence[torch.Generator],
                        dtype: torch.dtype = torch.float32, forward_options: dict | None = None,
                        chunk: int | None = None, device: str | torch.device | None = "cpu",
                        exact: bool | None = None) -> list[State]:
    """Train one copy of the initial network per mask; return their trained states (CPU, pruned weights zero).

    ``initial_state``, ``x``, ``y``: one for all masks, or lists with one per mask (networks of different instances
    trained together). ``chunk`` networks are stacked at once (default: :data:`CPU_STACK` on the CPU,
    :func:`stacked_chunk` elsewhere), chunks one after the other (generators serving several networks are drawn as
    the per-network path draws them). ``forward_options``: keyword options of ``arch.forward_stacked`` (default:
    :data:`STACKED_FORWARD_OPTIONS`). ``exact`` (default: on the CPU): hold every stack to the batch-independent
    reference (:func:`stack_plan`)."""
    masks = list(masks)
    k = len(masks)
    if len(generators) != k:
        raise ConfigError(f"need one generator per mask: got {len(generators)} for {k} masks")
    if k == 0:
        return []
    device = resolve_device(device)
    exact = device.type == "cpu" if exact is None else exact
    states = _as_list(initial_state, k, "initial state")
    own_data = isinstance(x, (list, tuple))
    xs, ys = (_as_list(x, k, "x"), _as_list(y, k, "y")) if own_data else ([x] * k, [y] * k)
    options = STACKED_FORWARD_OPTIONS.get(type(arch), {}) if forward_options is None else forward_options
    size = chunk or (CPU_STACK if exact else stacked_chunk(arch, k, config.batch_size, dtype))
    n = xs[0].shape[0]
    drawn = draw_permutations(generators, n, config.epochs) if len({id(g) for g in generators}) < k else None
    grad_fn = loss_grad_fn(loss_fn)
    out: list[State] = []
    for lo in range(0, k, size):
        part = list(range(lo, min(k, lo + size)))
        perms = [drawn[i] for i in part] if drawn is not None else None
        trainer = _Chunk(arch, part, states, masks, xs, ys, own_data, config, dtype, device, options, exact)
        out += trainer.train([generators[i] for i in part], perms, grad_fn)
    return out


class _Chunk:
    """One chunk of networks (indices ``part``) in training, stacked as :func:`stack_plan` says."""

    def __init__(self, arch: Network, part: list[int], states: list[State], masks: list[Mask | None], xs: list,
                 ys: list, own_data: bool, config: TrainConfig, dtype: torch.dtype, device: torch.device,
                 options: dict, exact: bool) -> None:
        self.arch, self.part, self.config, self.dtype, self.device = arch, part, config, dtype, device
        self.options, self.exact = options, exact
        self.states, self.masks, self.xs, self.ys, self.own_data = states, masks, xs, ys, own_data

    def _plan(self, b: int) -> str:
        if not self.exact:
            return "stack"
        args = (self.arch, len(self.part), b, self.dtype, tuple(sorted(self.options.items())))
        try:
            return stack_plan(*args)
        except TypeError:  # an architecture that cannot be hashed (a plug-in's): probed again, not cached
            return stack_plan.__wrapped__(*args)

    def train(self, generators: list[torch.Generator], drawn: list[list[torch.Tensor]] | None,
              grad_fn) -> list[State]:
        n, bs = self.xs[self.part[0]].shape[0], self.config.batch_size
        plans = {self._plan(b) for b in {min(bs, n - s) for s in range(0, n, bs)}}
        perms = list(_epoch_permutations(generators, n, self.config.epochs, torch.device("cpu"), drawn))
        if "pairs" in plans:  # network by network, each stacked with a copy of itself
            return [self._train([i, i], [p[j: j + 1].expand(2, -1) for p in perms], grad_fn, networks=1)[0]
                    for j, i in enumerate(self.part)]
        if "pad" in plans:
            i = self.part[0]
            return self._train([i, i], [p.expand(2, -1) for p in perms], grad_fn, networks=1)[:1]
        return self._train(self.part, perms, grad_fn, networks=len(self.part))

    def _train(self, members: list[int], perms: list[torch.Tensor], grad_fn, networks: int) -> list[State]:
        """Train ``members`` (indices; a network twice: with its copy) as one stack; ``networks``: how many of them
        are real (progress)."""
        model = StackedNetworks(self.arch, [self.states[i] for i in members], [self.masks[i] for i in members],
                                self.dtype, self.device, self.options)
        if self.own_data:
            data = _Data([self.xs[i] for i in members], [self.ys[i] for i in members], len(members), self.dtype,
                         self.device)
        else:
            data = _Data(self.xs[members[0]], self.ys[members[0]], len(members), self.dtype, self.device)
        config = self.config
        optimizer = FlatFusedAdam if config.fused_adam else FlatAdam if config.optimizer == "adam" else FlatSGD
        opt = optimizer(model.flat, config)
        n, bs = data.n, config.batch_size
        for epoch, perm in enumerate(perms):
            lr = epoch_lr(config, epoch)
            perm = perm.to(self.device)
            for start in range(0, n, bs):
                xb, yb = data.gather(perm[:, start: start + bs])
                model.forward_backward(xb, lambda out: grad_fn(out, yb))
                with torch.no_grad():
                    opt.step(model.flat, model.grad_flat, lr)
            tick("train", networks)
        return [model.state(j) for j in range(len(members))]
