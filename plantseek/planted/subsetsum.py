"""Found-in-random tickets: a target network approximated by a *mask* over the host's random weights (SubsetSum).

The construction of Pensia et al., "Optimal Lottery Tickets via SubsetSum" (NeurIPS 2020), after Malach et al. and
"Logarithmic Pruning is All You Need": each target layer ``h -> relu(W h)`` (zero biases) becomes two host layers.
Input ``j`` of the target layer fans out to ``n`` random host units ``i`` of the first host layer (one kept weight
``a_i`` each: ``n / 2`` units with ``a_i > 0``, ``n / 2`` with ``a_i < 0``, drawn at random among the unused units);
unit ``k`` of the second host layer sums a subset ``S`` of them with its random weights ``b_{k,i}``. As
``relu(a x) = a relu(x)`` for ``a > 0`` and ``|a| relu(-x)`` for ``a < 0``, the pair computes
``c+ relu(x_j) + c- relu(-x_j)`` with ``c+ = sum_{S, a > 0} a_i b_{k,i}`` and ``c- = sum_{S, a < 0} |a_i| b_{k,i}``;
choosing ``c+ ~ lam w_kj`` and ``c- ~ -lam w_kj`` gives ``lam w_kj x_j`` (``relu(x) - relu(-x) = x``). Each choice is
a subset-sum problem over ``n / 2`` random products, solved exactly (:func:`best_subset`, meet in the middle);
``2^(n/2)`` subsets reach any value of the products' range to ``O(2^(-n/2))`` (Lueker), so ``n = O(log 1/eps)``.

No host weight is changed: the planted state is the host's seeded initialisation, bit for bit; only the mask (the
ticket) is chosen. Every bias of the ticket is pruned (the target has zero biases). ``lam`` is one positive factor
per target layer, ``lam_l = GOAL sigma_a sigma_b / max |W_l|`` (the product of the two host layers' initialisation
spreads over the layer's largest target weight), so the subset sums aim at values of the products' own size; the
masked host computes ``scales * target(x)`` up to the subset-sum errors, ``scales = prod_l lam_l`` per output.

``copies`` plants that many edge-disjoint tickets (disjoint hidden units, shared inputs and outputs), each
computing the same ``scales * target(x)`` on its own: the multiple-ticket setting (``docs/multiple-tickets.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from plantseek.core.errors import ConfigError
from plantseek.families.mlp.network import Architecture, Mask, weight_name
from plantseek.planted.matching import PlantedHost
from plantseek.planted.targets import TargetNetwork

#: most candidates per sign of one subset-sum problem (meet in the middle enumerates 2^(MAX/2) sums per side)
MAX_HALF = 24
#: draws of a target layer's candidate units before planting gives up (a draw is redrawn where a subset sum misses
#: epsilon: e.g. all ten products of a half share the goal's opposite sign, probability about 2^-9 per problem)
MAX_TRIES = 20
#: the largest subset-sum goal in units of the products' spread (sigma_a sigma_b): half of it, well inside the range
#: that n / 2 = 16 products cover (measured: 16 standard-normal-spread products miss a goal of 0.5 by more than 0.01
#: in none of 400 draws, a goal of 1 in 0.75%; 10 products miss a goal of 1 in 22%)
GOAL = 0.5
#: most values of one problem for :func:`matched_subset` (it enumerates all 2^MAX_MATCHED subsets)
MAX_MATCHED = 20


@dataclass(frozen=True)
class SubsetSumPlan:
    """The construction's knobs: ``candidates`` random units per target input (half of each sign), ``epsilon``
    the largest allowed error of a subset sum in target units (``|sum / lam - w|``), ``copies`` disjoint tickets."""

    candidates: int
    epsilon: float
    copies: int = 1


def best_subset(values: np.ndarray, target: float) -> tuple[np.ndarray, float]:
    """The subset of ``values`` whose sum is closest to ``target`` (exact; meet in the middle: the sums of every
    subset of each half, one half sorted and searched): ``(chosen flags, |sum - target|)``. Ties go to the subset
    met first (the lowest left-half code, then the lowest right-half code): deterministic."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) > MAX_HALF:
        raise ConfigError(f"subset-sum over {len(v)} values (at most {MAX_HALF})")
    h = len(v) // 2
    left, right = _all_sums(v[:h]), _all_sums(v[h:])
    order = np.argsort(right, kind="stable")
    sorted_right = right[order]
    need = target - left
    pos = np.searchsorted(sorted_right, need)
    best_err, best = math.inf, (0, 0)
    for shift in (-1, 0):
        p = np.clip(pos + shift, 0, len(sorted_right) - 1)
        err = np.abs(need - sorted_right[p])
        i = int(np.argmin(err))
        if err[i] < best_err:
            best_err, best = float(err[i]), (i, int(order[p[i]]))
    flags = np.zeros(len(v), dtype=bool)
    flags[:h] = _bits(best[0], h)
    flags[h:] = _bits(best[1], len(v) - h)
    return flags, abs(float(v[flags].sum()) - target)


def matched_subset(values: np.ndarray, target: float, tolerance: float) -> tuple[np.ndarray, float]:
    """Among the subsets of ``values`` whose sum is within ``tolerance`` of ``target``, the one whose chosen values
    look most like all of them: the smallest ``|mean |v_S| / mean |v| - 1| + |mean log |v_S| - mean log |v||``
    (ties: the lowest subset code); :func:`best_subset` where none is within ``tolerance`` or there are more than
    ``MAX_MATCHED`` values. The exact optimum would keep small values more often than large ones (a subset summing to
    a fixed goal avoids the largest products: kept weights measured 8% smaller than the others, KS p 1e-6 pooled
    over 50 instances); this choice removes that magnitude bias."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) > MAX_MATCHED or not len(v) or not (np.abs(v) > 0).all():
        return best_subset(v, target)
    sums, count = _all_sums(v), _all_sums(np.ones(len(v)))
    ok = (np.abs(sums - target) <= tolerance) & (count > 0)
    if not ok.any():
        return best_subset(v, target)
    mag, log = np.abs(v), np.log(np.abs(v))
    n = np.maximum(count, 1)
    score = np.abs(_all_sums(mag) / n / mag.mean() - 1) + np.abs(_all_sums(log) / n - log.mean())
    code = int(np.argmin(np.where(ok, score, np.inf)))
    flags = _bits(code, len(v))
    return flags, abs(float(v[flags].sum()) - target)


def _all_sums(v: np.ndarray) -> np.ndarray:
    """Sums of all ``2^len(v)`` subsets, indexed by the subset's bit code (bit ``t`` = item ``t``)."""
    sums = np.zeros(1)
    for x in v:
        sums = np.concatenate([sums, sums + x])
    return sums


def _bits(code: int, n: int) -> np.ndarray:
    return np.array([(code >> t) & 1 for t in range(n)], dtype=bool)


def host_widths_needed(target: TargetNetwork, plan: SubsetSumPlan) -> int:
    """The narrowest host width that holds the construction: every fan-out layer needs ``copies * candidates``
    units per target input, every sum layer ``copies`` units per target unit."""
    tw = target.widths
    return plan.copies * max(max(plan.candidates * d for d in tw[:-1]), max(tw[1:-1], default=0))


def check_fits(target: TargetNetwork, arch: Architecture, plan: SubsetSumPlan) -> None:
    """One line where the host cannot hold the construction (depth ``2 L + 1`` for a target of ``L`` layers)."""
    tw, hw = target.widths, list(arch.widths)
    if len(hw) != 2 * (len(tw) - 1) + 1:
        raise ConfigError(f"a target of {len(tw) - 1} layers needs a host of depth {2 * (len(tw) - 1) + 1}, "
                          f"got {len(hw)}")
    if tw[0] != hw[0] or tw[-1] != hw[-1]:
        raise ConfigError(f"ticket maps {tw[0]}->{tw[-1]} but the host maps {hw[0]}->{hw[-1]}")
    need = host_widths_needed(target, plan)
    if min(hw[1:-1]) < need:
        raise ConfigError(f"width {min(hw[1:-1])} is narrower than the subset-sum construction needs ({need}: "
                          f"{plan.copies} cop(ies) x {plan.candidates} candidates per target input)")
    if any(b.any() for b in target.biases):
        raise ConfigError("the subset-sum construction plants targets with zero biases only")


def _std(arch: Architecture, layer: int) -> float:
    """The initialisation spread of host weight layer ``layer`` (He: sqrt(2 / fan-in))."""
    return math.sqrt(2.0 / arch.widths[layer])


def plant_subsetsum(target: TargetNetwork, arch: Architecture, host: dict[str, torch.Tensor],
                    generator: torch.Generator, plan: SubsetSumPlan) -> PlantedHost:
    """Choose the ticket(s) of ``target`` in the random ``host`` (not changed: the state returned is a float64 copy
    of it); randomness (which units serve which input) from ``generator``. Raises RuntimeError where a subset sum
    misses its weight by more than ``plan.epsilon`` (more candidates are needed)."""
    check_fits(target, arch, plan)
    state = {k: v.clone().to(torch.float64) for k, v in host.items()}
    half = plan.candidates // 2
    lams = [GOAL * _std(arch, 2 * l) * _std(arch, 2 * l + 1) / max(float(np.abs(w).max()), 1e-300)
            for l, w in enumerate(target.weights)]
    tickets: list[Mask] = []
    free = [torch.ones(w, dtype=torch.bool) for w in arch.widths[1:-1]]  # unused hidden units per host layer
    placement: list[list[torch.Tensor]] = [[] for _ in range(arch.n_layers)]
    worst, redraws = 0.0, 0
    for _ in range(plan.copies):
        mask: Mask = {name: torch.zeros(shape, dtype=torch.bool)
                      for name, shape in {**arch.weight_shapes(), **arch.bias_shapes()}.items()}
        prev = torch.arange(arch.widths[0])  # host units holding the target layer's inputs
        for l, w in enumerate(target.weights):
            for _try in range(MAX_TRIES):
                trial = [f.clone() for f in free]
                layer = _plant_pair(l, w, lams[l], prev, state, arch, trial, half, generator, plan.epsilon)
                if layer.error <= plan.epsilon:
                    break
            else:
                raise RuntimeError(f"a subset sum misses its target weight by {layer.error:.3g} > epsilon "
                                   f"{plan.epsilon:g} in {MAX_TRIES} draws (more candidates are needed)")
            free = trial
            redraws += _try
            worst = max(worst, layer.error)
            for name, edges in layer.edges.items():
                mask[name] |= edges
            placement[2 * l].append(layer.fan_units)
            placement[2 * l + 1].append(layer.units)
            prev = layer.units
        tickets.append(mask)
    scale = torch.full((arch.widths[-1],), math.prod(lams), dtype=torch.float64)
    lam_per_layer = [torch.full((arch.widths[l + 1],), lams[l // 2] if l % 2 else 1.0, dtype=torch.float64)
                     for l in range(arch.n_layers)]
    planted = TargetNetwork(target.weights, target.biases,
                            description=f"{target.description}; found in random (subset-sum, {plan.candidates} "
                            f"candidates per input, max error {worst:.3g} <= epsilon {plan.epsilon:g})",
                            notes={"subset_sum_max_error": worst, "redraws": redraws})
    return PlantedHost(state, tickets[0], scale, [torch.cat(p) for p in placement], lam_per_layer, planted,
                       tickets=tickets)


@dataclass
class _Pair:
    """One target layer's two host layers: the kept edges, the fan-out units, the sum units, the largest error."""

    edges: dict[str, torch.Tensor]
    fan_units: torch.Tensor
    units: torch.Tensor
    error: float


def _plant_pair(l: int, w: np.ndarray, lam: float, prev: torch.Tensor, state: dict[str, torch.Tensor],
                arch: Architecture, free: list[torch.Tensor], half: int, generator: torch.Generator,
                epsilon: float) -> _Pair:
    """Target layer ``l`` (weights ``w``) on host layers ``2 l`` (fan-out) and ``2 l + 1`` (sums): units drawn from
    ``free`` (marked used), every weight's two subset sums solved; the largest error in target units."""
    fan, out = 2 * l, 2 * l + 1
    A, B = state[weight_name(fan)], state[weight_name(out)]
    units = torch.arange(w.shape[0]) if out == arch.n_layers - 1 else _draw(free[out], w.shape[0], generator)
    groups = []  # per input j: (positive-a units, negative-a units)
    for j in range(w.shape[1]):
        a = A[:, prev[j]]
        groups.append((_draw(free[fan] & (a > 0), half, generator, free[fan]),
                       _draw(free[fan] & (a < 0), half, generator, free[fan])))
    edges = {weight_name(fan): torch.zeros(A.shape, dtype=torch.bool),
             weight_name(out): torch.zeros(B.shape, dtype=torch.bool)}
    worst = 0.0
    for j, (pos, neg) in enumerate(groups):
        for k in range(w.shape[0]):
            if w[k, j] == 0:
                continue
            for cand, goal in ((pos, lam * w[k, j]), (neg, -lam * w[k, j])):
                products = (A[cand, prev[j]].abs() * B[units[k], cand]).numpy()
                chosen, err = matched_subset(products, goal, epsilon * lam)
                worst = max(worst, err / lam)
                used = cand[torch.from_numpy(chosen)]
                edges[weight_name(out)][units[k], used] = True
                edges[weight_name(fan)][used, prev[j]] = True
    fan_units = torch.cat([torch.cat(g) for g in groups])
    return _Pair(edges, fan_units, units, worst)


def _draw(allowed: torch.Tensor, count: int, generator: torch.Generator,
          free: torch.Tensor | None = None) -> torch.Tensor:
    """``count`` units drawn at random among the ``allowed`` ones, marked used in ``free`` (default: ``allowed``
    itself); ConfigError where too few are allowed."""
    idx = torch.nonzero(allowed).flatten()
    if len(idx) < count:
        raise ConfigError(f"the host has {len(idx)} free units of the needed sign, {count} needed (a wider host or "
                          "fewer candidates)")
    chosen = idx[torch.randperm(len(idx), generator=generator)[:count]]
    (allowed if free is None else free)[chosen] = False
    return chosen

