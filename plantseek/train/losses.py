"""Per-network gradients of the (mean) task loss with respect to stacked outputs (K, b, out), for the batched engine.

The two task losses get hand-written gradients that repeat autograd's kernels (so the numbers are those of the
per-network path); any other loss is vectorised with ``torch.func.vmap``."""

from __future__ import annotations

from typing import Callable

import torch

from plantseek.core.errors import ConfigError


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


def _binary_grad(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    # F.binary_cross_entropy_with_logits(mean) backward: (sigmoid(out) - y) / numel, numel of one network's batch
    return (torch.sigmoid(out) - y.to(out.dtype)).div_(out.shape[1] * out.shape[2])


def _cross_entropy_grad(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    if y.is_floating_point() and out.shape[-1] == 1 and y.shape[-1:] == (1,):  # the stock task loss's binary case
        return _binary_grad(out, y)
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


def loss_grad_fn(loss_fn_or_kind: object) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    kind = loss_kind(loss_fn_or_kind)
    if kind == "mse":
        return _mse_grad
    if kind == "cross_entropy":
        return _cross_entropy_grad
    if not callable(loss_fn_or_kind):
        raise ConfigError(f"loss must be a callable or a loss name, got {loss_fn_or_kind!r}")
    return _GenericGrad(loss_fn_or_kind)
