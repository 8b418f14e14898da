"""The post-training protocol's side of the pruner contract: calibration data, the typed result that may carry
updated weights, and the layer-wise machinery the post-training pruners share.

A pruner with ``protocol = "post-training"`` is called exactly as every pruner
(``prune(model, data, density, *, generator, budget)``), but in a post-training cell (``CellConfig.calibration_size
> 0``) the harness hands every pruner of the cell

* ``model``: the host after the cell's dense weak training (its training protocol and training configuration,
  seeded by the instance: the same trained network for every pruner of the cell), float32;
* ``data``: the calibration set, ``calibration_size`` samples of the TRAINING split drawn without replacement with
  the stream (instance seed, ``"calibration"``, calibration seed) (:func:`calibration_indices`), nothing else.

It returns a mask (kept count exact, as always) or a :class:`PostTrainingResult`: the mask and, for a method that
updates weights (SparseGPT, reconstruction solvers), the updated values of some parameters. The worker and the parent
validate both (:func:`validate_weights`: known names, exact shapes, floating dtype, finite); the harness then scores
the masked (updated) trained network on the test split without retraining.

Layer-wise pieces (JaxPruner style: every weight scored, then one selection function):

* :func:`plantseek.prune.layer_inputs.layer_inputs`: the calibration input matrix of every prunable weight, on the
  MLP, conv and attention hosts (conv kernels: their im2col patches);
* :func:`select_layer` / :func:`select_rows`: exactly ``k`` weights of one layer, compared over the whole layer or
  per output row (equal counts per row, the remainder to the rows whose next candidate scores highest);
* :func:`obs_update`: the optimal reconstruction of one row with a fixed pruned set (the closed form of OBS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

from plantseek.core import seeding
from plantseek.core.errors import MaskError, PrunerError
from plantseek.core.types import Mask
from plantseek.nets.interface import network_parameters
from plantseek.nets.patterns import Pattern, group_quota, kept_rows, select_pattern

PROTOCOL = "post-training"


@dataclass(frozen=True)
class PostTrainingResult:
    """What a post-training pruner may return instead of a bare mask: ``mask`` (validated like every mask) and
    ``weights``, updated values of some of the network's parameters (by name, the parameters' shapes; the others stay
    as trained). The harness applies the mask to the updated network."""

    mask: Mask
    weights: dict[str, torch.Tensor] = field(default_factory=dict)


def split_result(result: object) -> tuple[object, object]:
    """``(mask, weights)`` of a pruner's return value: a :class:`PostTrainingResult` (or any object with ``mask`` and
    ``weights`` attributes), or a bare mask (weights ``{}``)."""
    if isinstance(result, PostTrainingResult) or (hasattr(result, "mask") and hasattr(result, "weights")):
        return getattr(result, "mask"), getattr(result, "weights")
    return result, {}


def validate_weights(weights: object, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """Updated weights checked exactly: a dict of known parameter names (``shapes``: the network's parameter shapes),
    each a floating tensor of its parameter's shape with finite values; returned as float64 CPU tensors. MaskError
    (one line) otherwise."""
    if not isinstance(weights, Mapping):
        raise MaskError(f"updated weights must be a dict {{parameter_name: Tensor}}, got {type(weights).__name__}")
    out = {}
    for name, value in weights.items():
        if name not in shapes:
            raise MaskError(f"updated weights have unknown key {str(name)[:100]!r} (parameters: {', '.join(shapes)})")
        if not isinstance(value, torch.Tensor):
            raise MaskError(f"updated weights[{name!r}] is a {type(value).__name__}, not a torch.Tensor")
        if not value.is_floating_point():
            raise MaskError(f"updated weights[{name!r}] has dtype {value.dtype}, expected a floating dtype")
        if tuple(value.shape) != tuple(shapes[name]):
            raise MaskError(f"updated weights[{name!r}] has shape {tuple(value.shape)}, expected {tuple(shapes[name])}")
        value = value.detach().cpu().to(torch.float64)
        if not bool(torch.isfinite(value).all()):
            raise MaskError(f"updated weights[{name!r}] has non-finite values")
        out[str(name)] = value
    return out


def calibration_indices(seed: int, calibration_seed: int, size: int, n_train: int) -> torch.Tensor:
    """Indices into the training split of a cell's calibration set: the first ``size`` of a permutation of
    ``range(n_train)`` drawn from the stream (seed, "calibration", calibration_seed); all of them if fewer."""
    if size < 1:
        raise PrunerError(f"calibration size must be >= 1, got {size}")
    perm = torch.randperm(n_train, generator=seeding.generator(seed, "calibration", calibration_seed))
    return perm[: min(size, n_train)]


# --- layer scores ---------------------------------------------------------------------------------------------------

def input_norms(x: torch.Tensor) -> torch.Tensor:
    """‖X_j‖₂ per input feature j over the calibration rows."""
    return x.pow(2).sum(0).sqrt()


def hessian(x: torch.Tensor, damping: float) -> torch.Tensor:
    """The layer-wise reconstruction Hessian ``XᵀX`` (inputs as rows) plus ``damping`` times its mean diagonal on the
    diagonal (SparseGPT's dampening; a tiny absolute floor keeps a dead input's diagonal positive)."""
    h = x.T @ x
    mean_diag = float(h.diagonal().mean()) if h.numel() else 0.0
    return h + (damping * mean_diag + 1e-12) * torch.eye(h.shape[0], dtype=h.dtype)


# --- selection -----------------------------------------------------------------------------------------------------

class PatternCount(int):
    """A layer's kept count (its int value) that carries the cell's mask pattern (N:M or whole units,
    :mod:`plantseek.nets.patterns`): :func:`select_layer` and :func:`select_rows` then select within the pattern (top N
    per group of M, or the rows of highest summed score), so every layer-wise post-training method honours it."""

    pattern: Pattern

    def __new__(cls, pattern: Pattern, shape: tuple[int, ...]) -> "PatternCount":
        obj = super().__new__(cls, pattern_kept(shape, pattern))
        obj.pattern = pattern
        return obj


def pattern_kept(shape: tuple[int, ...], pattern: Pattern) -> int:
    """How many entries a tensor of ``shape`` keeps under ``pattern``."""
    if pattern.kind == "nm":
        return int(group_quota(shape, pattern).sum())
    rows = shape[0] if len(shape) > 1 else 1
    return kept_rows(pattern.fraction, rows) * (math.prod(shape) // rows)


def _within_pattern(score: torch.Tensor, k: int) -> torch.Tensor | None:
    pattern = getattr(k, "pattern", None)
    return None if pattern is None else select_pattern({"layer": score}, pattern)["layer"]


def select_layer(score: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` highest-scoring entries of one layer (ties: earlier position first); within the pattern a
    :class:`PatternCount` carries."""
    patterned = _within_pattern(score, k)
    if patterned is not None:
        return patterned
    flat = score.detach().double().reshape(-1)
    keep = torch.zeros(flat.numel(), dtype=torch.bool)
    keep[torch.sort(flat, descending=True, stable=True).indices[:k]] = True
    return keep.reshape(score.shape)


def select_rows(score: torch.Tensor, k: int) -> torch.Tensor:
    """Exactly ``k`` entries of a 2-D score compared per output row: every row keeps ``k // rows``; the ``k % rows``
    left go to the rows whose next candidate scores highest (ties: earlier row first). Within the pattern a
    :class:`PatternCount` carries (an N:M pattern is per row already; whole units compare rows)."""
    patterned = _within_pattern(score, k)
    if patterned is not None:
        return patterned
    rows, cols = score.shape
    base, extra = divmod(k, rows)
    order = torch.sort(score.detach().double(), dim=1, descending=True, stable=True).indices
    keep = torch.zeros(rows, cols, dtype=torch.bool)
    keep.scatter_(1, order[:, :base], True)
    if extra:
        nxt = score.detach().double().gather(1, order[:, base:base + 1]).reshape(-1)
        chosen = torch.sort(nxt, descending=True, stable=True).indices[:extra]
        keep[chosen, order[chosen, base]] = True
    return keep


def obs_update(w: torch.Tensor, h: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """The optimal reconstruction of one row ``w`` with the pruned set fixed (``keep`` False): the ``w'`` minimising
    ``(w - w')ᵀ H (w - w')`` subject to ``w'_S = 0``; in OBS form ``w' = w - H⁻¹[:, S] (H⁻¹[S, S])⁻¹ w_S``, computed
    as ``w'_F = w_F + H_FF⁻¹ H_FS w_S`` (equal, and better conditioned)."""
    out = torch.zeros_like(w)
    f, s = keep, ~keep
    if not bool(f.any()):
        return out
    out[f] = w[f] + torch.linalg.solve(h[f][:, f], h[f][:, s] @ w[s])
    return out


def uniform_layer_counts(density: float, sizes: Mapping[str, int]) -> dict[str, int]:
    """Per-layer kept counts at one density for every layer, summing exactly to ``kept_count(density)``."""
    from plantseek.nets.masks import layer_counts

    return layer_counts(density, sizes)


def trained_weights(model: Any) -> dict[str, torch.Tensor]:
    """The model's parameters as float64 copies."""
    return {n: p.detach().to(torch.float64).clone() for n, p in network_parameters(model).items()}


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """``‖a - b‖ / ‖b‖`` (0 for two zero tensors)."""
    denom = float(b.norm())
    return float((a - b).norm()) / denom if denom > 0 else (0.0 if float(a.norm()) == 0 else math.inf)
