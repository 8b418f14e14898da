"""Batched training: K masked MLPs of one architecture trained at once as stacked tensors.

Every network ``k`` has its own mask, initial state, training data, data order (its own generator) and
optimiser state, exactly as if it were trained alone by :func:`plantseek.train.loop.train_model`; the engine only
stacks them so that one batched matrix product per layer and step (``torch.baddbmm`` / ``torch.bmm``) serves
all K networks, and the optimiser runs as a handful of vectorised operations over one flat buffer holding every
parameter of every network.

Numerical contract: the same computation as the per-network path, operation by operation. Adam runs torch's
fused kernel over the padded flat buffer exactly as the per-network path runs it over its own padded flat
buffer (``TrainConfig.adam_kernel="fused"``, the default; see :mod:`plantseek.train.loop` for why the padding makes
the two agree bit for bit), or repeats ``torch.optim.Adam``'s single-tensor CPU path elementwise
(``"single-tensor"``); SGD repeats ``torch.optim.SGD``'s; the loss gradients are those of
``F.mse_loss`` / ``F.cross_entropy`` with mean reduction, per network (the K losses are summed, so each network's
gradient is its own); each matrix product uses a batched formulation that rounds exactly like the per-network
kernel, probed per shape (:func:`product_plan`), or falls back to the per-network kernel for the few degenerate
shapes where none does (layers with one input or one output in float32). On the CPU this makes whole float32
runs bit-identical to ``train_model`` on every task shape tested (Circle, ReLU, Helix, 10 epochs). That matters:
training is chaotic enough to blow a single rounding difference up beyond 1e-5 within one run. Tests hold
float64 to 1e-10 and float32 to 1e-5 relative.

How the data order is kept: in every epoch each network draws ``torch.randperm(n, generator=g_k)`` from its
own generator and cuts it into consecutive batches of ``batch_size`` (the last one may be smaller) — the rule of
``training.batches``. Generators are consumed exactly as the per-network path consumes them (one permutation
per epoch); one generator object serving several networks draws network after network, as the per-network loop.

Engine 2: a sparse network may train compacted to its live units (:mod:`plantseek.train.compact`; equal up to float
rounding, chosen from its mask alone: the same bytes alone or in any batch).

Pruned weights: masked weights are set to zero before training and never updated (their gradients are masked,
or the optimiser works on a packed copy of the trainable entries only), so they stay exactly zero; the forward
pass therefore needs no weight masking. Masked *biases* (optional ``layers.{l}.bias`` mask entries) keep their
stored values, as in the per-network path (the module masks them in its forward pass): they are masked in the
forward pass here too, get zero gradients, and move only by weight decay, exactly as there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from plantseek.core.errors import ConfigError
from plantseek.core.progress import tick
from plantseek.families.mlp.network import Architecture, Mask, bias_name, weight_name
from plantseek.nets.interface import count
from plantseek.nets.masks import validate_mask
from plantseek.train.config import TrainConfig, epoch_lr
from plantseek.train.compact import compact as compact_masked, compact_plan, expand
from plantseek.train.device import auto_chunk, resolve_device
from plantseek.train.engine import active_engine, compacts
from plantseek.train.flat_optimizers import padded_length, FlatSGD, FlatAdam, FlatFusedAdam
from plantseek.train.losses import loss_grad_fn
from plantseek.train.products import product_plan

State = dict[str, torch.Tensor]


def _as_list(value, k: int, what: str) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != k:
            raise ConfigError(f"need one {what} per mask: got {len(value)} for {k} masks")
        return list(value)
    return [value] * k


# --------------------------------------------------------------------------------------------------------------
# the stacked model
# --------------------------------------------------------------------------------------------------------------
@dataclass
class _Layout:
    """Offsets of every stacked parameter inside the flat buffer: [W0, b0, W1, b1, ...], each (K, *shape)."""

    arch: Architecture
    k: int

    def segments(self) -> list[tuple[str, tuple[int, ...], int]]:
        out, offset = [], 0
        for name, shape in self.arch.parameter_shapes().items():  # the protocol's order: W0, b0, W1, b1, ...
            out.append((name, (self.k, *shape), offset))
            offset += self.k * math.prod(shape)
        return out

    @property
    def numel(self) -> int:
        return self.k * count(self.arch.parameter_shapes())

    def views(self, flat: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: flat[off: off + math.prod(shape)].view(shape) for name, shape, off in self.segments()}


class StackedMLPs:
    """K masked MLPs of one architecture as stacked tensors, with a hand-written backward pass.

    ``weights[l]``: (K, out, in), ``biases[l]``: (K, out), all views into one flat parameter buffer ``flat``;
    ``grad_flat`` mirrors it. ``trainable`` (flat, bool) marks the entries an optimiser may change: kept
    weights and every bias (a masked bias gets a zero gradient, but weight decay still moves its stored value,
    as in the per-network path). ``exact``: compute the products whose batched kernel rounds differently from
    the per-network one with a matching formulation or network by network (see :func:`product_plan`).
    """

    def __init__(self, arch: Architecture, states: Sequence[State], masks: Sequence[Mask | None],
                 dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu", exact: bool = True) -> None:
        self.arch = arch
        self.k = len(masks)
        self.dtype = dtype
        self.device = torch.device(device)
        self.exact = exact
        self.layout = _Layout(arch, self.k)
        # flat buffers padded for the fused optimiser; the padding holds zeros and is never read by the model
        self.flat = torch.zeros(padded_length(self.layout.numel), dtype=dtype, device=self.device)
        self.grad_flat = torch.zeros_like(self.flat)
        keep = torch.ones(self.layout.numel, dtype=dtype, device=self.device)
        self.params, g, km = self.layout.views(self.flat), self.layout.views(self.grad_flat), self.layout.views(keep)
        L = arch.n_layers
        self.weights = [self.params[weight_name(l)] for l in range(L)]
        self.biases = [self.params[bias_name(l)] for l in range(L)]
        self.weight_grads = [g[weight_name(l)] for l in range(L)]
        self.bias_grads = [g[bias_name(l)] for l in range(L)]
        self.weight_masks = [km[weight_name(l)] for l in range(L)]
        self.trainable = torch.ones(self.layout.numel, dtype=torch.bool, device=self.device)
        self.stacked_masks = self._load(states, masks, km, self.layout.views(self.trainable))
        self.bias_masks: list[torch.Tensor | None] = [self.stacked_masks.get(bias_name(l)) for l in range(L)]
        self.dense_layer = [bool(self.weight_masks[l].all()) for l in range(L)]
        self._plans: dict[tuple[str, int, int], Callable] = {}

    def _load(self, states: Sequence[State], masks: Sequence[Mask | None], km: State, tr: State) -> State:
        """Copy the states into the stacked parameters and the masks into ``km`` (mask values) and ``tr``
        (trainable entries); zero the pruned weights. Returns the masks of the masked biases (forward pass)."""
        prunable, maskable = self.arch.prunable_shapes(), self.arch.bias_shapes()
        stacked_masks: State = {}
        dtype = self.dtype
        with torch.no_grad():
            for name, p in self.params.items():
                p.copy_(torch.stack([s[name].to(dtype) for s in states]).to(self.device))
                if name in prunable:
                    for k, m in enumerate(masks):
                        if m is not None:
                            km[name][k].copy_(m[name].to(dtype))
                    p.mul_(km[name])  # pruned weights are exactly zero from here on
                    tr[name].copy_(km[name] != 0)
                elif name in maskable and any(m is not None and name in m for m in masks):
                    for k, m in enumerate(masks):
                        if m is not None and name in m:
                            km[name][k].copy_(m[name].to(dtype))
                    stacked_masks[name] = km[name]
        return stacked_masks

    def _product(self, kind: str, l: int, b: int) -> Callable:
        key = (kind, l, b)
        if key not in self._plans:
            self._plans[key] = product_plan(kind, self.k, b, self.arch.widths[l], self.arch.widths[l + 1],
                                            self.dtype, self.device, self.exact)
        return self._plans[key]

    def forward(self, x: torch.Tensor, keep: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Outputs (K, b, out) for inputs (K, b, in); with ``keep`` also the inputs of every layer. The MLP's
        stacked forward pass (``Architecture.forward_stacked``) with this engine's product plans."""
        acts = [x] if keep else None
        b = x.shape[1]
        out = self.arch.forward_stacked(self.params, x, self.stacked_masks,
                                        product=lambda l, bias, h, w: self._product("fwd", l, b)(bias, h, w),
                                        activations=acts)
        return out, acts if keep else []

    def backward(self, acts: list[torch.Tensor], g: torch.Tensor, mask_weight_grads: bool = True) -> None:
        """Fill ``grad_flat`` from the output gradient ``g`` (K, b, out) and the kept activations. Gradients of
        pruned weights are zeroed only with ``mask_weight_grads`` (an optimiser that touches only trainable
        entries never reads them)."""
        b = g.shape[1]
        for l in range(self.arch.n_layers - 1, -1, -1):
            h = acts[l]
            self._product("gw", l, b)(g, h, self.weight_grads[l])
            if mask_weight_grads and not self.dense_layer[l]:
                self.weight_grads[l].mul_(self.weight_masks[l])
            torch.sum(g, dim=1, out=self.bias_grads[l])
            if self.bias_masks[l] is not None:
                self.bias_grads[l].mul_(self.bias_masks[l])
            if l > 0:
                g = torch.ops.aten.threshold_backward(self._product("gh", l, b)(g, self.weights[l]), h, 0)

    def state(self, k: int) -> State:
        """Network ``k``'s parameters as a CPU state dict (copies)."""
        out: State = {}
        for l in range(self.arch.n_layers):
            out[weight_name(l)] = self.weights[l][k].detach().to("cpu", copy=True)
            out[bias_name(l)] = self.biases[l][k].detach().to("cpu", copy=True)
        return out


class _Data:
    """The training sets of K networks (shared or one each) and the gather of one step's batches."""

    def __init__(self, xs, ys, k: int, dtype: torch.dtype, device: torch.device) -> None:
        shared = not isinstance(xs, (list, tuple))
        if shared != (not isinstance(ys, (list, tuple))):
            raise ConfigError("xs and ys must both be lists (one data set per network) or both single tensors")
        if shared:
            xs_, ys_ = [xs], [ys]
        else:
            xs_, ys_ = _as_list(xs, k, "x"), _as_list(ys, k, "y")
        n = {t.shape[0] for t in xs_} | {t.shape[0] for t in ys_}
        if len(n) != 1:
            raise ConfigError(f"all training sets must have the same number of samples, got sizes {sorted(n)}")
        self.n = n.pop()
        x = torch.stack([t.to(dtype) for t in xs_]).to(device)  # (S, n, in), S = 1 or K
        y = torch.stack([t if not t.is_floating_point() else t.to(dtype) for t in ys_]).to(device)
        self.x_flat = x.reshape(x.shape[0] * self.n, *x.shape[2:])
        self.y_flat = y.reshape(y.shape[0] * self.n, *y.shape[2:])
        self.offsets = None if shared else (torch.arange(k, device=device) * self.n).unsqueeze(1)

    def gather(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Batches for index rows ``idx`` (K, b): inputs (K, b, in) and targets (K, b, ...), one gather each."""
        if self.offsets is not None:
            idx = idx + self.offsets
        return self.x_flat[idx], self.y_flat[idx]


def _epoch_permutations(generators: Sequence[torch.Generator], n: int, epochs: int, device: torch.device,
                        drawn: Sequence[Sequence[torch.Tensor]] | None = None):
    """Yield, per epoch, the (K, n) permutations: one ``randperm`` per network and epoch from its generator.

    With distinct generators they are drawn lazily, epoch by epoch. If a generator object serves several
    networks, the per-network path would draw all epochs of network 0 first, then network 1, ...: that order
    is reproduced by drawing everything up front (``drawn``: already drawn, one list of epochs per network, by
    :func:`draw_permutations` over every network of a call).
    """
    if drawn is None and len({id(g) for g in generators}) == len(generators):
        for _ in range(epochs):
            yield torch.stack([torch.randperm(n, generator=g) for g in generators]).to(device)
        return
    per_net = drawn if drawn is not None else draw_permutations(generators, n, epochs)
    for e in range(epochs):
        yield torch.stack([p[e] for p in per_net]).to(device)


def draw_permutations(generators: Sequence[torch.Generator], n: int, epochs: int) -> list[list[torch.Tensor]]:
    """Every network's permutations of every epoch, drawn network after network (the per-network path's order)."""
    return [[torch.randperm(n, generator=g) for _ in range(epochs)] for g in generators]


# Optimise a packed copy of the trainable entries when fewer than this share is trainable. Gathering and
# scattering cost about as much per entry as ten passes over the flat buffer: worth it for the multi-pass
# optimisers (single-tensor Adam, SGD) below half, for the one-pass fused Adam only below ~15 % (measured).
PACK_BELOW = {"fused": 0.15, "multi-pass": 0.5}


class BatchedTrainer:
    """One chunk of networks in training: the stacked model, its data, loss gradient and optimiser.

    The optimiser works on the (padded) flat buffer directly when most entries are trainable; otherwise on a
    packed, padded copy of the trainable entries (gathered gradients in, updated parameters scattered back),
    which skips the work on pruned weights entirely. Both give identical numbers (the optimisers are
    elementwise, and the fused kernel takes its vector loop for every element of a padded buffer).
    """

    def __init__(self, arch: Architecture, states: Sequence[State], masks: Sequence[Mask | None], data: _Data,
                 loss_grad, config: TrainConfig, dtype: torch.dtype = torch.float32,
                 device: torch.device | str = "cpu", exact: bool = True) -> None:
        self.model = StackedMLPs(arch, states, masks, dtype, device, exact)
        self.data = data
        self.loss_grad = loss_grad
        self.config = config
        share = float(self.model.trainable.float().mean())
        pack_below = PACK_BELOW["fused" if config.fused_adam else "multi-pass"]
        self.packed_index = self.model.trainable.nonzero().squeeze(1) if share < pack_below else None
        if self.packed_index is None:
            self.params, self.grads = self.model.flat, self.model.grad_flat
        else:
            m = self.packed_index.numel()
            self.params = torch.zeros(padded_length(m), dtype=dtype, device=self.model.device)
            self.params[:m] = self.model.flat[self.packed_index]
            self.grads = torch.zeros_like(self.params)
        optimizer = FlatFusedAdam if config.fused_adam else FlatAdam if config.optimizer == "adam" else FlatSGD
        self.opt = optimizer(self.params, config)

    def step(self, rows: torch.Tensor, lr: float) -> None:
        """One optimiser step of every network on its batch ``rows`` (K, b) of sample indices."""
        xb, yb = self.data.gather(rows)
        out, acts = self.model.forward(xb, keep=True)
        packed = self.packed_index is not None
        self.model.backward(acts, self.loss_grad(out, yb), mask_weight_grads=not packed)
        if packed:
            m = self.packed_index.numel()
            torch.index_select(self.model.grad_flat, 0, self.packed_index, out=self.grads[:m])
            self.opt.step(self.params, self.grads, lr)
            self.model.flat.index_copy_(0, self.packed_index, self.params[:m])
        else:
            self.opt.step(self.params, self.grads, lr)

    def train(self, generators: Sequence[torch.Generator],
              drawn: Sequence[Sequence[torch.Tensor]] | None = None) -> list[State]:
        bs = self.config.batch_size
        n = self.data.n
        with torch.no_grad():
            perms = _epoch_permutations(generators, n, self.config.epochs, self.model.device, drawn)
            for epoch, perm in enumerate(perms):
                lr = epoch_lr(self.config, epoch)
                for start in range(0, n, bs):
                    self.step(perm[:, start: start + bs], lr)
                tick("train", self.model.k)
        return [self.model.state(k) for k in range(self.model.k)]


def train_masks_batched(arch: Architecture, initial_states: Sequence[State] | State, masks: Sequence[Mask | None],
                        xs: Sequence[torch.Tensor] | torch.Tensor, ys: Sequence[torch.Tensor] | torch.Tensor,
                        loss_fn_or_kind, config: TrainConfig, generators: Sequence[torch.Generator],
                        dtype: torch.dtype = torch.float32, device: str | torch.device | None = "cpu",
                        chunk: int | None = None, *, exact: bool | None = None,
                        compact: bool | None = None) -> list[State]:
    """Train one network per mask, all at once; return their trained state dicts (CPU, ``dtype``).

    ``initial_states``, ``xs``, ``ys``: one per mask, or a single one shared by all. ``loss_fn_or_kind``: the
    task's loss (``Task.loss``, ``F.mse_loss``, ``F.cross_entropy``), a name (``"mse"``, ``"cross_entropy"``,
    or the task kinds ``"regression"``, ``"classification"``), or any callable ``(output, y) -> scalar``
    (vectorised with ``torch.func.vmap`` when possible). ``generators``: one per mask (the data order).
    ``chunk``: networks stacked at once (default: as many as fit the memory budget, see :func:`auto_chunk`).
    ``exact`` (default: on the CPU): compute the few products whose batched kernel rounds differently from
    the per-network kernel in a matching way (:func:`product_plan`), so that float32 runs match the per-network
    path bit for bit where the kernels allow it. Adam's implementation is ``config.adam_kernel``, as there.
    ``compact`` (default: the active engine's, :mod:`plantseek.train.engine`): train sparse networks compacted to
    their live units (:mod:`plantseek.train.compact`). Equivalent to ``train_model`` per network with the same
    generator (see the module docstring); without compaction bit for bit where the kernels allow it.
    """
    masks = list(masks)
    k = len(masks)
    if len(generators) != k:
        raise ConfigError(f"need one generator per mask: got {len(generators)} for {k} masks")
    if dtype not in (torch.float32, torch.float64):
        raise ConfigError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    if k == 0:
        return []
    device = resolve_device(device)
    if exact is None:
        exact = device.type == "cpu"
    for i, m in enumerate(masks):  # None: dense; else weights required, biases optional, 0/1 of any dtype
        if m is not None:
            validate_mask(m, arch.weight_shapes(), None, arch.bias_shapes(), any_dtype=True, label=f"mask {i}")
    states = _as_list(initial_states, k, "initial state")
    grad_fn = loss_grad_fn(loss_fn_or_kind)
    own_data = isinstance(xs, (list, tuple))
    xs_l, ys_l = (_as_list(xs, k, "x"), _as_list(ys, k, "y")) if own_data else (None, None)
    n = (xs_l[0] if own_data else xs).shape[0]
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
        raise ConfigError(f"chunk must be a positive integer, got {chunk!r}")
    if compact is None:
        compact = compacts(active_engine())
    shared_data = None if own_data else _Data(xs, ys, k, dtype, device)
    plans, by_arch = _by_architecture(arch, masks, config, compact)
    drawn = None
    if len(by_arch) > 1 and len({id(g) for g in generators}) < k:  # a shared generator: keep the per-network order
        drawn = draw_permutations(generators, n, config.epochs)
    results: dict[int, State] = {}
    for a, members in by_arch.items():
        size = chunk if chunk is not None else auto_chunk(a, config, n, dtype, device, own_data)
        for lo in range(0, len(members), size):
            part = members[lo: lo + size]
            data = shared_data or _Data([xs_l[i] for i in part], [ys_l[i] for i in part], len(part), dtype, device)
            results.update(_train_part(a, part, plans, states, masks, data, grad_fn, config, generators, drawn,
                                       dtype, device, exact))
    return [results[i] for i in range(k)]


def _by_architecture(arch: Architecture, masks: list[Mask | None], config: TrainConfig,
                     compact: bool) -> tuple[list, dict[Architecture, list[int]]]:
    """Per network its plan (None: trained on the full host; else compacted to its live units), and the networks
    of each architecture that trains (the host's or a compacted one), in order of first appearance."""
    plans = [compact_plan(arch, m, config) if compact else None for m in masks]
    by_arch: dict[Architecture, list[int]] = {}
    for i, p in enumerate(plans):
        by_arch.setdefault(arch if p is None else p.arch, []).append(i)
    return plans, by_arch


def _train_part(arch: Architecture, part: list[int], plans: list, states: list[State], masks: list[Mask | None],
                data: _Data, grad_fn, config: TrainConfig, generators: Sequence[torch.Generator],
                drawn: list[list[torch.Tensor]] | None, dtype: torch.dtype, device: torch.device,
                exact: bool) -> dict[int, State]:
    """Networks ``part`` (indices into the call's lists) of one architecture ``arch`` (the host's, or their
    compacted one) trained as one stack: their full-size trained states, by index."""
    starts, ms = [], []
    for i in part:
        p, m = plans[i], masks[i]
        if p is None:
            starts.append(states[i])
            ms.append(m)
        else:
            assert m is not None
            start, mask = compact_masked(p, states[i], m)
            starts.append(start)
            ms.append(mask)
    trainer = BatchedTrainer(arch, starts, ms, data, grad_fn, config, dtype, device, exact=exact)
    trained = trainer.train([generators[i] for i in part], None if drawn is None else [drawn[i] for i in part])
    out = {}
    for i, t in zip(part, trained):
        p, m = plans[i], masks[i]
        out[i] = t if p is None or m is None else expand(p, t, states[i], m, dtype)
    return out
