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
per epoch); if one generator object serves several networks, permutations are drawn network after network, as
the per-network loop would.

Pruned weights: masked weights are set to zero before training and never updated (their gradients are masked,
or the optimiser works on a packed copy of the trainable entries only), so they stay exactly zero; the forward
pass therefore needs no weight masking. Masked *biases* (optional ``layers.{l}.bias`` mask entries) keep their
stored values, as in the per-network path (the module masks them in its forward pass): they are masked in the
forward pass here too, get zero gradients, and move only by weight decay, exactly as there.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from plantseek.core.errors import ConfigError, MaskError
from plantseek.nets.mlp import Architecture, Mask, bias_name, weight_name
from plantseek.train.loop import TrainConfig, epoch_lr, padded_length

State = dict[str, torch.Tensor]

ADAM_BETAS = (0.9, 0.999)  # torch.optim.Adam defaults, as make_optimizer uses them
ADAM_EPS = 1e-8
# sqrt(floor) / sqrt(1 - beta2) < half an ulp of ADAM_EPS in that dtype (see _Adam.step)
SQRT_FLOOR = {torch.float32: 1e-36, torch.float64: 1e-60}
DEFAULT_MEMORY_BUDGET = 2 * 1024**3  # bytes for one chunk of networks (before the available-memory cap)


# --------------------------------------------------------------------------------------------------------------
# devices and memory
# --------------------------------------------------------------------------------------------------------------
def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """``None`` -> CUDA when available, else the CPU; otherwise the named device (checked to exist)."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {name!r} (use 'cpu' or 'cuda')") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available on this machine")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"device {name!r} is not supported (use 'cpu' or 'cuda')")
    return device


def available_memory(device: torch.device) -> int | None:
    """Free memory of ``device`` in bytes, or None when it cannot be read."""
    if device.type == "cuda":
        try:
            free, _total = torch.cuda.mem_get_info(device)
            return int(free)
        except Exception:  # pragma: no cover - depends on the driver
            return None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def bytes_per_network(arch: Architecture, config: TrainConfig, n_samples: int, dtype: torch.dtype,
                      own_data: bool) -> int:
    """Estimated memory one network occupies in the batched engine (parameters, gradients, optimiser state,
    masks, activations of one batch, its share of the data and the permutation)."""
    item = torch.empty((), dtype=dtype).element_size()
    n_params = arch.n_prunable + sum(arch.widths[1:])
    per_param = 6  # param, grad, grad mask, two optimiser buffers, scratch (Adam denominator)
    activations = 3 * config.batch_size * sum(arch.widths)  # activations, their gradients, a temporary
    data = n_samples * (arch.widths[0] + arch.widths[-1]) * item if own_data else 0
    return per_param * n_params * item + activations * item + data + 8 * n_samples


def auto_chunk(arch: Architecture, config: TrainConfig, n_samples: int, dtype: torch.dtype, device: torch.device,
               own_data: bool, budget: int | None = None) -> int:
    """How many networks to stack at once: as many as fit in ``budget`` bytes (default: 2 GiB, capped at half
    the device's available memory)."""
    if budget is None:
        budget = DEFAULT_MEMORY_BUDGET
        free = available_memory(device)
        if free is not None:
            budget = min(budget, free // 2)
    return max(1, int(budget // bytes_per_network(arch, config, n_samples, dtype, own_data)))


# --------------------------------------------------------------------------------------------------------------
# losses: per-network gradient of the (mean) loss with respect to the stacked outputs
# --------------------------------------------------------------------------------------------------------------
def loss_kind(loss_fn: object) -> str | None:
    """``"mse"`` or ``"cross_entropy"`` when ``loss_fn`` is (equivalent to) one of the task losses with mean
    reduction; None for any other callable (handled generically with ``torch.func.vmap``)."""
    if isinstance(loss_fn, str):
        name = loss_fn.lower().replace("-", "_")
        if name in ("mse", "regression", "mse_loss"):
            return "mse"
        if name in ("cross_entropy", "classification", "ce"):
            return "cross_entropy"
        raise ConfigError(f"unknown loss {loss_fn!r} (use 'mse'/'regression' or 'cross_entropy'/'classification')")
    if loss_fn is torch.nn.functional.mse_loss:
        return "mse"
    if loss_fn is torch.nn.functional.cross_entropy:
        return "cross_entropy"
    if type(loss_fn) is torch.nn.MSELoss and loss_fn.reduction == "mean":
        return "mse"
    if (type(loss_fn) is torch.nn.CrossEntropyLoss and loss_fn.reduction == "mean" and loss_fn.weight is None
            and loss_fn.label_smoothing == 0.0):
        return "cross_entropy"
    owner = getattr(loss_fn, "__self__", None)
    func = getattr(loss_fn, "__func__", None)
    if owner is not None and func is not None:
        from plantseek.planted.task import Task

        if isinstance(owner, Task) and func is Task.loss:  # the stock task loss, not an override
            return "cross_entropy" if owner.kind == "classification" else "mse"
    return None


def _mse_grad(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # F.mse_loss(mean) backward: (2 / numel) * (out - y) * grad_output, numel of one network's batch
    norm = 2.0 / (out.shape[1] * out.shape[2])
    return (out - y.to(out.dtype)).mul_(norm)


def _cross_entropy_grad(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # F.cross_entropy(mean) = nll_loss(log_softmax): nll backward puts -1/b at the target class, then the
    # log-softmax backward kernel (the same aten op autograd calls)
    b = out.shape[1]
    lsm = torch.log_softmax(out, dim=-1)
    g = torch.zeros_like(out)
    g.scatter_(-1, y.unsqueeze(-1), -(1.0 / b))
    return torch._log_softmax_backward_data(g, lsm, -1, out.dtype)


class _GenericGrad:
    """Per-network gradients of an arbitrary loss ``(output, y) -> scalar``: vmap over the networks when the
    loss supports it, else a loop (the only per-network Python loop, and only for unrecognised losses)."""

    def __init__(self, loss_fn: Callable) -> None:
        self.loss_fn = loss_fn
        self.use_vmap = True

    def __call__(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.use_vmap:
            try:
                return torch.func.vmap(torch.func.grad(self.loss_fn))(out, y)
            except Exception:
                self.use_vmap = False
        with torch.enable_grad():
            o = out.detach().requires_grad_(True)
            total = sum(self.loss_fn(o[k], y[k]) for k in range(o.shape[0]))
            (g,) = torch.autograd.grad(total, o)
        return g


def _loss_grad_fn(loss_fn_or_kind: object) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    kind = loss_kind(loss_fn_or_kind)
    if kind == "mse":
        return _mse_grad
    if kind == "cross_entropy":
        return _cross_entropy_grad
    if not callable(loss_fn_or_kind):
        raise ConfigError(f"loss must be a callable or a loss name, got {loss_fn_or_kind!r}")
    return _GenericGrad(loss_fn_or_kind)


# --------------------------------------------------------------------------------------------------------------
# optimisers on one flat buffer (torch.optim numerics: fused Adam, single-tensor Adam, SGD)
# --------------------------------------------------------------------------------------------------------------
class _Adam:
    """``torch.optim.Adam``'s single-tensor CPU implementation, operation by operation."""

    def __init__(self, param: torch.Tensor, config: TrainConfig) -> None:
        self.wd = config.weight_decay
        self.exp_avg = torch.zeros_like(param)
        self.exp_avg_sq = torch.zeros_like(param)
        self.denom = torch.empty_like(param)
        self.floor = SQRT_FLOOR[param.dtype]
        self.t = 0

    def step(self, param: torch.Tensor, grad: torch.Tensor, lr: float) -> None:
        beta1, beta2 = ADAM_BETAS
        self.t += 1
        if self.wd != 0:
            grad.add_(param, alpha=self.wd)
        self.exp_avg.lerp_(grad, 1 - beta1)
        self.exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step = float(self.t)
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5
        # sqrt(exp_avg_sq), clamped first at a floor whose square root, divided by the bias correction, is
        # below half an ulp of eps: the denominator is bit-identical (eps either way), but the CPU sqrt of exact
        # zeros (every pruned weight) is ~10x slower than of normal numbers on x86.
        torch.clamp_min(self.exp_avg_sq, self.floor, out=self.denom)
        self.denom.sqrt_().div_(bias_correction2_sqrt).add_(ADAM_EPS)
        param.addcdiv_(self.exp_avg, self.denom, value=-step_size)


class _FusedAdam:
    """``torch.optim.Adam(fused=True)``: torch's fused CPU/CUDA kernel, one pass over memory. ``param`` must be
    padded to a multiple of ``training.FLAT_ALIGN`` elements (see :class:`plantseek.train.loop.FlatOptimizer`)."""

    def __init__(self, param: torch.Tensor, config: TrainConfig) -> None:
        if param.numel() % padded_length(1):
            raise ValueError(f"fused Adam needs a padded buffer, got {param.numel()} elements")
        self.wd = config.weight_decay
        self.exp_avg = torch.zeros_like(param)
        self.exp_avg_sq = torch.zeros_like(param)
        self.step_t = torch.zeros((), dtype=torch.float32, device=param.device)

    def step(self, param: torch.Tensor, grad: torch.Tensor, lr: float) -> None:
        self.step_t.add_(1)
        torch._fused_adam_([param], [grad], [self.exp_avg], [self.exp_avg_sq], [], [self.step_t], lr=lr,
                           beta1=ADAM_BETAS[0], beta2=ADAM_BETAS[1], weight_decay=self.wd, eps=ADAM_EPS,
                           amsgrad=False, maximize=False)


class _SGD:
    def __init__(self, param: torch.Tensor, config: TrainConfig) -> None:
        self.wd = config.weight_decay
        self.momentum = config.momentum
        self.buf: torch.Tensor | None = None

    def step(self, param: torch.Tensor, grad: torch.Tensor, lr: float) -> None:
        if self.wd != 0:
            grad.add_(param, alpha=self.wd)
        if self.momentum != 0:
            if self.buf is None:
                self.buf = grad.detach().clone()
            else:
                self.buf.mul_(self.momentum).add_(grad, alpha=1)
            grad = self.buf
        param.add_(grad, alpha=-lr)


# --------------------------------------------------------------------------------------------------------------
# matrix products: batched, or network by network where the batched kernel would round differently
# --------------------------------------------------------------------------------------------------------------
def _fwd_bmm(bias: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return torch.baddbmm(bias.unsqueeze(1), h, w.transpose(1, 2))


def _fwd_bmm_t(bias: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    # (W h^T + b)^T: the layout the single-matrix kernel uses for a layer with one output
    return torch.baddbmm(bias.unsqueeze(2), w, h.transpose(1, 2)).transpose(1, 2)


def _fwd_outer(bias: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    # a layer with one input is an outer product plus bias: one multiply-add per entry
    if h.shape[2] != 1:
        return None
    return torch.addcmul(bias.unsqueeze(1), h, w.transpose(1, 2))


def _fwd_loop(bias: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    out = torch.empty(h.shape[0], h.shape[1], w.shape[1], dtype=h.dtype, device=h.device)
    for k in range(h.shape[0]):  # exactly F.linear's addmm, per network
        torch.addmm(bias[k], h[k], w[k].t(), out=out[k])
    return out


def _gw_bmm(g: torch.Tensor, h: torch.Tensor, out: torch.Tensor) -> None:
    torch.bmm(g.transpose(1, 2), h, out=out)


def _gw_bmm_t(g: torch.Tensor, h: torch.Tensor, out: torch.Tensor) -> None:
    out.copy_(torch.bmm(h.transpose(1, 2), g).transpose(1, 2))


def _gw_loop(g: torch.Tensor, h: torch.Tensor, out: torch.Tensor) -> None:
    for k in range(g.shape[0]):  # autograd's weight gradient of F.linear: grad_output^T @ input
        torch.mm(g[k].t(), h[k], out=out[k])


def _gh_bmm(g: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return torch.bmm(g, w)


def _gh_loop(g: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    out = torch.empty(g.shape[0], g.shape[1], w.shape[2], dtype=g.dtype, device=g.device)
    for k in range(g.shape[0]):
        torch.mm(g[k], w[k], out=out[k])
    return out


# per product kind: batched candidates in order of preference, then the per-network loop
PRODUCTS = {
    "fwd": ((_fwd_bmm, _fwd_bmm_t, _fwd_outer), _fwd_loop),
    "gw": ((_gw_bmm, _gw_bmm_t), _gw_loop),
    "gh": ((_gh_bmm,), _gh_loop),
}
_CALIBRATION: dict[tuple, int] = {}


def _run_product(kind: str, fn, h, w, bias, g):
    if kind == "fwd":
        return fn(bias, h, w)
    if kind == "gw":
        out = torch.empty_like(w)
        fn(g, h, out)
        return out
    return fn(g, w)


def product_plan(kind: str, k: int, b: int, n_in: int, n_out: int, dtype: torch.dtype, device: torch.device,
                 exact: bool = True):
    """The function computing one product of a layer (``kind``: "fwd" output, "gw" weight gradient, "gh" input
    gradient) for K networks with batches of ``b``.

    With ``exact``, the first batched candidate that gives bit for bit what the per-network kernel gives on
    random data of these shapes (three probes, cached per process), else the per-network loop. On x86 with MKL
    the plain batched product agrees for ordinary shapes but not for degenerate ones (a layer with one input
    or one output, a batch of one), where the single-matrix kernel takes a gemv or fused multiply-add path.
    Such rounding differences are tiny, but training is chaotic enough to blow them up beyond 1e-5 within a
    run; matching the kernels keeps the batched engine on the per-network trajectory.
    """
    candidates, loop = PRODUCTS[kind]
    if not exact:
        return candidates[0]
    key = (kind, k, b, n_in, n_out, dtype, device.type, torch.get_num_threads())
    if key not in _CALIBRATION:
        gen = torch.Generator().manual_seed(20240611)
        probes = []
        for _ in range(3):
            h, w, bias, g = (torch.randn(*shape, generator=gen, dtype=dtype).to(device)
                             for shape in ((k, b, n_in), (k, n_out, n_in), (k, n_out), (k, b, n_out)))
            probes.append(((h, w, bias, g), _run_product(kind, loop, h, w, bias, g)))
        choice = -1
        for i, fn in enumerate(candidates):
            try:
                if all(torch.equal(_run_product(kind, fn, *args), want) for args, want in probes):
                    choice = i
                    break
            except (TypeError, AttributeError):  # candidate not applicable to these shapes
                continue
        _CALIBRATION[key] = choice
    choice = _CALIBRATION[key]
    return loop if choice < 0 else candidates[choice]


def _as_list(value, k: int, what: str) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != k:
            raise ConfigError(f"need one {what} per mask: got {len(value)} for {k} masks")
        return list(value)
    return [value] * k


def _check_mask(arch: Architecture, mask: Mask | None, index: int) -> None:
    if mask is None:
        return
    if not isinstance(mask, dict):
        raise MaskError(f"mask {index} is not a dict of tensors")
    shapes = {**arch.weight_shapes(), **arch.bias_shapes()}
    for name in arch.weight_names():
        if name not in mask:
            raise MaskError(f"mask {index} has no entry {name!r}")
    for name, m in mask.items():
        if name not in shapes:
            raise MaskError(f"mask {index} has an unknown entry {name!r}")
        if tuple(m.shape) != tuple(shapes[name]):
            raise MaskError(f"mask {index} entry {name!r} has shape {tuple(m.shape)}, expected {shapes[name]}")
        if m.dtype != torch.bool and bool(((m != 0) & (m != 1)).any()):
            raise MaskError(f"mask {index} entry {name!r} is not 0/1")


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
        for l in range(self.arch.n_layers):
            o, i = self.arch.widths[l + 1], self.arch.widths[l]
            out.append((weight_name(l), (self.k, o, i), offset))
            offset += self.k * o * i
            out.append((bias_name(l), (self.k, o), offset))
            offset += self.k * o
        return out

    @property
    def numel(self) -> int:
        return self.k * (self.arch.n_prunable + sum(self.arch.widths[1:]))

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
        p, g, km = self.layout.views(self.flat), self.layout.views(self.grad_flat), self.layout.views(keep)
        L = arch.n_layers
        self.weights = [p[weight_name(l)] for l in range(L)]
        self.biases = [p[bias_name(l)] for l in range(L)]
        self.weight_grads = [g[weight_name(l)] for l in range(L)]
        self.bias_grads = [g[bias_name(l)] for l in range(L)]
        self.weight_masks = [km[weight_name(l)] for l in range(L)]
        self.bias_masks: list[torch.Tensor | None] = [None] * L
        self.trainable = torch.ones(self.layout.numel, dtype=torch.bool, device=self.device)
        tr = self.layout.views(self.trainable)
        with torch.no_grad():
            for l in range(L):
                wn, bn = weight_name(l), bias_name(l)
                self.weights[l].copy_(torch.stack([s[wn].to(dtype) for s in states]).to(self.device))
                self.biases[l].copy_(torch.stack([s[bn].to(dtype) for s in states]).to(self.device))
                wm = self.weight_masks[l]
                for k, m in enumerate(masks):
                    if m is not None:
                        wm[k].copy_(m[wn].to(dtype))
                self.weights[l].mul_(wm)  # pruned weights are exactly zero from here on
                tr[wn].copy_(wm != 0)
                if any(m is not None and bn in m for m in masks):
                    bm = km[bn]
                    for k, m in enumerate(masks):
                        if m is not None and bn in m:
                            bm[k].copy_(m[bn].to(dtype))
                    self.bias_masks[l] = bm
        self.dense_layer = [bool(self.weight_masks[l].all()) for l in range(L)]
        self._plans: dict[tuple[str, int, int], Callable] = {}

    def _product(self, kind: str, l: int, b: int) -> Callable:
        key = (kind, l, b)
        if key not in self._plans:
            self._plans[key] = product_plan(kind, self.k, b, self.arch.widths[l], self.arch.widths[l + 1],
                                            self.dtype, self.device, self.exact)
        return self._plans[key]

    def forward(self, x: torch.Tensor, keep: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Outputs (K, b, out) for inputs (K, b, in); with ``keep`` also the inputs of every layer."""
        acts = [x]
        L = self.arch.n_layers
        b = x.shape[1]
        for l in range(L):
            bias = self.biases[l] if self.bias_masks[l] is None else self.biases[l] * self.bias_masks[l]
            z = self._product("fwd", l, b)(bias, x, self.weights[l])
            if l < L - 1:
                z = z.relu_()
            if keep:
                acts.append(z)
            x = z
        return x, acts

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


def _epoch_permutations(generators: Sequence[torch.Generator], n: int, epochs: int, device: torch.device):
    """Yield, per epoch, the (K, n) permutations: one ``randperm`` per network and epoch from its generator.

    With distinct generators they are drawn lazily, epoch by epoch. If a generator object serves several
    networks, the per-network path would draw all epochs of network 0 first, then network 1, ...: that order
    is reproduced by drawing everything up front.
    """
    if len({id(g) for g in generators}) == len(generators):
        for _ in range(epochs):
            yield torch.stack([torch.randperm(n, generator=g) for g in generators]).to(device)
        return
    per_net = [[torch.randperm(n, generator=g) for _ in range(epochs)] for g in generators]
    for e in range(epochs):
        yield torch.stack([p[e] for p in per_net]).to(device)


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
        optimizer = _FusedAdam if config.fused_adam else _Adam if config.optimizer == "adam" else _SGD
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

    def train(self, generators: Sequence[torch.Generator]) -> list[State]:
        bs = self.config.batch_size
        n = self.data.n
        with torch.no_grad():
            perms = _epoch_permutations(generators, n, self.config.epochs, self.model.device)
            for epoch, perm in enumerate(perms):
                lr = epoch_lr(self.config, epoch)
                for start in range(0, n, bs):
                    self.step(perm[:, start: start + bs], lr)
        return [self.model.state(k) for k in range(self.model.k)]


def train_masks_batched(arch: Architecture, initial_states: Sequence[State] | State, masks: Sequence[Mask | None],
                        xs: Sequence[torch.Tensor] | torch.Tensor, ys: Sequence[torch.Tensor] | torch.Tensor,
                        loss_fn_or_kind, config: TrainConfig, generators: Sequence[torch.Generator],
                        dtype: torch.dtype = torch.float32, device: str | torch.device | None = "cpu",
                        chunk: int | None = None, *, exact: bool | None = None) -> list[State]:
    """Train one network per mask, all at once; return their trained state dicts (CPU, ``dtype``).

    ``initial_states``, ``xs``, ``ys``: one per mask, or a single one shared by all. ``loss_fn_or_kind``: the
    task's loss (``Task.loss``, ``F.mse_loss``, ``F.cross_entropy``), a name (``"mse"``, ``"cross_entropy"``,
    or the task kinds ``"regression"``, ``"classification"``), or any callable ``(output, y) -> scalar``
    (vectorised with ``torch.func.vmap`` when possible). ``generators``: one per mask (the data order).
    ``chunk``: networks stacked at once (default: as many as fit the memory budget, see :func:`auto_chunk`).
    ``exact`` (default: on the CPU): compute the few products whose batched kernel rounds differently from
    the per-network kernel in a matching way (:func:`product_plan`), so that float32 runs match
    the per-network path bit for bit where the kernels allow it. Adam's implementation is
    ``config.adam_kernel``, as in the per-network path.
    Equivalent to ``train_model`` per network with the same generator (see the module docstring).
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
    for i, m in enumerate(masks):
        _check_mask(arch, m, i)
    states = _as_list(initial_states, k, "initial state")
    grad_fn = _loss_grad_fn(loss_fn_or_kind)
    own_data = isinstance(xs, (list, tuple))
    xs_l, ys_l = (_as_list(xs, k, "x"), _as_list(ys, k, "y")) if own_data else (None, None)
    n = (xs_l[0] if own_data else xs).shape[0]
    if chunk is None:
        chunk = auto_chunk(arch, config, n, dtype, device, own_data)
    elif isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ConfigError(f"chunk must be a positive integer, got {chunk!r}")
    shared_data = None if own_data else _Data(xs, ys, k, dtype, device)
    results: list[State] = []
    for lo in range(0, k, chunk):
        hi = min(k, lo + chunk)
        data = shared_data or _Data(xs_l[lo:hi], ys_l[lo:hi], hi - lo, dtype, device)
        trainer = BatchedTrainer(arch, states[lo:hi], masks[lo:hi], data, grad_fn, config, dtype, device,
                                 exact=exact)
        results += trainer.train(generators[lo:hi])
    return results


def default_threads() -> int:
    """The number of CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
