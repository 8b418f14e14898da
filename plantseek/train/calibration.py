"""Readout calibration before weak training.

A planted host's outputs carry tiny per-output factors (1e-5..1e-11), and so does any mask that keeps the
ticket's paths. Trained as is, with Adam at lr 1e-3 (additive steps of ~1e-3 per weight), the network must first
grow its output scale by orders of magnitude, which wrecks the structure that a good mask found: the exact planted
ticket would come out of 10 epochs *worse* than it went in (Circle 0.99 -> 0.92, Helix MSE 1e-4 -> 0.1).

So before weak training, every mask's network gets one per-output factor ``alpha_k`` fitted on the TRAINING split
(never the ground truth): least squares through the origin for regression, minimum cross-entropy for
classification (a convex problem in alpha, solved in float64). The factor is folded into the last layer
(``W_last[k] *= alpha_k``, ``b_last[k] *= alpha_k``), so the network function is the calibrated one and training
starts from it. Every mask, the dense host included, is treated alike; for the planted ticket alpha recovers
1/scale, so training starts from the target itself.

Then :func:`balance` rescales every hidden neuron (incoming by g > 0, outgoing by 1/g) so that its incoming and
outgoing norms are equal. ReLU is positively homogeneous, so the function stays the same; Adam's additive steps
are not invariant to this rescaling, and the planting's per-neuron factors are an artefact of hiding the ticket
that training should not depend on. Measured (depth 5, width 100, seeds 0-2): the trained planted ticket stays
within 0.017 accuracy of the exact ticket on Circle (0.975-0.983 vs 0.986-0.992) and reaches MSE 2e-4..4e-4 on
Helix (exact 1.3e-4; the trained dense host 1.2e-3); without this step it fell to 0.92 and 0.12.

Both steps go through the network protocol (:mod:`plantseek.nets.interface`): calibration scales the architecture's
``output_parameters()`` (axis 0 = output unit), balancing rescales each of its ``hidden_units()`` groups (units
followed by ReLU, with their incoming and outgoing parameters and unit axes). Every function takes an optional
``arch``; without one the state is read as an MLP state dict (``Architecture.from_state``).
"""

from __future__ import annotations

import torch

from plantseek.families.mlp.network import Architecture
from plantseek.nets.interface import Network
from plantseek.nets.masks import Mask


def _arch(state: dict[str, torch.Tensor], arch: Network | None) -> Network:
    return Architecture.from_state(state) if arch is None else arch


@torch.no_grad()
def _raw_outputs(state: dict[str, torch.Tensor], mask: Mask | None, x: torch.Tensor, arch: Network) -> torch.Tensor:
    return arch.forward({k: v.double() for k, v in state.items()}, x.double(), mask)


def _along(v: torch.Tensor, axis: int, ndim: int) -> torch.Tensor:
    """``v`` shaped to broadcast along ``axis`` of an ``ndim``-dimensional tensor."""
    return v.reshape([-1 if d == axis else 1 for d in range(ndim)])


def _unit_squares(t: torch.Tensor, axis: int) -> torch.Tensor:
    """Per unit along ``axis``: the sum of the squares of ``t``'s entries of that unit."""
    dims = [d for d in range(t.dim()) if d != axis]
    return (t * t).sum(dims) if dims else t * t


#: Relative spread (standard deviation over root mean square) below which an output counts as constant.
CONSTANT_SPREAD = 1e-9


def fit_output_factors(z: torch.Tensor, y: torch.Tensor, kind: str, iterations: int = 30) -> torch.Tensor:
    """Per-output factors alpha (float64) so that ``alpha * z`` best fits ``y``.

    Regression: least squares through the origin, per output. Classification: minimum mean cross-entropy of the
    logits ``alpha * z`` (convex in alpha), by damped Newton steps with an exact K x K Hessian; with one logit and
    floating 0/1 labels of shape ``(n, 1)`` (binary classification, BCE with logits) the mean binary cross-entropy
    of ``alpha * z`` instead (the same Newton steps, on its 1 x 1 Hessian).
    An output that is constant over the training split (zero, or any value: its spread is at most
    ``CONSTANT_SPREAD`` times its size) keeps alpha = 1: a factor fitted to a constant only matches the target's
    mean, and for a collapsed network whose output is a rounding residue (6.9e-18 on the smoke grid's ReLU cell) that
    factor was 3.5e16, which the balancing then spread over the hidden layers and training blew up (weak MSE 1.8e16).
    """
    z = z.double()
    if kind == "regression":
        zz = (z * z).sum(0)
        alpha = (z * y.double()).sum(0) / torch.where(zz > 0, zz, torch.ones_like(zz))
        return torch.where(varying_outputs(z), alpha, torch.ones_like(alpha))
    n, k = z.shape
    std = z.std(0)
    live = varying_outputs(z)  # a constant output keeps alpha = 1
    zs = z / torch.where(live, std, torch.ones_like(std))  # well scaled: beta = alpha * std starts at 1
    binary = k == 1 and y.is_floating_point() and y.dim() == 2  # one logit, 0/1 labels (n, 1): BCE with logits
    onehot = y.double() if binary else torch.nn.functional.one_hot(y, k).double()

    def loss(beta):
        if binary:
            return float(torch.nn.functional.binary_cross_entropy_with_logits(zs * beta, onehot))
        return float(torch.nn.functional.cross_entropy(zs * beta, y))

    beta = torch.ones(k, dtype=torch.float64)
    current = loss(beta)
    for _ in range(iterations):
        if binary:  # d/dbeta of mean BCE(beta z): mean z (sigmoid - y); second derivative mean z^2 p (1 - p)
            p = torch.sigmoid(zs * beta)
            grad = (zs * (p - onehot)).mean(0)
            hess = (zs * zs * p * (1 - p)).mean(0).reshape(1, 1)
        else:
            p = torch.softmax(zs * beta, dim=1)
            grad = (zs * (p - onehot)).mean(0)
            hess = (zs.T @ (zs * p)) / n * torch.eye(k, dtype=torch.float64) - (zs * p).T @ (zs * p) / n
        step = torch.linalg.solve(hess + 1e-9 * torch.eye(k, dtype=torch.float64), grad)
        t = 1.0
        while t > 1e-6:  # backtracking: accept the first step that lowers the loss
            trial = beta - t * step
            value = loss(trial)
            if value < current:
                break
            t /= 2
        else:
            break
        converged = current - value < 1e-12
        beta, current = trial, value
        if converged:
            break
    alpha = beta / torch.where(live, std, torch.ones_like(std))
    return torch.where(live & torch.isfinite(alpha), alpha, torch.ones_like(alpha))


def calibrated_state(state: dict[str, torch.Tensor], mask: Mask | None, x: torch.Tensor, y: torch.Tensor,
                     kind: str, arch: Network | None = None) -> dict[str, torch.Tensor]:
    """``state`` with the fitted output factors folded into its output parameters (a new dict; float64).

    A regression output that is constant over the training split (a collapsed network) starts as the constant
    predictor instead: its output weights set to zero and its output bias to the training targets' mean. Least
    squares through the origin computes the same function (alpha * c = mean(y)), but through a factor
    mean(y) / c that is 3.5e16 when c is a rounding residue (see :func:`fit_output_factors`)."""
    arch = _arch(state, arch)
    z = _raw_outputs(state, mask, x, arch)
    alpha = fit_output_factors(z, y, kind)
    out = {k: v.double().clone() for k, v in state.items()}
    names = arch.output_parameters()
    biases = [n for n in names if out[n].dim() == 1]
    constant = ~varying_outputs(z) if kind == "regression" and len(biases) == 1 else alpha.isnan()  # (none)
    alpha = torch.where(constant, torch.zeros_like(alpha), alpha)
    for name in names:
        out[name] *= _along(alpha, 0, out[name].dim())
    if bool(constant.any()):
        mean = y.double().reshape(y.shape[0], -1).mean(0)
        out[biases[0]] = torch.where(constant, mean, out[biases[0]])
    return out


def varying_outputs(z: torch.Tensor) -> torch.Tensor:
    """Per output: whether it varies over the samples (its spread exceeds ``CONSTANT_SPREAD`` times its size)."""
    z = z.double()
    return (z.abs().amax(0) > 0) & (z.std(0) > CONSTANT_SPREAD * torch.sqrt((z * z).mean(0)))


def balance(state: dict[str, torch.Tensor], mask: Mask | None, sweeps: int = 3,
            arch: Network | None = None) -> dict[str, torch.Tensor]:
    """Rescale every hidden neuron's incoming parameters by g > 0 and its outgoing weights by 1/g so that both have
    the same norm (over kept weights). ReLU is positively homogeneous, so the network function is unchanged; what
    changes is the parametrisation that Adam's additive steps see."""
    arch = _arch(state, arch)
    out = {k: v.double().clone() for k, v in state.items()}
    prunable = arch.prunable_shapes()
    kept = lambda n: out[n] * (mask[n] if mask is not None and n in prunable else 1)  # noqa: E731

    def norm(params: tuple[tuple[str, int], ...]) -> torch.Tensor:
        terms = [_unit_squares(kept(n), axis) for n, axis in params]
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        return torch.sqrt(total)

    for _ in range(sweeps):
        for units in arch.hidden_units():
            n_in, n_out = norm(units.incoming), norm(units.outgoing)
            ok = (n_in > 0) & (n_out > 0)
            g = torch.where(ok, torch.sqrt(torch.where(ok, n_out / torch.where(ok, n_in, 1.0), 1.0)), 1.0)
            for n, axis in units.incoming:
                out[n] *= _along(g, axis, out[n].dim())
            for n, axis in units.outgoing:
                out[n] /= _along(g, axis, out[n].dim())
    return out


def weak_start(state: dict[str, torch.Tensor], mask: Mask | None, x: torch.Tensor, y: torch.Tensor,
               kind: str, arch: Network | None = None) -> dict[str, torch.Tensor]:
    """Where weak training of ``mask`` starts: calibrated readout, then balanced hidden neurons (float64)."""
    arch = _arch(state, arch)
    return balance(calibrated_state(state, mask, x, y, kind, arch), mask, arch=arch)
