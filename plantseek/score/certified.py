"""The certified sparsest strong ticket of a tiny ReLU MLP: a mixed-integer linear program over mask bits.

With the host's weights fixed, a mask bit enters the network linearly, so the sparsest mask that meets a
requirement on a finite sample set is a MILP (solved by HiGHS through ``scipy.optimize.milp``):

- one binary per weight (cost 1: the objective counts kept weights) and one per bias (cost 0; fixed to 1 when
  biases are not prunable);
- per sample, the first layer's pre-activation is linear in the bits (the inputs are data); a later layer's
  kept input ``m * h`` is a product of a bit and a bounded continuous activation, written exactly with four
  McCormick inequalities (``0 <= t <= h``, ``t <= U m``, ``t >= h - U (1 - m)``);
- a ReLU with pre-activation bounds ``[L, U]`` is ``h = 0`` (``U <= 0``), ``h = z`` (``L >= 0``) or the big-M
  encoding with one binary ``a`` (``h >= z``, ``h >= 0``, ``h <= z - L (1 - a)``, ``h <= U a``);
- the bounds come from interval arithmetic over *all* masks on the fixed weights (:func:`interval_bounds`): a
  weight ``w`` on an input of value ``x`` contributes between ``min(0, w x)`` and ``max(0, w x)``, an input
  activation in ``[0, U]`` between ``min(0, w U)`` and ``max(0, w U)``;
- the readout of output ``k`` is ``scale_k * z_k + c_k`` with a fixed scale (the planted factor's inverse) and,
  optionally, a free offset ``c_k``; the requirement is ``|readout - target| <= epsilon`` on every sample and
  output (regression) or ``readout_label - readout_j >= gamma`` for every other output ``j`` (classification).

Every solution is checked by evaluating the masked network in float64 (:func:`check_mask`), independently of
the solver's continuous variables. Pure functions on numpy arrays; the instance glue is in the CLI command.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

__all__ = ["Host", "Requirement", "Certificate", "MaskCheck", "interval_bounds", "forward", "check_mask",
           "certify", "mask_nnz"]


@dataclass(frozen=True)
class Host:
    """A ReLU MLP with fixed float64 weights (``out x in`` per layer, linear last layer) and biases."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    bias_prunable: bool = True

    @property
    def n_weights(self) -> int:
        return sum(w.size for w in self.weights)


@dataclass(frozen=True)
class Requirement:
    """What every sample must meet. ``targets``: (n, K) floats (regression) or (n,) int labels
    (classification); ``readout_scale`` (K,): the fixed factor of each raw output; ``tolerance``: epsilon
    (regression, an absolute error bound) or gamma (classification, a margin); ``offset``: a free c_k per
    output."""

    kind: str
    targets: np.ndarray
    readout_scale: np.ndarray
    tolerance: float
    offset: bool = True

    def __post_init__(self) -> None:
        if self.kind not in ("regression", "classification"):
            raise ValueError(f"kind must be regression or classification, got {self.kind!r}")
        if not (math.isfinite(self.tolerance) and self.tolerance >= 0):
            raise ValueError(f"tolerance must be a finite number >= 0, got {self.tolerance!r}")


@dataclass(frozen=True)
class MaskCheck:
    """A mask re-evaluated in float64: ``worst`` is the largest error (regression; best offsets) or the smallest
    margin (classification; offsets maximising it), and ``satisfied`` whether it meets the requirement."""

    satisfied: bool
    worst: float
    offsets: tuple[float, ...]


@dataclass
class Certificate:
    """The solver's answer. ``status``: optimal, time_limit, infeasible or another HiGHS outcome; ``objective``
    (kept weights of the best mask found), ``bound`` (the proven lower bound), ``gap`` = (objective - bound) /
    objective; ``mask``/``bias_mask`` the best mask (None when none was found) and ``check`` its float64
    re-evaluation."""

    status: str
    objective: int | None
    bound: float | None
    gap: float | None
    mask: list[np.ndarray] | None
    bias_mask: list[np.ndarray] | None
    check: MaskCheck | None
    seconds: float
    size: dict[str, int] = field(default_factory=dict)

    @property
    def proven(self) -> bool:
        return self.status == "optimal"


def mask_nnz(mask: Sequence[np.ndarray]) -> int:
    return int(sum(np.count_nonzero(m) for m in mask))


def forward(host: Host, x: np.ndarray, mask: Sequence[np.ndarray] | None = None,
            bias_mask: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """Raw outputs (n, K) of the masked host in float64 (no mask = the dense host)."""
    h = np.asarray(x, dtype=np.float64)
    last = len(host.weights) - 1
    for l, (w, b) in enumerate(zip(host.weights, host.biases)):
        wm = w if mask is None else w * mask[l]
        bm = b if bias_mask is None else b * bias_mask[l]
        z = h @ wm.T + bm
        h = z if l == last else np.maximum(z, 0.0)
    return h


def interval_bounds(host: Host, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per layer, (lo, hi) of every pre-activation (n, width) over all masks (biases masked too if prunable)."""
    bounds = []
    act_hi: np.ndarray | None = None
    for l, (w, b) in enumerate(zip(host.weights, host.biases)):
        if l == 0:
            c = x[:, None, :] * w[None, :, :]  # (n, out, in): a kept weight's contribution
        else:
            assert act_hi is not None
            c = act_hi[:, None, :] * w[None, :, :]
        lo = np.minimum(c, 0.0).sum(axis=2)
        hi = np.maximum(c, 0.0).sum(axis=2)
        if host.bias_prunable:
            lo, hi = lo + np.minimum(b, 0.0), hi + np.maximum(b, 0.0)
        else:
            lo, hi = lo + b, hi + b
        bounds.append((lo, hi))
        act_hi = np.maximum(hi, 0.0)
    return bounds


def _best_offsets(req: Requirement, out: np.ndarray) -> tuple[float, tuple[float, ...]]:
    """The worst error or margin of readout ``out`` (n, K, scaled) under the best offsets (zero offsets when
    ``req.offset`` is off)."""
    n, k = out.shape
    if req.kind == "regression":
        r = np.asarray(req.targets, dtype=np.float64).reshape(n, k) - out
        if not req.offset:
            return float(np.abs(r).max()), (0.0,) * k
        c = (r.max(axis=0) + r.min(axis=0)) / 2
        return float(np.abs(r - c).max()), tuple(float(v) for v in c)
    labels = np.asarray(req.targets, dtype=np.int64)
    rows = [(s, j) for s in range(n) for j in range(k) if j != labels[s]]
    margins = np.array([out[s, labels[s]] - out[s, j] for s, j in rows])
    if not req.offset:
        return float(margins.min()), (0.0,) * k
    # maximise t subject to margin_sj + c_label - c_j >= t: variables (c_0..c_{K-1}, t), c_0 = 0
    a = np.zeros((len(rows), k + 1))
    for r_i, (s, j) in enumerate(rows):
        a[r_i, labels[s]] -= 1.0
        a[r_i, j] += 1.0
        a[r_i, k] = 1.0
    cost = np.zeros(k + 1)
    cost[k] = -1.0
    bnds = [(0.0, 0.0)] + [(None, None)] * (k - 1) + [(None, None)]
    lp = linprog(cost, A_ub=a, b_ub=margins, bounds=bnds, method="highs")
    if lp.status == 3:  # unbounded: the classes separate by offsets alone
        return math.inf, (0.0,) * k
    c = lp.x[:k]
    worst = min(out[s, labels[s]] + c[labels[s]] - out[s, j] - c[j] for s, j in rows)
    return float(worst), tuple(float(v) for v in c)


def check_mask(host: Host, x: np.ndarray, req: Requirement, mask: Sequence[np.ndarray],
               bias_mask: Sequence[np.ndarray] | None = None, slack: float = 0.0) -> MaskCheck:
    """Evaluate the masked host in float64 and say whether it meets ``req`` (within ``slack``)."""
    out = forward(host, x, mask, bias_mask) * np.asarray(req.readout_scale, dtype=np.float64)
    worst, offsets = _best_offsets(req, out)
    ok = worst <= req.tolerance + slack if req.kind == "regression" else worst >= req.tolerance - slack
    return MaskCheck(bool(ok), worst, offsets)


class _Builder:
    """Columns (variables) and sparse rows of the MILP."""

    def __init__(self) -> None:
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.integer: list[int] = []
        self.cost: list[float] = []
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        self.row_lb: list[float] = []
        self.row_ub: list[float] = []

    def var(self, lo: float, hi: float, integer: bool = False, cost: float = 0.0) -> int:
        self.lb.append(lo)
        self.ub.append(hi)
        self.integer.append(int(integer))
        self.cost.append(cost)
        return len(self.lb) - 1

    def row(self, terms: Sequence[tuple[int, float]], lo: float, hi: float) -> None:
        r = len(self.row_lb)
        for c, v in terms:
            if v != 0.0:
                self.rows.append(r)
                self.cols.append(c)
                self.vals.append(v)
        self.row_lb.append(lo)
        self.row_ub.append(hi)


def _build(host: Host, x: np.ndarray, req: Requirement, exclude: Sequence[Sequence[np.ndarray]]):
    """The MILP: a _Builder plus the column indices of the weight and bias bits and of the offsets."""
    bld = _Builder()
    inf = math.inf
    wbits = [np.array([[bld.var(0, 1, True, 1.0) for _ in range(w.shape[1])] for _ in range(w.shape[0])],
                      dtype=np.int64).reshape(w.shape) for w in host.weights]
    lo_b = 0.0 if host.bias_prunable else 1.0
    bbits = [np.array([bld.var(lo_b, 1, True) for _ in range(b.size)], dtype=np.int64) for b in host.biases]
    k_out = host.weights[-1].shape[0]
    offs = [bld.var(-inf, inf) for _ in range(k_out)] if req.offset else []
    bounds = interval_bounds(host, x)
    n = x.shape[0]
    scale = np.asarray(req.readout_scale, dtype=np.float64)
    last = len(host.weights) - 1
    counts = {"relu_binaries": 0, "products": 0}
    for s in range(n):
        inputs: list[tuple[int, float]] = []  # previous layer: (column of h or -1 for data, value bound or data)
        for l, (w, b) in enumerate(zip(host.weights, host.biases)):
            lo, hi = bounds[l][0][s], bounds[l][1][s]
            pre: list[list[tuple[int, float]]] = []  # pre-activation of unit j as terms, constant part below
            for j in range(w.shape[0]):
                terms: list[tuple[int, float]] = [(int(bbits[l][j]), float(b[j]))]
                for i in range(w.shape[1]):
                    wji = float(w[j, i])
                    if wji == 0.0:
                        continue
                    if l == 0:
                        terms.append((int(wbits[l][j, i]), wji * float(x[s, i])))
                        continue
                    col_h, u = inputs[i]
                    if col_h < 0 or u <= 0.0:
                        continue  # the input unit is dead on this sample whatever the mask
                    m = int(wbits[l][j, i])
                    t = bld.var(0.0, u)
                    counts["products"] += 1
                    bld.row([(t, 1.0), (col_h, -1.0)], -inf, 0.0)  # t <= h
                    bld.row([(t, 1.0), (m, -u)], -inf, 0.0)  # t <= U m
                    bld.row([(t, 1.0), (col_h, -1.0), (m, -u)], -u, inf)  # t >= h - U (1 - m)
                    terms.append((t, wji))
                pre.append(terms)
            if l == last:
                _output_rows(bld, req, s, pre, offs, scale)
                break
            inputs = [_relu(bld, terms, float(lo[j]), float(hi[j]), counts) for j, terms in enumerate(pre)]
    for old in exclude:  # a no-good cut on the weight bits: differ from ``old`` in at least one weight
        cut, ones = [], 0
        for bits, previous in zip(wbits, old):
            for c, kept in zip(bits.ravel(), np.asarray(previous, dtype=bool).ravel()):
                cut.append((int(c), -1.0 if kept else 1.0))
                ones += int(kept)
        bld.row(cut, 1.0 - ones, inf)
    return bld, wbits, bbits, offs, counts


def _relu(bld: _Builder, terms: list[tuple[int, float]], lj: float, uj: float,
          counts: dict[str, int]) -> tuple[int, float]:
    """The activation ``h = relu(z)`` of pre-activation ``z`` (``terms``) with bounds ``[lj, uj]``: (its column, or
    -1 when it is 0 whatever the mask; its upper bound)."""
    inf = math.inf
    if uj <= 0.0:
        return -1, 0.0
    h = bld.var(0.0, uj)
    minus_z = [(c, -v) for c, v in terms]
    if lj >= 0.0:
        bld.row([(h, 1.0)] + minus_z, 0.0, 0.0)  # h = z
        return h, uj
    a = bld.var(0, 1, True)
    counts["relu_binaries"] += 1
    bld.row([(h, 1.0)] + minus_z, 0.0, inf)  # h >= z
    bld.row([(h, 1.0)] + minus_z + [(a, -lj)], -inf, -lj)  # h <= z - L (1 - a)
    bld.row([(h, 1.0), (a, -uj)], -inf, 0.0)  # h <= U a
    return h, uj


def _output_rows(bld: _Builder, req: Requirement, s: int, pre, offs, scale: np.ndarray) -> None:
    inf = math.inf
    readout = [[(c, v * scale[k]) for c, v in terms] + ([(offs[k], 1.0)] if offs else [])
               for k, terms in enumerate(pre)]
    if req.kind == "regression":
        y = np.asarray(req.targets, dtype=np.float64).reshape(len(req.targets), -1)[s]
        for k, terms in enumerate(readout):
            bld.row(terms, float(y[k]) - req.tolerance, float(y[k]) + req.tolerance)
        return
    label = int(req.targets[s])
    for j, terms in enumerate(readout):
        if j != label:
            bld.row(readout[label] + [(c, -v) for c, v in terms], req.tolerance, inf)


def certify(host: Host, x: np.ndarray, req: Requirement, *, time_limit: float = 600.0,
            exclude: Sequence[Sequence[np.ndarray]] = (), check_slack: float = 1e-9) -> Certificate:
    """The sparsest mask (fewest kept weights) of ``host`` meeting ``req`` on the samples ``x``, solved to a
    relative gap of 0 within ``time_limit`` seconds; masks whose weight bits equal one in ``exclude`` are
    excluded (for a uniqueness test)."""
    x = np.asarray(x, dtype=np.float64)
    start = time.perf_counter()
    bld, wbits, bbits, offs, counts = _build(host, x, req, exclude)
    n_var = len(bld.lb)
    a = sparse.csr_matrix((bld.vals, (bld.rows, bld.cols)), shape=(len(bld.row_lb), n_var))
    res = milp(np.asarray(bld.cost), integrality=np.asarray(bld.integer),
               bounds=Bounds(np.asarray(bld.lb), np.asarray(bld.ub)),
               constraints=LinearConstraint(a, np.asarray(bld.row_lb), np.asarray(bld.row_ub)),
               options={"time_limit": float(time_limit), "mip_rel_gap": 0.0, "presolve": True})
    seconds = time.perf_counter() - start
    size = {"variables": n_var, "binaries": int(sum(bld.integer)), "constraints": len(bld.row_lb), **counts}
    status = {0: "optimal", 1: "time_limit", 2: "infeasible", 3: "unbounded"}.get(res.status, f"status_{res.status}")
    bound = getattr(res, "mip_dual_bound", None)
    if res.x is None:
        return Certificate(status, None, None if bound is None else float(bound), None, None, None, None,
                           seconds, size)
    sol = np.asarray(res.x)
    mask = [sol[bits] > 0.5 for bits in wbits]
    bias_mask = [sol[bits] > 0.5 for bits in bbits]
    objective = mask_nnz(mask)
    gap = getattr(res, "mip_gap", None)
    return Certificate(status, objective, None if bound is None else float(bound),
                       None if gap is None else float(gap), mask, bias_mask,
                       check_mask(host, x, req, mask, bias_mask, slack=check_slack), seconds, size)
