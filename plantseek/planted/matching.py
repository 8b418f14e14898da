"""Planting one layer: the matching every family's planting uses (MLP layers, conv kernel columns, attention
projections).

:func:`plant_layer` places each target neuron of a layer at the unused host neuron whose parameters best match a
positive multiple of the target's (its scale: given, :mod:`plantseek.planted.factors`, or fitted by least squares),
with the bias routes (a) and (b) of MLP planting
(:mod:`plantseek.families.mlp.planting`; ``docs/design/families.md`` derives them); :func:`ticket_matrix` turns a
placement into a host mask; :class:`PlantedHost` is what planting a whole host returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from plantseek.core.types import Mask
from plantseek.planted.targets import TargetNetwork

#: largest bias shift of route (a), in target units (target units are O(1): inputs in [-1, 1], unit-scale
#: targets); host neurons whose bias would need a larger shift (a weight tiny next to the bias) are no candidates
MAX_SHIFT = 10.0

@dataclass
class PlantedHost:
    state: dict[str, torch.Tensor]  # host parameters after planting, float64
    ticket: Mask  # True on the planted (nonzero target) weights and on the kept biases of ticket units
    scales: torch.Tensor  # per-output factor, float64: masked host(x) = scales * target(x)
    placement: list[torch.Tensor]  # per weight layer: host index of each target neuron of its output side
    neuron_scales: list[torch.Tensor]  # per weight layer: lam of each target neuron of its output side
    target: TargetNetwork  # the planted target: the task's target with the shifted biases of route (a)
    #: every planted ticket where there are several (the multiple-ticket setting); empty: ``ticket`` alone
    tickets: list[Mask] = field(default_factory=list)


@dataclass
class PlantedLayer:
    """One planted layer: host index, scale and whether the bias is kept, per target neuron; shifts of route (a)."""

    idx: torch.Tensor
    lam: torch.Tensor
    keeps_bias: torch.Tensor
    shifts: dict[int, float]


def ticket_matrix(T: np.ndarray, idx: torch.Tensor, col_map: torch.Tensor, shape) -> torch.Tensor:
    """The ticket of one planted layer as a host mask of ``shape`` (rows x columns): True at ``(idx[j], col_map[i])``
    for every nonzero target weight ``T[j, i]``."""
    mask = torch.zeros(shape, dtype=torch.bool)
    rows, cols = torch.nonzero(torch.from_numpy(T != 0), as_tuple=True)
    mask[idx[rows], col_map[cols]] = True
    return mask


def plant_layer(T_np: np.ndarray, c_np: np.ndarray, W: torch.Tensor, b: torch.Tensor, col_map: torch.Tensor,
                col_scale: torch.Tensor, floors: tuple[np.ndarray, np.ndarray], generator: torch.Generator,
                is_output: bool, factors: torch.Tensor | None = None) -> PlantedLayer:
    """Plant the target neurons of one layer (rows of ``T_np``, biases ``c_np``) into the host rows of ``W`` and
    ``b`` (overwritten in place): target column ``i`` sits at host column ``col_map[i]``, whose input carries the
    factor ``col_scale[i]`` (an MLP: the previous layer's placement and scales; a convolution: one column per
    kernel entry of a matched input channel). ``floors`` = (``shift_floor``, ``flagged``): the bias of a neuron of
    route (a) (where ``shift_floor``, the lower bound of its pre-activation, is not NaN) or (b) is not matched; a
    unit ``flagged`` always active goes only to a host neuron whose own bias keeps it active, where there is one.
    ``factors`` (optional, one positive factor per target neuron, e.g. :mod:`plantseek.planted.factors`): the factor is
    not fitted but given, and the host neuron is the unused one whose parameters are closest to ``lam`` times the
    target's."""
    shift_floor, flagged = floors
    T = torch.from_numpy(T_np)
    c = torch.from_numpy(c_np.copy())
    n_target, n_host = T.shape[0], W.shape[0]
    used = torch.zeros(n_host, dtype=torch.bool)
    out = PlantedLayer(torch.empty(n_target, dtype=torch.long), torch.empty(n_target, dtype=torch.float64),
                       torch.ones(n_target, dtype=torch.bool), {})
    for j in torch.randperm(n_target, generator=generator).tolist():
        support = torch.nonzero(T[j]).flatten()
        cols = col_map[support]
        u = T[j, support] / col_scale[support]
        shiftable = not np.isnan(shift_floor[j])
        free_bias = shiftable or float(c[j]) == 0.0
        P = W[:, cols] if free_bias else torch.cat([W[:, cols], b[:, None]], dim=1)
        vector = u if free_bias else torch.cat([u, c[j: j + 1]])
        lam, err = best_factors(P, vector) if factors is None else given_factor(P, vector, float(factors[j]))
        if shiftable:
            shift = (b / lam - c[j]).abs()
            keeps_own = b / lam >= float(c[j]) - shift_floor[j]
            if flagged[j] and bool((keeps_own & ~used).any()):
                err[~keeps_own] = torch.inf
            else:
                err[shift > max(MAX_SHIFT, 2 * float(shift[~used].min()))] = torch.inf
        if is_output:
            h = j
        else:
            err[used] = torch.inf
            perm = torch.randperm(n_host, generator=generator)
            h = int(perm[torch.argmin(err[perm])])
        used[h] = True
        W[h, cols] = lam[h] * u
        if shiftable:
            new_c = float(b[h] / lam[h])  # the host's own bias, unless the shift would not keep the unit active
            if new_c < float(c[j]) - shift_floor[j]:
                new_c = max(float(c[j]), abs(new_c))
            out.shifts[j] = new_c - float(c[j])
            b[h] = lam[h] * new_c
        elif free_bias:
            out.keeps_bias[j] = False  # route (b): the host keeps its bias, the ticket prunes it
        else:
            b[h] = lam[h] * c[j]
        out.idx[j], out.lam[j] = h, lam[h]
    return out


def best_factors(P: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per host neuron (row of ``P``): the positive least-squares factor ``lam`` matching ``lam * u`` to its row, and
    the squared residual."""
    inner, p2, u2 = P @ u, (P * P).sum(1), float(u @ u)
    if u2 == 0.0:  # nothing to match
        return torch.ones(P.shape[0], dtype=torch.float64), p2.clone()
    lam = torch.where(inner > 0, inner / u2, torch.sqrt(p2 / u2))
    lam = torch.where(lam > 0, lam, torch.ones_like(lam))
    return lam, p2 - 2 * lam * inner + lam * lam * u2


def given_factor(P: torch.Tensor, vector: torch.Tensor, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The factor ``lam`` for every host neuron (a row of ``P``) and each row's squared residual against
    ``lam * vector``."""
    return torch.full((P.shape[0],), lam, dtype=torch.float64), (P - lam * vector).square().sum(1)
