"""Optimisers on one flat buffer of K networks, with torch.optim's numerics: fused Adam, single-tensor Adam, SGD."""

from __future__ import annotations

import torch

from plantseek.train.config import TrainConfig

FLAT_ALIGN = 64  # elements: a multiple of every CPU vector width (and of the kernel's 64-byte work units)


def padded_length(n: int) -> int:
    """``n`` rounded up to a multiple of ``FLAT_ALIGN``."""
    return -(-n // FLAT_ALIGN) * FLAT_ALIGN


ADAM_BETAS = (0.9, 0.999)  # torch.optim.Adam defaults, as make_optimizer uses them
ADAM_EPS = 1e-8
# sqrt(floor) / sqrt(1 - beta2) < half an ulp of ADAM_EPS in that dtype (see FlatAdam.step)
SQRT_FLOOR = {torch.float32: 1e-36, torch.float64: 1e-60}


class FlatAdam:
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


class FlatFusedAdam:
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


class FlatSGD:
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
