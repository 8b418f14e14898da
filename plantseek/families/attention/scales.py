"""The residual factors of attention planting: one positive factor ``s_i`` per residual dimension of the target, chosen
so that the planted weights look like the host's draws.

Every planted entry is linear in the log factors, so one ridge-regularised least-squares problem asks each planted
entry's ``log |value|`` to equal the mean ``log |draw|`` of its host tensor (embedding entries weighted by
``EMBEDDING_WEIGHT``, every log factor pulled to 0 with ``RIDGE``). Only the ``s_i`` are kept; the unit factors are
chosen by the pair matching of :mod:`plantseek.families.attention.planting`. Derivation and measurements:
``docs/design/families.md``.
"""

from __future__ import annotations

import math

import torch

from plantseek.nets.interface import Params
from plantseek.families.attention.network import block_name

EMBEDDING_WEIGHT = 0.1
RIDGE = 1e-3
LOG_ABS_GAUSSIAN = -0.6351814227307391  # E log |z| for z ~ N(0, 1)


class _System:
    """Rows ``sum_v coef_v x_v = rhs`` (weighted) over named variables."""

    def __init__(self) -> None:
        self.index: dict[tuple, int] = {}
        self.rows: list[tuple[dict[int, float], float, float]] = []

    def var(self, key: tuple) -> int:
        return self.index.setdefault(key, len(self.index))

    def add(self, terms: dict[tuple, float], rhs: float, weight: float = 1.0) -> None:
        coef: dict[int, float] = {}
        for key, c in terms.items():
            coef[self.var(key)] = coef.get(self.var(key), 0.0) + c
        self.rows.append((coef, rhs, weight))

    def solve(self) -> list[float]:
        """The weighted least-squares solution (ridge ``RIDGE`` towards 0) from the normal equations, by Cholesky in
        plain Python floats: LAPACK's solvers (MKL) differ in the last bits from run to run, and an instance must
        be bit-identical. The system is small (a few variables per ticket unit; rows hold 1-3 terms)."""
        n = len(self.index)
        M = [[0.0] * n for _ in range(n)]
        rhs = [0.0] * n
        for coef, r, weight in self.rows:
            w2 = weight * weight
            for a, ca in coef.items():
                rhs[a] += w2 * ca * r
                for b, cb in coef.items():
                    M[a][b] += w2 * ca * cb
        for a in range(n):
            M[a][a] += RIDGE * RIDGE
        L = [[0.0] * n for _ in range(n)]
        for i in range(n):
            for j in range(i + 1):
                acc = M[i][j] - sum(L[i][k] * L[j][k] for k in range(j))
                L[i][j] = math.sqrt(acc) if i == j else acc / L[j][j]
        y = [0.0] * n
        for i in range(n):
            y[i] = (rhs[i] - sum(L[i][k] * y[k] for k in range(i))) / L[i][i]
        x = [0.0] * n
        for i in range(n - 1, -1, -1):
            x[i] = (y[i] - sum(L[k][i] * x[k] for k in range(i + 1, n))) / L[i][i]
        return x


def _aim(host: Params, name: str) -> float:
    """Mean log |draw| of host tensor ``name``."""
    return math.log(float(host[name].pow(2).mean().sqrt())) + LOG_ABS_GAUSSIAN


def _entries(system: _System, p: torch.Tensor, aim: float, row_var, col_var, extra: float = 0.0) -> None:
    """One row per nonzero entry ``p[a, c]``: ``log|p| + extra + row_var(a) + col_var(c) = aim`` (each a term dict)."""
    for a, c in torch.nonzero(p).tolist():
        system.add({**row_var(a), **col_var(c)}, aim - math.log(abs(float(p[a, c]))) - extra)


def residual_factors(target, host: Params, kappa: float) -> torch.Tensor:
    """``s`` (one per target residual dimension; 1 where a dimension is unused) for the target and host parameters."""
    tp, t = target.params, target.arch
    sys_ = _System()
    s_in = lambda i: {("s", i): -1.0}  # noqa: E731  (reading dimension i)
    s_out = lambda i: {("s", i): 1.0}  # noqa: E731  (writing dimension i)
    for blk in range(t.n_blocks):
        n = lambda part: block_name(blk, part)  # noqa: E731
        _entries(sys_, tp[n("q")], _aim(host, n("q")), lambda j: {("qk", blk, j): 1.0}, s_in)
        _entries(sys_, tp[n("k")], _aim(host, n("k")), lambda j: {("qk", blk, j): -1.0}, s_in, math.log(kappa))
        _entries(sys_, tp[n("v")], _aim(host, n("v")), lambda j: {("v", blk, j): 1.0}, s_in)
        _entries(sys_, tp[n("o")], _aim(host, n("o")), s_out, lambda j: {("v", blk, j): -1.0})
        _entries(sys_, tp[n("up")], _aim(host, n("up")), lambda m: {("mu", blk, m): 1.0}, s_in)
        _entries(sys_, tp[n("down")], _aim(host, n("down")), s_out, lambda m: {("mu", blk, m): -1.0})
        _entries(sys_, tp[n("up.bias")][:, None], _aim(host, n("up.bias")), lambda m: {("mu", blk, m): 1.0},
                 lambda _: {})
        _entries(sys_, tp[n("down.bias")][:, None], _aim(host, n("down.bias")), s_out, lambda _: {})
    _entries(sys_, tp["readout.weight"], _aim(host, "readout.weight"), lambda k: {("out", k): 1.0}, s_in)
    _entries(sys_, tp["readout.bias"][:, None], _aim(host, "readout.bias"), lambda k: {("out", k): 1.0},
             lambda _: {})
    rows_before = len(sys_.rows)
    for name in ("embed.token", "embed.position"):
        _entries(sys_, tp[name], _aim(host, name), lambda _: {}, s_out)
    sys_.rows[rows_before:] = [(c, r, EMBEDDING_WEIGHT) for c, r, _ in sys_.rows[rows_before:]]
    x = sys_.solve()
    s = torch.ones(t.d_model, dtype=torch.float64)
    for key, v in sys_.index.items():
        if key[0] == "s":
            s[key[1]] = math.exp(float(x[v]))
    return s
