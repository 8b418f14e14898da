"""Host-matched planting factors: one positive factor per target unit, chosen so that the planted weights and biases
look like the host's own.

Planting writes target neuron ``j`` of a layer as ``lam_j * T[j, i] / lam_i`` (its weights, ``lam_i`` the factor of
the unit its input ``i`` comes from; 1 for a network input) and ``lam_j * c_j`` (its bias, where the bias is planted).
Any positive factors give an exact ticket (ReLU is positively homogeneous); a least-squares fit of ``lam_j`` to one
host neuron (the paper's rule) makes a neuron of many prescribed weights come out far smaller than the weights around
it, and equal target weights come out equal. Here instead:

1. every planted entry draws a *host magnitude*: stratified quantiles of ``|w|`` (weights) or ``|b|`` (biases) of the
   host layer it is planted in (:func:`host_quantiles`; continuous, so no draw repeats a host value exactly), in a
   random order; biases of a layer whose every host unit is a ticket unit tell nothing and are left out, and in such
   a layer each input unit whose whole host column is planted draws a host column norm;
2. the log-factors ``a = log lam`` of all target units minimise :class:`_Objective`: per entry a log-half-normal loss
   of its planted log-magnitude ``v = a_j - a_i + log|T_ji|`` (or ``a_j + log|c_j|``) around its draw, steep above
   and gentle below; a barrier at the layer's ``CAP_QUANTILE``; the log-norms of fully planted columns against their
   draws; a tiny ridge (least-squares start, damped Newton steps);
3. ``REMATCH_ROUNDS`` times, the draws of each layer are reassigned by rank to the entries the solution makes
   largest, and the factors solved again.

A unit with one planted weight gets its draw (below the cap); the factors of a unit's inputs spread the magnitudes of
its weights, so equal target weights on inputs of different units become different weights; what one factor per unit
cannot change (the ratios of a unit's weights on inputs of one unit, e.g. a convolution kernel reading one channel) is
the target's. Planting then places each neuron at the unused host neuron closest to its planted values
(:func:`plantseek.planted.matching.plant_layer` with ``factors``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from scipy import sparse
from scipy.sparse import linalg

#: how planting chooses its factors: ``host-matched`` (this module; the default) or ``least-squares`` (the paper's
#: rule: fitted to each candidate host neuron, :func:`plantseek.planted.matching.best_factors`)
FACTOR_RULES = ("host-matched", "least-squares")
RIDGE = 1e-3  # weight of the prior (log of the layer's typical bias scale) on every log-factor
#: rounds in which the draws are reassigned to the planted entries by rank and the factors solved again (the draws
#: follow the structure instead of fighting it: the entry the structure makes largest gets the largest draw)
REMATCH_ROUNDS = 3
NEWTON_STEPS = 30
NORM_WEIGHT = 10.0  # weight of a fully planted column's log-norm against its draw
CAP_QUANTILE = 0.95  # the barrier's place: this quantile of the host layer's magnitudes
BARRIER = 20.0  # its steepness (per unit of log-magnitude)
TINY = 1e-300


@dataclass(frozen=True)
class FactorLayer:
    """One layer as the solve sees it: target weights ``T`` (units x columns), the previous layer's unit of each column
    (``col_unit``; -1: a network input, factor 1), target biases ``c`` and which biases are planted."""

    T: np.ndarray
    col_unit: np.ndarray
    c: np.ndarray
    bias_planted: np.ndarray
    full_rows: bool = False  # every host unit of the layer's output side is a target unit (an output layer)


def host_quantiles(values: torch.Tensor, n: int, generator: torch.Generator) -> np.ndarray:
    """``n`` stratified draws of ``|values|`` (float64): the quantiles ``(k_j + U_j) / n``, ``k`` a random permutation
    of ``0 .. n-1``, ``U_j`` uniform on [0, 1) (linear interpolation between order statistics)."""
    if n == 0:
        return np.zeros(0)
    strata = torch.randperm(n, generator=generator).to(torch.float64)
    q = (strata + torch.rand(n, generator=generator, dtype=torch.float64)) / n
    return np.quantile(_magnitudes(values), q.numpy())  # numpy: torch.quantile refuses more than 2^24 values


def _magnitudes(values: torch.Tensor) -> np.ndarray:
    return values.detach().abs().flatten().to(torch.float64).numpy()


@dataclass
class Draws:
    """The host magnitudes of one layer's planted entries: ``weights`` in row-major order of the target's nonzero
    weights, ``biases`` one per unit (used where its bias is planted), ``scale`` the layer's typical bias magnitude."""

    weights: np.ndarray
    biases: np.ndarray
    scale: float
    caps: tuple[float, float] = (np.inf, np.inf)  # CAP_QUANTILE of the host layer's |w| and |b|
    norms: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per input unit: a draw of the host's column norms


def draw_layer(layer: FactorLayer, host_w: torch.Tensor, host_b: torch.Tensor, generator: torch.Generator) -> Draws:
    """The draws of one layer from its host weight and bias (every unit gets a bias draw; with ``full_rows``, every
    input unit a draw of the host's column norms: all the outgoing weights of the layer's units)."""
    T = layer.T
    weights = host_quantiles(host_w, int(np.count_nonzero(T)), generator)
    biases = host_quantiles(host_b, T.shape[0], generator)
    norms = np.zeros(0)
    if layer.full_rows:
        dims = [d for d in range(host_w.dim()) if d != 1]
        norms = host_quantiles(host_w.detach().to(torch.float64).pow(2).sum(dims).sqrt(), host_w.shape[1], generator)
    typical = float(host_b.detach().abs().to(torch.float64).median()) if host_b.numel() else 1.0
    caps = tuple(float(np.quantile(_magnitudes(v), CAP_QUANTILE)) if v.numel() else np.inf for v in (host_w, host_b))
    return Draws(weights, biases, typical if typical > 0 else 1.0, (caps[0], caps[1]), norms)


def solve_factors(layers: list[FactorLayer], draws: list[Draws], fixed: list[np.ndarray]) -> list[np.ndarray]:
    """Positive factors of every target unit of ``layers`` (see the module docstring); the first ``len(fixed)``
    layers keep the factors ``fixed`` (already planted), the others are solved."""
    start = len(fixed)
    offsets = np.cumsum([0] + [lay.T.shape[0] for lay in layers[start:]])
    n_vars = int(offsets[-1])
    if n_vars == 0:
        return list(fixed)
    logs_fixed = [np.log(f) for f in fixed]
    var, src, known, group, draw, cap = [], [], [], [], [], []  # per entry: log|planted| = a[var] - a[src] + known
    norm_groups: list[tuple[list[int], float]] = []  # (entries of one input unit's whole host column, log of a draw)
    for l in range(start, len(layers)):
        lay, d, base = layers[l], draws[l], int(offsets[l - start])
        units, cols = np.nonzero(lay.T)
        first = len(var)
        for j, i, m in zip(units.tolist(), cols.tolist(), d.weights):
            if not m > 0:  # a host layer of zeros: nothing to match
                continue
            unit, offset = int(lay.col_unit[i]), 0.0
            if unit >= 0 and l - 1 < start:
                offset = -logs_fixed[l - 1][unit]
            var.append(base + j)
            src.append(int(offsets[l - 1 - start]) + unit if unit >= 0 and l - 1 >= start else -1)
            known.append(np.log(abs(lay.T[j, i])) + offset)
            group.append(2 * l)
            draw.append(m)
            cap.append(d.caps[0])
        if lay.full_rows:
            entry_unit = lay.col_unit[cols]
            for u in np.unique(entry_unit[entry_unit >= 0]).tolist():
                whole = u < len(d.norms) and d.norms[u] > 0 and np.all(lay.T[:, lay.col_unit == u] != 0)
                if whole and len(var) - first == len(units):
                    norm_groups.append(((first + np.nonzero(entry_unit == u)[0]).tolist(), np.log(d.norms[u])))
        for j in np.nonzero(lay.bias_planted & (lay.c != 0) & (d.biases > 0))[0].tolist():
            var.append(base + j)
            src.append(-1)
            known.append(np.log(abs(lay.c[j])))
            group.append(2 * l + 1)
            draw.append(d.biases[j])
            cap.append(d.caps[1])
    var_a, src_a = np.array(var, dtype=int), np.array(src, dtype=int)
    known_a, group_a = np.array(known), np.array(group)
    logs = np.log(np.maximum(np.array(draw), TINY))
    prior = np.concatenate([np.full(lay.T.shape[0], np.log(draws[l].scale)) for l, lay in enumerate(layers)
                            if l >= start])
    objective = _Objective(var_a, src_a, known_a, logs, np.log(np.maximum(np.array(cap), TINY)), prior, norm_groups)
    a = objective.least_squares()
    for _ in range(REMATCH_ROUNDS):
        a = objective.minimise(a)
        objective.aims = _rematched(objective.aims, objective.planted(a), group_a)
    a = objective.minimise(a)
    if not np.all(np.isfinite(a)):
        a = objective.least_squares()
    return [*fixed, *(np.exp(a[offsets[k]: offsets[k + 1]]) for k in range(len(layers) - start))]


@dataclass
class _Objective:
    """What the factors minimise, over the log-factors ``a``; ``v = a[var] - a[src] + known`` are the planted
    log-magnitudes.

    * per entry, the negative log-density of a log-half-normal centred on its aim (a draw): ``(exp(2 d) - 1) / 2 - d``
      with ``d = v - aim`` (0 at the aim, steep above it, gentle below: a Gaussian weight three times its typical size
      is as rare as one a hundred times smaller);
    * per entry, a barrier ``exp(K (v - cap)) / K^2`` that keeps it below its layer's ``CAP_QUANTILE`` where the
      structure allows (the far upper tail is where a few planted weights would stand out);
    * per input unit whose whole host column is planted (an output layer), ``NORM_WEIGHT / 2 (log |column| - t)^2``
      towards a draw ``t`` of the host's column norms (the entries alone would make such columns uniformly large or
      small);
    * a tiny ridge towards ``prior``.
    """

    var: np.ndarray
    src: np.ndarray  # -1: none
    known: np.ndarray
    aims: np.ndarray
    caps: np.ndarray
    prior: np.ndarray
    norm_groups: list[tuple[list[int], float]]

    def planted(self, a: np.ndarray) -> np.ndarray:
        """``v``: the planted log-magnitudes of the entries (``a[var] - a[src] + known``)."""
        return a[self.var] - np.where(self.src >= 0, a[np.maximum(self.src, 0)], 0.0) + self.known

    def _rows(self, per_entry: np.ndarray, n: int) -> np.ndarray:
        """``A^T per_entry`` (``A``: +1 at ``var``, -1 at ``src`` per entry)."""
        has = self.src >= 0
        return np.bincount(self.var, per_entry, n) - np.bincount(self.src[has], per_entry[has], n)

    def _gram(self, per_entry: np.ndarray, n: int, extra=()) -> sparse.csc_matrix:
        """``A^T diag(per_entry) A + RIDGE^2 I`` (sparse: a unit meets only its inputs and outputs), plus the
        ``(indices, block)`` pairs of ``extra`` added at ``indices x indices``."""
        has = self.src >= 0
        rows = [self.var, self.src[has], self.var[has], self.src[has], np.arange(n)]
        cols = [self.var, self.src[has], self.src[has], self.var[has], np.arange(n)]
        vals = [per_entry, per_entry[has], -per_entry[has], -per_entry[has], np.full(n, RIDGE**2)]
        for idx, block in extra:
            rows.append(np.repeat(idx, len(idx)))
            cols.append(np.tile(idx, len(idx)))
            vals.append(block.ravel())
        return sparse.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                 shape=(n, n)).tocsc()

    def least_squares(self) -> np.ndarray:
        """The start: log-factors whose planted log-magnitudes are closest to the aims in the least-squares sense."""
        n = len(self.prior)
        rhs = self._rows(self.aims - self.known, n) + RIDGE**2 * self.prior
        return _solve(self._gram(np.ones(len(self.var)), n), rhs)

    def value(self, a: np.ndarray, derivatives: bool = True):
        v = self.planted(a)
        d = v - self.aims
        e = np.exp(np.minimum(2 * d, 60.0))
        c = np.exp(np.minimum(BARRIER * (v - self.caps), 60.0))
        r = a - self.prior
        total = float(((e - 1) / 2 - d).sum() + c.sum() / BARRIER**2 + 0.5 * RIDGE**2 * (r * r).sum())
        groups = []
        for entries, target in self.norm_groups:
            w = np.exp(2 * (v[entries] - v[entries].max()))
            gap = float(v[entries].max() + 0.5 * np.log(w.sum())) - target
            total += 0.5 * NORM_WEIGHT * gap * gap
            groups.append((entries, w / w.sum(), gap))
        if not derivatives:
            return total
        n = len(a)
        grad = self._rows(e - 1 + c / BARRIER, n) + RIDGE**2 * r
        blocks = []
        for entries, p, gap in groups:
            sub = self.src[entries]
            idx = np.concatenate([self.var[entries], sub[sub >= 0]])
            weights = np.concatenate([p, -p[sub >= 0]])
            g = np.bincount(idx, weights, n)  # d log|column| / d a
            grad += NORM_WEIGHT * gap * g
            touched = np.nonzero(g)[0]
            blocks.append((touched, NORM_WEIGHT * np.outer(g[touched], g[touched])))  # Gauss-Newton
        return total, grad, self._gram(2 * e + c, n, blocks)  # the entries' second derivatives: 2 e + c

    def minimise(self, a: np.ndarray) -> np.ndarray:
        """Damped Newton steps from ``a`` (a convex objective but for the norm terms: a few steps)."""
        total, grad, hess = self.value(a)
        for _ in range(NEWTON_STEPS):
            step = _solve(hess, -grad)
            t = 1.0
            while t > 1e-4 and self.value(a + t * step, False) > total:
                t /= 2
            if t <= 1e-4:
                break
            a = a + t * step
            total, grad, hess = self.value(a)
            if float(np.abs(t * step).max()) < 1e-9:
                break
        return a


def _solve(matrix: sparse.csc_matrix, rhs: np.ndarray) -> np.ndarray:
    """``matrix^-1 rhs`` by a sparse factorisation (SuperLU: the same bits in every process, where a multi-threaded
    dense solve may differ in the last bits, and fast on a busy machine)."""
    return np.atleast_1d(linalg.spsolve(matrix, rhs))


def _rematched(logs: np.ndarray, planted: np.ndarray, group: np.ndarray) -> np.ndarray:
    """The draws of each group (a layer's weights, a layer's biases) reassigned by rank: the largest draw to the
    entry whose planted magnitude is largest, and so on."""
    out = logs.copy()
    for g in np.unique(group):
        at = np.nonzero(group == g)[0]
        out[at[np.argsort(planted[at], kind="stable")]] = np.sort(logs[at])
    return out
