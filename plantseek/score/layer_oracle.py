"""The exact per-layer oracle: the certified optimum of each output row's l0-constrained least-squares reconstruction.

For one layer with weights ``W`` (rows = outputs), calibration inputs ``X`` (rows = samples) and a kept count ``k``
per row, row ``j``'s problem is ``min_w ||X w - X W_j||_2^2 s.t. ||w||_0 <= k_j`` (the objective every post-training
pruner of the SparseGPT/ALPS family minimises, in l2, with the weights free on the kept support). :func:`best_subset`
solves one row by best-first branch and bound over supports with least-squares leaves: a node fixes some columns in
and some out; its lower bound is the least-squares error with *every* not-excluded column (more columns never fit
worse), its leaves are exact least-squares fits, the better of a backward elimination and a greedy forward selection
is the first incumbent. The problem is reduced once per layer by ``X = Q R`` (``||X v|| = ||R v||``), so a fit costs
an ``n x |S|`` least squares however many samples there are. With a time (or node) limit the search stops and reports
the gap between the incumbent and the smallest open lower bound; ``certified`` says it closed (to ``rtol`` of the
dense row's energy ``||X W_j||^2``).

:func:`layer_oracle` solves every row of a layer; :func:`reconstruction_metrics` compares any mask (and optional
updated weights) of an MLP with the oracle at the same per-row counts, layer by layer, with the dense network's
activations as each layer's inputs: "how far a post-training method is from the optimum of its own objective". Pure
functions of arrays: a pruner (gets the model and its calibration data, returns a mask) can call :func:`layer_oracle`
directly.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

#: relative tolerance (of the dense row's energy) under which incumbent and lower bound count as equal
RTOL = 1e-10


@dataclass(frozen=True)
class RowOptimum:
    support: np.ndarray  # sorted column indices kept (at most k)
    weights: np.ndarray  # the row's optimal weights, zero off the support (length n)
    error: float  # ||X w - X w_dense||^2 of the incumbent
    lower_bound: float  # the smallest lower bound still open (= error when certified)
    certified: bool
    nodes: int

    @property
    def gap(self) -> float:
        return max(0.0, self.error - self.lower_bound)


def _fit(R: np.ndarray, z: np.ndarray, cols: Sequence[int]) -> tuple[float, np.ndarray]:
    """Least-squares error and coefficients of ``z`` on the columns ``cols`` of ``R``."""
    if len(cols) == 0:
        return float(z @ z), np.zeros(0)
    A = R[:, list(cols)]
    beta = np.linalg.lstsq(A, z, rcond=None)[0]
    r = z - A @ beta
    return float(r @ r), beta


def _greedy(R: np.ndarray, z: np.ndarray, k: int) -> list[int]:
    """Forward selection: k times the column whose addition fits best."""
    chosen: list[int] = []
    for _ in range(min(k, R.shape[1])):
        best, best_err = -1, np.inf
        for c in range(R.shape[1]):
            if c not in chosen:
                err = _fit(R, z, chosen + [c])[0]
                if err < best_err:
                    best, best_err = c, err
        chosen.append(best)
    return chosen


def _backward(R: np.ndarray, z: np.ndarray, k: int, norms: np.ndarray) -> list[int]:
    """Backward elimination: from every column, drop the one contributing least (coefficient times column norm) to
    the fit until k remain (one fit per step; exact where the row has an exact k-sparse solution among independent
    columns)."""
    cols = list(range(R.shape[1]))
    while len(cols) > k:
        _, beta = _fit(R, z, cols)
        cols.pop(int(np.argmin(np.abs(beta) * norms[cols])))
    return cols


def best_subset(R: np.ndarray, w_dense: np.ndarray, k: int, *, time_limit: float = 10.0, max_nodes: int = 200_000,
                rtol: float = RTOL) -> RowOptimum:
    """The optimum of ``min ||R (w - w_dense)||^2  s.t.  ||w||_0 <= k`` by best-first branch and bound (``R``: the
    triangular factor of the layer's calibration inputs, or the inputs themselves, rows = samples)."""
    n = R.shape[1]
    z = R @ w_dense
    energy = float(z @ z)
    tol = rtol * energy
    if k >= n:
        return RowOptimum(np.arange(n), w_dense.copy(), 0.0, 0.0, True, 0)
    if k <= 0:
        return RowOptimum(np.zeros(0, dtype=int), np.zeros(n), energy, energy, True, 0)
    deadline = time.monotonic() + time_limit
    norms = np.linalg.norm(R, axis=0)
    inc_err, inc_cols, inc_beta = np.inf, [], np.zeros(0)
    for start in (_backward(R, z, k, norms), _greedy(R, z, k)):  # two incumbents, the better one kept
        err, beta = _fit(R, z, sorted(start))
        if err < inc_err:
            inc_err, inc_cols, inc_beta = err, sorted(start), beta
        if inc_err <= tol:
            break
    # a node: (lower bound, tie-break, fixed-in columns, free columns); the bound fits fixed + free
    root_lb, _ = _fit(R, z, range(n))
    heap: list[tuple[float, int, tuple[int, ...], tuple[int, ...]]] = [(root_lb, 0, (), tuple(range(n)))]
    nodes, counter, lower = 0, 1, root_lb
    while heap:
        lb, _, fixed, free = heap[0]
        lower = lb
        if inc_err - lb <= tol or time.monotonic() > deadline or nodes >= max_nodes:
            break
        heapq.heappop(heap)
        nodes += 1
        # branch on the free column contributing most to the bound's fit (coefficient times column norm: invariant to
        # the column's scale, so tiny columns with large coefficients are not branched on first)
        _, beta = _fit(R, z, fixed + free)
        j = free[int(np.argmax(np.abs(beta[len(fixed):]) * norms[list(free)]))]
        rest = tuple(c for c in free if c != j)
        for child_fixed, child_free in ((fixed + (j,), rest), (fixed, rest)):
            if len(child_fixed) == k or len(child_fixed) + len(child_free) <= k:  # a leaf: fit exactly
                cols = sorted(child_fixed + (child_free if len(child_fixed) < k else ()))
                err, b = _fit(R, z, cols)
                if err < inc_err:
                    inc_err, inc_cols, inc_beta = err, cols, b
                continue
            clb, _ = _fit(R, z, child_fixed + child_free)
            if clb < inc_err - tol:
                heapq.heappush(heap, (clb, counter, child_fixed, child_free))
                counter += 1
    else:
        lower = inc_err
    certified = inc_err - lower <= tol
    w = np.zeros(n)
    w[inc_cols] = inc_beta
    return RowOptimum(np.asarray(inc_cols, dtype=int), w, inc_err, min(lower, inc_err), certified, nodes)


@dataclass(frozen=True)
class LayerOptimum:
    mask: np.ndarray  # bool, W's shape: the oracle's support per row
    weights: np.ndarray  # the optimal weights on it
    errors: np.ndarray  # per row
    lower_bounds: np.ndarray  # per row
    certified: bool  # every row closed

    @property
    def error(self) -> float:
        return float(self.errors.sum())

    @property
    def gap(self) -> float:
        return float((self.errors - self.lower_bounds).clip(min=0).sum())


def triangular_factor(X: np.ndarray) -> np.ndarray:
    """``R`` with ``||X v|| = ||R v||`` for every ``v`` (economic QR of the calibration inputs, rows = samples)."""
    r = np.linalg.qr(np.asarray(X, dtype=np.float64), mode="r")  # mode "r": the factor R alone
    return np.asarray(r)


def layer_oracle(W: np.ndarray, X: np.ndarray, k: int | Sequence[int] | np.ndarray, *, time_limit: float = 60.0,
                 row_time_limit: float = 10.0) -> LayerOptimum:
    """The oracle on every row of ``W`` (outputs x inputs) with calibration inputs ``X`` (samples x inputs) and
    kept count ``k`` (one for every row, or one per row); ``time_limit`` bounds the whole layer (rows share what is
    left), ``row_time_limit`` each row."""
    W = np.asarray(W, dtype=np.float64)
    ks = np.broadcast_to(np.asarray(k, dtype=int), (W.shape[0],))
    R = triangular_factor(X)
    deadline = time.monotonic() + time_limit
    mask = np.zeros(W.shape, dtype=bool)
    weights = np.zeros_like(W)
    errors, lows, closed = np.zeros(W.shape[0]), np.zeros(W.shape[0]), True
    for j in range(W.shape[0]):
        left = max(0.0, min(row_time_limit, deadline - time.monotonic()))
        opt = best_subset(R, W[j], int(ks[j]), time_limit=left)
        mask[j, opt.support] = True
        weights[j] = opt.weights
        errors[j], lows[j] = opt.error, opt.lower_bound
        closed &= opt.certified
    return LayerOptimum(mask, weights, errors, lows, bool(closed))


def mlp_layer_inputs(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], x: np.ndarray) -> list[np.ndarray]:
    """The dense MLP's input to each weight layer on ``x`` (ReLU hidden layers, linear last layer), float64."""
    h = np.asarray(x, dtype=np.float64)
    out = []
    for l, (w, b) in enumerate(zip(weights, biases)):
        out.append(h)
        h = h @ np.asarray(w, dtype=np.float64).T + np.asarray(b, dtype=np.float64)
        if l < len(weights) - 1:
            h = np.maximum(h, 0.0)
    return out


def reconstruction_metrics(weights: Sequence[np.ndarray], biases: Sequence[np.ndarray], masks: Sequence[np.ndarray],
                           x: np.ndarray, updated: Sequence[np.ndarray] | None = None, *,
                           time_limit: float = 60.0) -> dict[str, float]:
    """Per weight layer ``l`` of an MLP: the layer-wise reconstruction error of ``masks`` (with the dense weights, or
    with ``updated`` weights where given) and the oracle's at the same per-row counts, both relative to the layer's
    dense output energy ``||X_l W_l^T||^2`` (``X_l``: the dense network's input to layer ``l`` on ``x``):
    ``recon_error_l{l}``, ``oracle_error_l{l}``, ``oracle_gap_l{l}`` (open gap, relative; 0 when certified),
    ``oracle_certified_l{l}`` (1 or 0), ``recon_excess_l{l}`` (method minus oracle); and the sums over layers
    ``recon_error``, ``oracle_error``, ``recon_excess``. ``time_limit`` per layer."""
    inputs = mlp_layer_inputs(weights, biases, x)
    out: dict[str, float] = {}
    totals = {"recon_error": 0.0, "oracle_error": 0.0}
    for l, (W, M, X) in enumerate(zip(weights, masks, inputs)):
        W = np.asarray(W, dtype=np.float64)
        M = np.asarray(M, dtype=bool)
        kept = (np.asarray(updated[l], dtype=np.float64) if updated is not None else W) * M
        dense_out = X @ W.T
        energy = max(float((dense_out ** 2).sum()), np.finfo(np.float64).tiny)
        method = float(((X @ kept.T - dense_out) ** 2).sum())
        oracle = layer_oracle(W, X, M.sum(axis=1), time_limit=time_limit)
        out[f"recon_error_l{l}"] = method / energy
        out[f"oracle_error_l{l}"] = oracle.error / energy
        out[f"oracle_gap_l{l}"] = oracle.gap / energy
        out[f"oracle_certified_l{l}"] = float(oracle.certified)
        out[f"recon_excess_l{l}"] = (method - oracle.error) / energy
        totals["recon_error"] += method / energy
        totals["oracle_error"] += oracle.error / energy
    out.update(totals)
    out["recon_excess"] = totals["recon_error"] - totals["oracle_error"]
    return out
