"""Planting a target ticket into a randomly initialised host, layer by layer, in float64.

For each target neuron (in a random order) with incoming target weights ``w`` on previous target neurons that
were placed at host neurons ``pi(i)`` with scales ``s_i``, and bias ``c``, the vector to plant is
``u = (w_i / s_i for nonzero w_i, c)``. Every unused host neuron ``h`` offers its current parameters
``p_h = (W[h, pi(i)], b[h])``; the best positive factor is ``lam = <p_h, u> / |u|^2`` (least squares); where that
is not positive, ``lam = |p_h| / |u|`` keeps the magnitudes (the fit is then poor and the neuron unlikely to
win). The host neuron with the smallest residual ``|p_h - lam u|^2`` wins (exact ties: a uniformly random one
from the generator), and only those parameters are overwritten with ``lam * u``; ``lam`` becomes the neuron's
scale. Since ``lam > 0`` and ReLU is positively homogeneous, the host restricted to the ticket computes
``scale * target(x)`` with one factor per output. Output neurons keep their order (output k is target output k).

**Zero target biases** (the ReLU path, Circle's ``|x|`` and holding layers, the first unit of a piecewise-linear
block, Helix's identity layers) would give their host neurons an exactly zero bias while every other host bias is a
draw of ``N(0, sigma_l^2)``: a leak. Zeroing a matching share of other biases hides it but changes the host (where
every ticket neuron of a layer has a zero bias the whole layer becomes bias-free: the ReLU host entirely, which makes
it trivial). Instead the host keeps the paper's initialisation everywhere and the target's zero biases go away by
two function-preserving routes; the bias is then not matched (``u`` has no bias entry, ``lam`` fits the weights):

(a) *Non-zero biases that leave the function unchanged* (Gadhikar, Fischer & Burkholz, "Lottery tickets with
    nonzero biases"): a hidden unit whose pre-activation ``z`` is provably >= 0 on the input domain
    (:func:`plantseek.planted.targets.preactivation_lower_bounds`) computes ``relu(z + beta) = z + beta`` for any
    ``beta >= -min z``, and the next layer's biases absorb ``-w_next * beta``
    (:func:`plantseek.planted.targets.shift_bias`). The planted bias is the host's own draw ``b[h]`` (the neuron's
    bias is left as it is) whenever that shift is allowed, and ``|b[h]|`` otherwise (a unit whose pre-activation
    reaches 0 and whose inputs carry no upstream shift needs a positive bias), so planted biases are draws of the
    layer's initialisation up to the sign of a few. Host neurons that would need ``|beta| > MAX_SHIFT`` (or twice the
    smallest shift any free neuron needs, if larger) are not candidates (the shift is cancelled downstream, and a
    large one costs precision). The audit reports the share of positive biases among ticket units.
(b) *Tickets that prune biases*: a remaining zero-bias unit (its pre-activation changes sign, e.g. ``relu(x1)``,
    ``|x|`` units, or an output) keeps its host bias, and the ticket's bias mask ``layers.{l}.bias`` removes it.

The ticket therefore carries a bias entry per layer: True at ticket units that keep their bias, False at ticket
units whose bias it prunes and at every non-ticket unit. The masked host (weights and biases masked) computes
``scale * target(x)``, where ``target`` is the planted target (with the shifted biases of (a); its function equals
the task's target to 1e-12 relative to the largest planted bias, checked here on many inputs). A weight-only mask
keeps every bias and so cannot reproduce a unit whose bias the ticket prunes.

Units a target flags ``always_active`` (Circle's ``t + B`` units: ``x_i + 1`` at depth 4, ``x'`` and ``y' + B`` of
the last mirroring layer at depth >= 6) are route (a) units with a stricter choice: only host neurons whose own bias
keeps the unit active are candidates (where there is one; no ``MAX_SHIFT`` bound then), so the planted bias is the
host's draw, and the next layer (Circle's PL units, whose knot offsets alone are small next to their weights) gets
biases of the host's size through the shift. Units of other targets are planted as before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from plantseek.core.errors import ConfigError
from plantseek.nets.mlp import Architecture, Mask, bias_name, weight_name
from plantseek.planted.targets import TargetNetwork, preactivation_lower_bounds, shift_bias

#: largest bias shift of route (a), in target units (target units are O(1): inputs in [-1, 1], unit-scale
#: targets); host neurons whose bias would need a larger shift (a weight tiny next to the bias) are no candidates
MAX_SHIFT = 10.0
#: inputs up to which check_same_function adds the 3^d corners of {-1, 0, 1}^d (a user's target may have many)
MAX_CORNER_DIM = 6
#: the planted target must compute the task's target to this relative precision
SAME_FUNCTION_TOL = 1e-12


@dataclass
class PlantedHost:
    state: dict[str, torch.Tensor]  # host parameters after planting, float64
    ticket: Mask  # True on the planted (nonzero target) weights and on the kept biases of ticket units
    scales: torch.Tensor  # per-output factor, float64: masked host(x) = scales * target(x)
    placement: list[torch.Tensor]  # per weight layer: host index of each target neuron of its output side
    neuron_scales: list[torch.Tensor]  # per weight layer: lam of each target neuron of its output side
    target: TargetNetwork  # the planted target: the task's target with the shifted biases of route (a)


@dataclass
class PlantedLayer:
    """One planted layer: host index, scale and whether the bias is kept, per target neuron; shifts of route (a)."""

    idx: torch.Tensor
    lam: torch.Tensor
    keeps_bias: torch.Tensor
    shifts: dict[int, float]


def check_fits(target: TargetNetwork, arch: Architecture) -> None:
    tw, hw = target.widths, list(arch.widths)
    if len(tw) != len(hw):
        raise ConfigError(f"ticket has depth {len(tw)} but the host has depth {len(hw)}")
    if tw[0] != hw[0] or tw[-1] != hw[-1]:
        raise ConfigError(f"ticket maps {tw[0]}->{tw[-1]} but the host maps {hw[0]}->{hw[-1]}")
    widest = max(tw[1:-1], default=0)
    if any(t > h for t, h in zip(tw[1:-1], hw[1:-1])):
        raise ConfigError(f"width {min(hw[1:-1])} is narrower than the ticket's widest hidden layer ({widest} neurons)")


def shiftable_units(target: TargetNetwork) -> list[np.ndarray]:
    """Per layer, the lower bound of the pre-activation of each hidden unit of route (a) (zero target bias and a
    pre-activation >= 0 on the whole domain, or flagged ``always_active`` by the target: floor 0 where the interval
    bound is looser), NaN elsewhere."""
    bounds = preactivation_lower_bounds(target)
    last = len(target.weights) - 1
    floors = [np.where((b == 0) & (lo >= 0) & (l < last), lo, np.nan)
              for l, (b, lo) in enumerate(zip(target.biases, bounds))]
    for l, flags in enumerate(target.always_active or []):
        if l < last:  # proved active by the constructor: no slack below its own bias where the bounds are loose
            floors[l] = np.where(flags, np.maximum(bounds[l], 0.0), floors[l])
    return floors


def plant_target(
    target: TargetNetwork, arch: Architecture, host: dict[str, torch.Tensor], generator: torch.Generator
) -> PlantedHost:
    """Plant ``target`` into (a copy of) the host parameters ``host``; randomness from ``generator``."""
    check_fits(target, arch)
    planted = target.copy()
    shiftable = shiftable_units(target)
    state = {k: v.clone().to(torch.float64) for k, v in host.items()}
    ticket: Mask = {}
    placement: list[torch.Tensor] = []
    neuron_scales: list[torch.Tensor] = []
    prev_idx = torch.arange(arch.widths[0])
    prev_scale = torch.ones(arch.widths[0], dtype=torch.float64)
    last = arch.n_layers - 1
    flagged = target.always_active or [np.zeros(b.shape, dtype=bool) for b in target.biases]
    for l in range(arch.n_layers):
        W, b = state[weight_name(l)], state[bias_name(l)]
        layer = plant_layer(planted.weights[l], planted.biases[l], W, b, prev_idx, prev_scale,
                            (shiftable[l], flagged[l]), generator, l == last)
        for unit, beta in layer.shifts.items():
            shift_bias(planted, l, unit, beta)
        mask = ticket_matrix(planted.weights[l], layer.idx, prev_idx, W.shape)
        bias_mask = torch.zeros(arch.widths[l + 1], dtype=torch.bool)
        bias_mask[layer.idx[layer.keeps_bias]] = True
        ticket[weight_name(l)], ticket[bias_name(l)] = mask, bias_mask
        placement.append(layer.idx)
        neuron_scales.append(layer.lam)
        prev_idx, prev_scale = layer.idx, layer.lam
    check_same_function(target, planted)
    return PlantedHost(state, ticket, prev_scale.clone(), placement, neuron_scales, planted)


def ticket_matrix(T: np.ndarray, idx: torch.Tensor, col_map: torch.Tensor, shape) -> torch.Tensor:
    """The ticket of one planted layer as a host mask of ``shape`` (rows x columns): True at ``(idx[j], col_map[i])``
    for every nonzero target weight ``T[j, i]``."""
    mask = torch.zeros(shape, dtype=torch.bool)
    rows, cols = torch.nonzero(torch.from_numpy(T != 0), as_tuple=True)
    mask[idx[rows], col_map[cols]] = True
    return mask


def plant_layer(T_np: np.ndarray, c_np: np.ndarray, W: torch.Tensor, b: torch.Tensor, col_map: torch.Tensor,
                col_scale: torch.Tensor, floors: tuple[np.ndarray, np.ndarray], generator: torch.Generator,
                is_output: bool, magnitudes: torch.Tensor | None = None) -> PlantedLayer:
    """Plant the target neurons of one layer (rows of ``T_np``, biases ``c_np``) into the host rows of ``W`` and
    ``b`` (overwritten in place): target column ``i`` sits at host column ``col_map[i]``, whose input carries the
    factor ``col_scale[i]`` (an MLP: the previous layer's placement and scales; a convolution: one column per
    kernel entry of a matched input channel). ``floors`` = (``shift_floor``, ``flagged``): the bias of a neuron of
    route (a) (where ``shift_floor``, the lower bound of its pre-activation, is not NaN) or (b) is not matched; a
    unit ``flagged`` always active goes only to a host neuron whose own bias keeps it active, where there is one.
    ``magnitudes`` (optional, one per target neuron; conv planting's drawn factors): the factor is not fitted but set
    so that the planted weights' root mean square is that magnitude, ``lam = magnitudes[j] / rms(u)``, and the host
    neuron is the unused one whose parameters are closest to ``lam`` times the target's."""
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
        lam, err = _best_factors(P, vector) if magnitudes is None else _set_factors(P, vector, u, magnitudes[j])
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


def _best_factors(P: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per host neuron (row of ``P``): the positive least-squares factor ``lam`` matching ``lam * u`` to its row, and
    the squared residual."""
    inner, p2, u2 = P @ u, (P * P).sum(1), float(u @ u)
    if u2 == 0.0:  # nothing to match
        return torch.ones(P.shape[0], dtype=torch.float64), p2.clone()
    lam = torch.where(inner > 0, inner / u2, torch.sqrt(p2 / u2))
    lam = torch.where(lam > 0, lam, torch.ones_like(lam))
    return lam, p2 - 2 * lam * inner + lam * lam * u2


def _set_factors(P: torch.Tensor, vector: torch.Tensor, u: torch.Tensor,
                 magnitude: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The factor that gives the planted weights ``lam * u`` the root mean square ``magnitude`` (the same for every
    host neuron, a row of ``P``), and each row's squared residual against ``lam * vector`` (a neuron without weights:
    the least-squares factor)."""
    if not bool(u.any()):
        return _best_factors(P, vector)
    lam = float(magnitude) / float(u.square().mean().sqrt())
    return torch.full((P.shape[0],), lam, dtype=torch.float64), (P - lam * vector).square().sum(1)


def check_same_function(target: TargetNetwork, planted: TargetNetwork, n: int = 4096) -> float:
    """The largest deviation of ``planted`` from ``target`` on ``n`` fixed points of the input domain (a seeded
    uniform sample plus the corners of ``{-1, 0, 1}^d`` for ``d <= MAX_CORNER_DIM``), relative to the largest
    magnitude involved (outputs and planted biases: the shifts of route (a) cancel in float64 to about 1e-16 of
    their size). Raises RuntimeError above SAME_FUNCTION_TOL."""
    d = target.widths[0]
    x = np.random.default_rng(0).uniform(-1.0, 1.0, size=(n, d))
    if d <= MAX_CORNER_DIM:
        corners = np.array(np.meshgrid(*[[-1.0, 0.0, 1.0]] * d)).reshape(d, -1).T
        x = np.concatenate([x, corners])
    a, b = target(x), planted(x)
    size = max(1.0, float(np.max(np.abs(a))), *(float(np.max(np.abs(c))) for c in planted.biases))
    deviation = float(np.max(np.abs(a - b))) / size
    if deviation > SAME_FUNCTION_TOL:
        raise RuntimeError(f"planting changed the target's function (relative deviation {deviation:.2g})")
    return deviation
