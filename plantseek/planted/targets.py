"""Target tickets: small hand-made ReLU networks in float64, and the piecewise-linear building block.

A :class:`TargetNetwork` is a list of dense float64 layers ``(W_l, b_l)`` with ReLU between them and a linear
last layer; its nonzero weights are the ticket. Weights with ``|w| < ZERO_TOL`` are numerically zero and are
set to exactly zero (they are not ticket weights; ``n_dropped_weights`` counts them, as a reference implementation that
keeps them would count them as ticket weights).

:func:`preactivation_lower_bounds` proves which units are always active on the input domain ``[-1, 1]^d`` (exactly
for one input, by interval arithmetic otherwise); :func:`shift_bias` gives such a unit a bias ``+beta`` and removes its
effect downstream without changing the network's function (used by planting, :mod:`plantseek.families.mlp.planting`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from plantseek.planted.factors import FACTOR_RULES

ZERO_TOL = 1e-12


@dataclass
class TargetNetwork:
    weights: list[np.ndarray]  # W_l, shape (n_{l+1}, n_l), float64
    biases: list[np.ndarray]  # b_l, shape (n_{l+1},), float64
    description: str = ""
    notes: dict = field(default_factory=dict)
    #: per layer, units the constructor proves always active on the domain with their bias (or any larger one):
    #: planting may give them the host's own bias (:mod:`plantseek.families.mlp.planting`, route (a)); None: none
    always_active: list[np.ndarray] | None = None
    #: how planting chooses each neuron's factor (:data:`plantseek.planted.factors.FACTOR_RULES`)
    factors: str = "host-matched"

    def __post_init__(self) -> None:
        if self.factors not in FACTOR_RULES:
            raise ValueError(f"factors must be one of {', '.join(FACTOR_RULES)}, got {self.factors!r}")
        self.weights = [np.asarray(w, dtype=np.float64).copy() for w in self.weights]
        self.biases = [np.asarray(b, dtype=np.float64).copy() for b in self.biases]
        if self.always_active is not None:
            self.always_active = [np.asarray(a, dtype=bool).copy() for a in self.always_active]
            if [a.shape for a in self.always_active] != [b.shape for b in self.biases]:
                raise ValueError("always_active needs one flag per unit of every layer")
        tiny = [(w != 0) & (np.abs(w) < ZERO_TOL) for w in self.weights]
        self.n_dropped_weights = int(sum(t.sum() for t in tiny))
        for w, t in zip(self.weights, tiny):
            w[t] = 0.0
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            if w.shape[0] != b.shape[0]:
                raise ValueError(f"target layer {l}: weight rows {w.shape[0]} != bias size {b.shape[0]}")
            if l and w.shape[1] != self.weights[l - 1].shape[0]:
                raise ValueError(f"target layer {l}: input size {w.shape[1]} != previous output size")

    @property
    def widths(self) -> list[int]:
        return [self.weights[0].shape[1]] + [w.shape[0] for w in self.weights]

    @property
    def depth(self) -> int:
        return len(self.weights) + 1

    def n_weights_per_layer(self) -> list[int]:
        return [int(np.count_nonzero(w)) for w in self.weights]

    @property
    def n_weights(self) -> int:
        return sum(self.n_weights_per_layer())

    def copy(self) -> "TargetNetwork":
        twin = TargetNetwork(self.weights, self.biases, self.description, dict(self.notes), self.always_active,
                             self.factors)
        twin.n_dropped_weights = self.n_dropped_weights
        return twin

    def __call__(self, x: np.ndarray) -> np.ndarray:
        h = np.asarray(x, dtype=np.float64)
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ w.T + b
            if l < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        return h


def preactivation_lower_bounds(target: TargetNetwork) -> list[np.ndarray]:
    """Per layer, a lower bound of every unit's pre-activation over the input domain ``[-1, 1]^d``: the exact
    minimum for one input (:func:`_exact_bounds_1d`), interval arithmetic otherwise (sound, possibly loose)."""
    if target.widths[0] == 1:
        return _exact_bounds_1d(target)
    lo, hi = -np.ones(target.widths[0]), np.ones(target.widths[0])
    bounds = []
    for w, b in zip(target.weights, target.biases):
        pos, neg = np.maximum(w, 0.0), np.minimum(w, 0.0)
        z_lo, z_hi = pos @ lo + neg @ hi + b, pos @ hi + neg @ lo + b
        bounds.append(z_lo)
        lo, hi = np.maximum(z_lo, 0.0), np.maximum(z_hi, 0.0)
    return bounds


def _exact_bounds_1d(target: TargetNetwork) -> list[np.ndarray]:
    """Exact minima for a network of one input: every pre-activation is piecewise linear in ``x`` with breakpoints
    where some earlier unit crosses zero, so the minimum over ``[-1, 1]`` is attained on the end points and those
    crossings, which are added layer by layer."""
    xs = np.array([-1.0, 1.0])
    bounds = []
    for l, (w, b) in enumerate(zip(target.weights, target.biases)):
        z = _preactivations(target, l, xs)
        bounds.append(z.min(axis=0))
        za, zb = z[:-1], z[1:]
        cross = (za * zb) < 0
        i, _ = np.nonzero(cross)
        t = za[cross] / (za[cross] - zb[cross])
        xs = np.unique(np.concatenate([xs, xs[i] + t * (xs[i + 1] - xs[i])]))
    return bounds


def _preactivations(target: TargetNetwork, layer: int, xs: np.ndarray) -> np.ndarray:
    h = xs[:, None]
    for l in range(layer + 1):
        z = h @ target.weights[l].T + target.biases[l]
        h = np.maximum(z, 0.0)
    return z


def shift_bias(target: TargetNetwork, layer: int, unit: int, beta: float) -> None:
    """Add ``beta`` to the bias of an always-active hidden unit (pre-activation >= 0 on the domain, beta >= 0) and
    subtract its effect from the next layer's biases: ``relu(z + beta) = relu(z) + beta`` there, so the network's
    function is unchanged."""
    target.biases[layer][unit] += beta
    target.biases[layer + 1] -= target.weights[layer + 1][:, unit] * beta


@dataclass(frozen=True)
class PiecewiseLinear:
    """relu-units representation of a continuous piecewise-linear approximation of ``f`` on knots
    ``s_0 < ... < s_{n-1}`` (+ end).

    Unit ``j`` computes ``relu(p_j * (x - s_j))`` with signs ``p_j`` alternating +1, -1, +1, ... (unit 0 is +1),
    ``out_weights[j]`` are the changes of slope at the knots, corrected for the negative-sign units (unit 0,
    active on the whole domain, absorbs their linear parts), and ``out_bias`` makes the sum equal ``f`` at the
    first knot. Exact on ``[s_0, end]`` for the interpolant.
    """

    in_weights: np.ndarray  # p_j, shape (n,)
    in_biases: np.ndarray  # -p_j * s_j
    out_weights: np.ndarray  # shape (n,)
    out_bias: float

    @classmethod
    def fit(cls, f, lo: float, hi: float, n_knots: int, method: str = "least_squares") -> "PiecewiseLinear":
        """Continuous PL approximation of ``f`` on ``n_knots`` equal intervals of ``[lo, hi]``.

        ``method="interpolate"`` matches ``f`` at the grid points; ``"least_squares"`` (default) chooses the
        grid values that minimise the mean squared error on a fine uniform grid (about 6x smaller MSE).
        """
        if n_knots < 1:
            raise ValueError("need at least one knot")
        grid = np.linspace(lo, hi, n_knots + 1)  # n intervals, n knots s_0..s_{n-1}, and the end point
        if method == "interpolate":
            values = np.asarray([f(t) for t in grid], dtype=np.float64)
        elif method == "least_squares":
            fine = np.linspace(lo, hi, 64 * n_knots + 1)
            hats = np.stack([np.interp(fine, grid, np.eye(n_knots + 1)[i]) for i in range(n_knots + 1)], axis=1)
            target = np.asarray([f(t) for t in fine], dtype=np.float64)
            values = np.linalg.lstsq(hats, target, rcond=None)[0]
        else:
            raise ValueError(f"unknown PL fit method {method!r}")
        slopes = np.diff(values) / np.diff(grid)
        knots = grid[:-1]
        changes = np.concatenate([[slopes[0]], np.diff(slopes)])  # a_j
        signs = np.where(np.arange(n_knots) % 2 == 0, 1.0, -1.0)
        out_w = changes.copy()
        out_b = values[0]
        odd = signs < 0
        # a*relu(x-s) = a*relu(s-x) + a*(x-s);  x - s = (x - s_0) + (s_0 - s) and relu(x - s_0) = x - s_0 on domain
        out_w[0] += changes[odd].sum()
        out_b += float((changes[odd] * (knots[0] - knots[odd])).sum())
        return cls(in_weights=signs, in_biases=-signs * knots, out_weights=out_w, out_bias=float(out_b))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        units = np.maximum(np.multiply.outer(np.asarray(x, dtype=np.float64), self.in_weights) + self.in_biases, 0)
        return units @ self.out_weights + self.out_bias

    @property
    def n_units(self) -> int:
        return len(self.in_weights)
