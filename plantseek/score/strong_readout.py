"""The strong-ticket readout: an affine map per output, fitted for each mask on the TRAINING split.

A strong ticket is a mask on the host's initial weights; the planted ticket's outputs carry tiny per-output
factors (``PlantedInstance.scales``, 1e-3..1e-11), and any other mask's outputs carry factors of its own that
nobody knows. Dividing every mask's outputs by the *planted* factors is right for the exact ticket and wrong for
every other mask: their regression MSE is blown up to 1e3..1e12, and a collapsed (constant) network scores best.
So every mask gets its own readout, fitted on the training split (never the test split, never the ground truth):

``readout_k(z) = a_k * z_k + c_k`` for every output ``k`` (a diagonal affine map: no mixing of outputs),

* **regression**: ordinary least squares of ``y_k`` on ``z_k`` with an intercept, per output (closed form);
  the sign of ``a_k`` is free, as in the reference code's least-squares output scale;
* **classification**: minimum mean cross-entropy of the logits ``a * z + c`` (convex in ``(a, c)``; solved in
  float64 by damped Newton steps with the exact Hessian). Per-logit scales are needed because planting gives each
  logit its own factor (raw argmax is meaningless); the offsets let a network whose logits carry no information
  predict the most frequent class, as the best constant predictor does;
* **binary classification** (one logit, float 0/1 labels of shape ``(n, 1)``, BCE with logits, as Cubist Spiral):
  minimum mean binary cross-entropy of the single logit ``a * z + c`` (a 1-D logistic regression of ``y`` on
  ``z`` with an intercept; convex in ``(a, c)``; the same damped Newton steps on its 2 x 2 exact Hessian); the
  prediction is class 1 where ``a * z + c > 0`` (accuracy = sign agreement). A constant logit gets ``a = 0`` and
  ``c = log(p / (1 - p))`` for the training frequency ``p`` of class 1 (the majority class, as the best constant
  predictor). On linearly separable data the optimum lies at infinity: the Newton iterations stop after
  ``NEWTON_ITERATIONS`` with a large scale that separates the training split (its sign, which is what accuracy
  reads, is settled after the first steps). Which rule applies is read from the labels
  (:func:`is_binary_labels`), so every existing task keeps its readout bit for bit.

Properties (tested): the exact planted ticket scores (up to the estimation error of 2 * outputs parameters on
9,000 samples) the target network's own metric; a constant-output mask scores exactly what the best constant
predictor fitted on the training split scores (the training mean for MSE, the most frequent class for accuracy);
an output that is constant gets ``a_k = 0``. Inputs and outputs are float64. Pure functions, no instance I/O.
"""

from __future__ import annotations

import math
from typing import Any, Callable
from dataclasses import dataclass

import torch

NEWTON_ITERATIONS = 50
RIDGE = 1e-9  # added to the Hessian's diagonal: keeps the Newton system solvable when logits are collinear


@dataclass(frozen=True)
class AffineReadout:
    """``a * z + c`` per output (both of shape ``(outputs,)``, float64)."""

    scale: torch.Tensor
    offset: torch.Tensor

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return z.double() * self.scale + self.offset


def _standardised(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(zs, mean, std, live)``: ``zs = (z - mean) / std`` per output, 0 where an output is constant."""
    mean = z.mean(0)
    std = z.std(0, unbiased=False)
    live = std > 0
    zs = torch.where(live, (z - mean) / torch.where(live, std, torch.ones_like(std)), torch.zeros_like(z))
    return zs, mean, std, live


def fit_regression(z: torch.Tensor, y: torch.Tensor) -> AffineReadout:
    """Least squares with intercept, output by output: ``a = cov(z, y) / var(z)``, ``c = mean(y) - a mean(z)``."""
    z, y = z.double(), y.double()
    zs, mean, std, live = _standardised(z)
    beta = (zs * (y - y.mean(0))).mean(0)  # slope on the standardised output (its variance is 1)
    scale = torch.where(live, beta / torch.where(live, std, torch.ones_like(std)), torch.zeros_like(beta))
    return AffineReadout(scale, y.mean(0) - scale * mean)


def _damped_newton(loss: Callable[[Any, Any], float], direction: Callable[[Any, Any], tuple[Any, Any]], a: Any,
                   c: Any, iterations: int) -> tuple[Any, Any]:
    """Newton steps on the readout ``(a, c)``: each step the first length (1, 1/2, ... down to 1e-8) along
    ``direction(a, c)`` that lowers ``loss``; stops when none does or the loss improves by less than 1e-13."""
    current = loss(a, c)
    for _ in range(iterations):
        step_a, step_c = direction(a, c)
        t = 1.0
        while t > 1e-8:  # backtracking: the first step length that lowers the loss
            trial_a, trial_c = a - t * step_a, c - t * step_c
            value = loss(trial_a, trial_c)
            if value < current:
                break
            t /= 2
        else:
            break
        improvement = current - value
        a, c, current = trial_a, trial_c, value
        if improvement < 1e-13:
            break
    return a, c


def _cross_entropy(zs: torch.Tensor, y: torch.Tensor, a: torch.Tensor, c: torch.Tensor) -> float:
    return float(torch.nn.functional.cross_entropy(zs * a + c, y))


def _newton_step(zs: torch.Tensor, onehot: torch.Tensor, a: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """The Newton direction for ``(a, c)`` of the mean cross-entropy of ``zs * a + c``."""
    n, m = zs.shape
    p = torch.softmax(zs * a + c, dim=1)
    r = p - onehot
    grad = torch.cat([(zs * r).mean(0), r.mean(0)])
    cov = torch.diag_embed(p) - p.unsqueeze(2) * p.unsqueeze(1)  # (n, m, m): Hessian of CE in the logits
    h_aa = torch.einsum("ni,nij,nj->ij", zs, cov, zs) / n
    h_ac = torch.einsum("ni,nij->ij", zs, cov) / n
    h_cc = cov.mean(0)
    hess = torch.cat([torch.cat([h_aa, h_ac], 1), torch.cat([h_ac.T, h_cc], 1)], 0)
    hess = hess + RIDGE * torch.eye(2 * m, dtype=torch.float64)
    return torch.linalg.solve(hess, grad)


def fit_classification(z: torch.Tensor, y: torch.Tensor) -> AffineReadout:
    """Minimum mean cross-entropy of the logits ``a * z + c`` (damped Newton with backtracking, float64)."""
    z = z.double()
    zs, mean, std, live = _standardised(z)
    m = z.shape[1]
    onehot = torch.nn.functional.one_hot(y, m).double()
    a = live.double()  # start: the standardised logits as they are; constant ones contribute nothing
    c = torch.log(onehot.mean(0).clamp_min(1e-12))  # start: the class frequencies
    def direction(a: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        step = _newton_step(zs, onehot, a, c)
        return step[:m], step[m:]

    a, c = _damped_newton(lambda a, c: _cross_entropy(zs, y, a, c), direction, a, c, NEWTON_ITERATIONS)
    a = torch.where(live, a, torch.zeros_like(a))
    scale = torch.where(live, a / torch.where(live, std, torch.ones_like(std)), torch.zeros_like(a))
    return AffineReadout(scale, c - scale * mean)


def is_binary_labels(z: torch.Tensor, y: torch.Tensor) -> bool:
    """Whether ``(z, y)`` is a binary single-logit classification: one output and floating 0/1 labels ``(n, 1)``
    (class-index labels are integer tensors of shape ``(n,)``)."""
    return z.dim() == 2 and z.shape[1] == 1 and y.is_floating_point() and y.dim() == 2 and y.shape[1] == 1


def _bce(zs: torch.Tensor, y: torch.Tensor, a: float, c: float) -> float:
    return float(torch.nn.functional.binary_cross_entropy_with_logits(zs * a + c, y))


def fit_binary(z: torch.Tensor, y: torch.Tensor) -> AffineReadout:
    """Minimum mean binary cross-entropy of the single logit ``a * z + c`` (1-D logistic regression with an
    intercept, fitted by damped Newton steps with backtracking in float64); ``z`` and ``y`` of shape ``(n, 1)``."""
    z, y = z.double(), y.double()
    zs, mean, std, live = _standardised(z)
    x, t = zs[:, 0], y[:, 0]
    p1 = float(t.mean())
    a = 1.0 if bool(live[0]) else 0.0
    c = math.log(min(max(p1, 1e-12), 1 - 1e-12) / min(max(1 - p1, 1e-12), 1 - 1e-12))
    def step(a: float, c: float) -> tuple[float, float]:
        p = torch.sigmoid(x * a + c)
        r, w = p - t, p * (1 - p)
        grad = torch.stack([(x * r).mean(), r.mean()])
        hess = torch.stack([torch.stack([(w * x * x).mean(), (w * x).mean()]),
                            torch.stack([(w * x).mean(), w.mean()])]) + RIDGE * torch.eye(2, dtype=torch.float64)
        solved = torch.linalg.solve(hess, grad)
        return float(solved[0]), float(solved[1])

    a, c = _damped_newton(lambda a, c: _bce(x, t, a, c), step, a, c,
                          NEWTON_ITERATIONS if bool(live[0]) else 0)
    scale = a / float(std[0]) if bool(live[0]) else 0.0
    return AffineReadout(torch.tensor([scale], dtype=torch.float64),
                         torch.tensor([c - scale * float(mean[0])], dtype=torch.float64))


def fit_readout(z: torch.Tensor, y: torch.Tensor, kind: str) -> AffineReadout:
    """The readout of a mask from its raw float64 outputs ``z`` (n, outputs) on the training split."""
    if kind == "classification":
        return fit_binary(z, y) if is_binary_labels(z, y) else fit_classification(z, y)
    if kind == "regression":
        return fit_regression(z, y)
    raise ValueError(f"unknown task kind {kind!r}")
