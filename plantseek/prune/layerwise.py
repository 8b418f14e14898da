"""Layer-wise density rules: how many weights each layer keeps for an exact total.

A rule turns the per-layer shapes and the requested density into per-layer kept counts that sum exactly to
:func:`plantseek.nets.masks.kept_count` over all prunable weights. Every rule here has the form
``d_l = min(1, f_l(ε))`` with ``f_l`` increasing in a single free parameter ``ε``, solved so that
``Σ_l d_l · N_l = k``; layers whose ``f_l`` would exceed 1 are dense and ``ε`` is re-solved for the others.
The real-valued counts ``d_l · N_l`` are then made integers by largest remainders (ties: earlier layer first),
never above a layer's size, so the total is exact.

* ``erk`` (Evci et al. 2020, "Rigging the lottery"): ``f_l = ε · (n_in + n_out) / (n_in · n_out)`` for a
  dense layer (Erdős–Rényi-Kernel; with no kernel dimensions it is Mocanu et al.'s Erdős–Rényi, SET's rule).
* ``balanced`` (Gadhikar, Mukherjee & Burkholz 2023): every layer keeps the same number ``ε`` of weights,
  ``f_l = ε / N_l`` (a layer smaller than its share is dense, the others share the rest).
* ``pyramidal`` (Gadhikar et al. 2023): densities decrease geometrically with depth, ``f_l = ε^l`` for layer
  ``l = 1..L`` and ``ε ∈ (0, 1]`` (our reading of the paper's ``d_l = d_1^l``; solved by bisection).

Only 2-D weights (``(n_out, n_in)``, the MLP's) are rated by ``erk``; any other shape counts its first dimension as
``n_out`` and the product of the others as ``n_in``.
"""

from __future__ import annotations

import math
from typing import Callable, Mapping

import torch

from plantseek.core.errors import ConfigError
from plantseek.core.registry import Registry
from plantseek.nets.masks import Mask, kept_count, select_top, validate_density

Shape = tuple[int, ...]
#: a rule: (shapes in layer order, target kept count) -> real-valued kept count per layer, summing to the target
RATIO_RULES: Registry[Callable[[Mapping[str, Shape], int], dict[str, float]]] = Registry("layer-wise density rule")


def _linear_solve(weights: Mapping[str, float], sizes: Mapping[str, int], k: int) -> dict[str, float]:
    """Real counts ``min(N_l, ε · w_l · N_l)`` summing to ``k``: ε solved exactly, layers that would exceed their
    size made dense and ε re-solved for the rest (repeated until no layer exceeds)."""
    dense: set[str] = set()
    while True:
        free = [n for n in sizes if n not in dense]
        left = k - sum(sizes[n] for n in dense)
        eps = left / sum(weights[n] * sizes[n] for n in free)
        over = [n for n in free if eps * weights[n] > 1.0]
        if not over:
            return {n: float(sizes[n]) if n in dense else eps * weights[n] * sizes[n] for n in sizes}
        dense.update(over)


def _fan(shape: Shape) -> tuple[int, int]:
    return shape[0], math.prod(shape[1:])


@RATIO_RULES.register("erk")
def erk_counts(shapes: Mapping[str, Shape], k: int) -> dict[str, float]:
    sizes = {n: math.prod(s) for n, s in shapes.items()}
    weights = {n: (sum(_fan(s)) / math.prod(_fan(s))) for n, s in shapes.items()}
    return _linear_solve(weights, sizes, k)


@RATIO_RULES.register("balanced")
def balanced_counts(shapes: Mapping[str, Shape], k: int) -> dict[str, float]:
    sizes = {n: math.prod(s) for n, s in shapes.items()}
    return _linear_solve({n: 1.0 / sizes[n] for n in sizes}, sizes, k)


@RATIO_RULES.register("pyramidal")
def pyramidal_counts(shapes: Mapping[str, Shape], k: int) -> dict[str, float]:
    sizes = {n: math.prod(s) for n, s in shapes.items()}

    def total(q: float) -> float:
        return sum(min(1.0, q ** (l + 1)) * sizes[n] for l, n in enumerate(sizes))

    lo, hi = 0.0, 1.0
    for _ in range(200):  # bisection to float precision; the integer rounding below makes the total exact
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if total(mid) < k else (lo, mid)
    q = hi
    return {n: min(1.0, q ** (l + 1)) * sizes[n] for l, n in enumerate(sizes)}


def integer_counts(real: Mapping[str, float], sizes: Mapping[str, int], k: int) -> dict[str, int]:
    """Integer per-layer counts from real ones: floors, then the missing weights to the layers with the largest
    remainders (ties: earlier layer first), never above a layer's size; the total is exactly ``k``."""
    counts = {n: min(sizes[n], max(0, math.floor(real[n] + 1e-9))) for n in sizes}
    order = sorted(sizes, key=lambda n: (-(real[n] - math.floor(real[n] + 1e-9)), list(sizes).index(n)))
    while sum(counts.values()) > k:  # only from floating error in the solved counts
        n = max((n for n in sizes if counts[n] > 0), key=lambda n: (counts[n] - real[n], list(sizes).index(n)))
        counts[n] -= 1
    i = 0
    while sum(counts.values()) < k:
        n = order[i % len(order)]
        if counts[n] < sizes[n]:
            counts[n] += 1
        i += 1
    return counts


def layer_kept_counts(rule: str, density: float, shapes: Mapping[str, Shape]) -> dict[str, int]:
    """Per-layer kept counts of ``rule`` at ``density``, summing exactly to ``kept_count(density, total)``."""
    d = validate_density(density)
    sizes = {n: math.prod(s) for n, s in shapes.items()}
    k = kept_count(d, sum(sizes.values()))
    return integer_counts(RATIO_RULES.get(rule)(shapes, k), sizes, k)


def select_counts(scores: Mapping[str, torch.Tensor], counts: Mapping[str, int]) -> Mask:
    """Keep the ``counts[name]`` highest scores of each layer (``select_top`` per layer; ties by position)."""
    mask: Mask = {}
    for name, s in scores.items():
        c, n = counts[name], s.numel()
        if c < 0 or c > n:
            raise ConfigError(f"cannot keep {c} of the {n} weights of {name}")
        mask[name] = (torch.zeros(s.shape, dtype=torch.bool) if c == 0
                      else select_top({name: s}, c / n)[name])
    return mask


def random_layerwise_mask(rule: str, density: float, shapes: Mapping[str, Shape],
                          generator: torch.Generator) -> Mask:
    """A uniformly random mask with ``rule``'s per-layer counts: scores ~ U[0, 1) drawn layer by layer (layer
    order, row-major) from ``generator``, the top ``counts[l]`` of each layer kept."""
    counts = layer_kept_counts(rule, density, shapes)
    scores = {n: torch.rand(s, generator=generator, dtype=torch.float64) for n, s in shapes.items()}
    return select_counts(scores, counts)


__all__ = ["RATIO_RULES", "erk_counts", "balanced_counts", "pyramidal_counts", "integer_counts",
           "layer_kept_counts", "select_counts", "random_layerwise_mask"]
