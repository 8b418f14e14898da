"""Planting a sparse attention target into a transformer host (:mod:`plantseek.families.attention.network`), in
float64.

An :class:`AttentionTarget` is a small transformer on the host's vocabulary, sequence length and outputs whose
nonzero projection, MLP and read-out weights are the ticket. Invariant: host residual dimension ``r_i`` equals
``s_i`` times target residual dimension ``i`` everywhere, and every head's logits equal the target's exactly (softmax
carries no free factor). Residual dimensions, heads, query/key pairs (:func:`plant_pairs` with ``kappa =
sqrt(d_host / d_target)``), value/output pairs, MLP units and the read-out
(:func:`plantseek.planted.matching.plant_layer`) are placed in turn; the masked host computes
``scales * target(x)``. The steps and the pair matching are derived in ``docs/design/families.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from plantseek.core.errors import ConfigError
from plantseek.nets.interface import Params
from plantseek.families.attention.network import TransformerArchitecture, block_name
from plantseek.families.attention.scales import residual_factors
from plantseek.planted.matching import PlantedHost, best_factors, plant_layer


@dataclass
class AttentionTarget:
    """A sparse transformer target: ``arch`` (its own sizes; the host's vocabulary, sequence and outputs) and float64
    ``params`` (every parameter of ``arch``)."""

    arch: TransformerArchitecture
    params: Params
    description: str = ""
    notes: dict = field(default_factory=dict)
    n_dropped_weights: int = 0

    def __post_init__(self) -> None:
        shapes = self.arch.parameter_shapes()
        if set(self.params) != set(shapes):
            raise ConfigError(f"attention target parameters {sorted(self.params)} do not match {sorted(shapes)}")
        for name, shape in shapes.items():
            p = torch.as_tensor(self.params[name], dtype=torch.float64)
            if tuple(p.shape) != shape or not bool(torch.isfinite(p).all()):
                raise ConfigError(f"attention target {name} must be finite of shape {shape}")
            self.params[name] = p.clone()

    @property
    def widths(self) -> list[int]:
        return list(self.arch.widths)

    @property
    def weights(self) -> list[np.ndarray]:
        """Every non-bias parameter (embeddings first), in ``arch.parameter_shapes()`` order (the saved form)."""
        return [self.params[n].numpy() for n in self.arch.parameter_shapes() if not n.endswith(".bias")]

    @property
    def biases(self) -> list[np.ndarray]:
        return [self.params[n].numpy() for n in self.arch.bias_shapes()]

    @property
    def n_weights(self) -> int:
        return sum(int(torch.count_nonzero(self.params[n])) for n in self.arch.weight_names())

    @classmethod
    def from_saved(cls, arch: TransformerArchitecture, weights: list, biases: list,
                   description: str) -> "AttentionTarget":
        names = [n for n in arch.parameter_shapes() if not n.endswith(".bias")]
        params = dict(zip(names, weights)) | dict(zip(arch.bias_shapes(), biases))
        return cls(arch, params, description)

    def __call__(self, x) -> np.ndarray:
        with torch.no_grad():
            return self.arch.forward(self.params, torch.as_tensor(x, dtype=torch.float64)).numpy()


def check_attention_fits(target: AttentionTarget, arch: TransformerArchitecture) -> None:
    """One-line errors where ``target`` cannot be planted into ``arch``."""
    t = target.arch
    if (t.vocab, t.out_features) != (arch.vocab, arch.out_features):
        raise ConfigError(f"ticket maps vocabulary {t.vocab} -> {t.out_features} outputs but the host maps "
                          f"{arch.vocab} -> {arch.out_features}")
    if arch.seq_len != t.seq_len:
        raise ConfigError(f"host sequences of {arch.seq_len} tokens differ from the ticket's {t.seq_len}")
    heads = max(int(used_heads(target, b).numel()) for b in range(t.n_blocks))
    sizes = [("model width", int(live_dims(target).sum()), arch.d_model), ("heads", heads, arch.n_heads),
             ("head width", t.head_dim, arch.head_dim), ("MLP width", t.mlp_width, arch.mlp_width),
             ("blocks", t.n_blocks, arch.n_blocks)]
    for what, need, have in sizes:
        if have < need:
            raise ConfigError(f"the host is smaller than the ticket: {have} {what}, the ticket needs {need}")


def live_dims(target: AttentionTarget) -> torch.Tensor:
    """The target's residual dimensions that anything writes or reads (padding dimensions are never planted)."""
    p, arch = target.params, target.arch
    live = (p["embed.token"] != 0).any(0) | (p["embed.position"] != 0).any(0) | (p["readout.weight"] != 0).any(0)
    for b in range(arch.n_blocks):
        for part in ("q", "k", "v", "up"):
            live |= (p[block_name(b, part)] != 0).any(0)
        live |= (p[block_name(b, "o")] != 0).any(1) | (p[block_name(b, "down")] != 0).any(1)
        live |= p[block_name(b, "down.bias")] != 0
    return live


def used_heads(target: AttentionTarget, blk: int) -> torch.Tensor:
    """The heads of block ``blk`` with a nonzero query, key, value or output weight (the ticket's heads)."""
    p, arch = target.params, target.arch
    rows = sum((p[block_name(blk, part)] != 0).any(1).double() for part in ("q", "k", "v"))
    rows = rows + (p[block_name(blk, "o")] != 0).any(0).double()
    return torch.nonzero(rows.view(arch.n_heads, arch.head_dim).sum(1)).flatten()


@dataclass
class _Side:
    """One side of a pair: target rows ``target`` (n x columns), host rows ``host`` (N x columns, a view written in
    place), target column ``i`` at host column ``cols[i]`` divided by ``scale[i]``; optional target/host biases."""

    target: torch.Tensor
    host: torch.Tensor
    cols: torch.Tensor
    scale: torch.Tensor
    target_bias: torch.Tensor | None = None
    host_bias: torch.Tensor | None = None


def plant_pairs(a: _Side, b: _Side, kappa: float, generator: torch.Generator
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Plant target unit ``j`` (row ``j`` of both sides) at a free host unit with factor ``alpha_j`` on side ``a`` and
    ``kappa / alpha_j`` on side ``b`` (see the module docstring). Returns host units, ``alpha``, and which side-``a``
    biases the ticket keeps (True where the target bias is nonzero and was planted)."""
    n, n_host = a.target.shape[0], a.host.shape[0]
    idx, alpha = torch.empty(n, dtype=torch.long), torch.empty(n, dtype=torch.float64)
    keeps = torch.zeros(n, dtype=torch.bool)
    used = torch.zeros(n_host, dtype=torch.bool)
    for j in torch.randperm(n, generator=generator).tolist():
        fits = [_fit(side, j) for side in (a, b)]
        cost = torch.zeros(n_host, dtype=torch.float64)
        for rho, rel in (f for f in fits if f is not None):
            cost += rel
        if fits[0] is not None and fits[1] is not None:
            cost += torch.log(fits[0][0] * fits[1][0] / kappa) ** 2
        cost[used] = torch.inf
        perm = torch.randperm(n_host, generator=generator)
        h = int(perm[torch.argmin(cost[perm])])
        used[h] = True
        if fits[0] is not None and fits[1] is not None:
            alpha[j] = math.sqrt(kappa * float(fits[0][0][h]) / float(fits[1][0][h]))
        elif fits[0] is not None:
            alpha[j] = fits[0][0][h]
        elif fits[1] is not None:
            alpha[j] = kappa / fits[1][0][h]
        else:
            alpha[j] = math.sqrt(kappa)
        keeps[j] = _write(a, j, h, float(alpha[j]))
        _write(b, j, h, kappa / float(alpha[j]))
        idx[j] = h
    return idx, alpha, keeps


def _vector(side: _Side, j: int) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Support columns, the vector to plant (entries divided by their input factors; the bias appended when
    nonzero), and whether the bias is part of it."""
    support = torch.nonzero(side.target[j]).flatten()
    u = side.target[j, support] / side.scale[support]
    with_bias = side.target_bias is not None and float(side.target_bias[j]) != 0.0
    return support, (torch.cat([u, side.target_bias[j: j + 1]]) if with_bias else u), with_bias


def _fit(side: _Side, j: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Least-squares factor per host unit and the relative residual of that fit; None when there is nothing to plant."""
    support, u, with_bias = _vector(side, j)
    if u.numel() == 0:
        return None
    P = side.host[:, side.cols[support]]
    if with_bias:
        P = torch.cat([P, side.host_bias[:, None]], dim=1)
    rho, err = best_factors(P, u)
    return rho, err / (P * P).sum(1).clamp_min(1e-300)


def _write(side: _Side, j: int, h: int, factor: float) -> bool:
    support, u, with_bias = _vector(side, j)
    side.host[h, side.cols[support]] = factor * u[: support.numel()]
    if with_bias:
        side.host_bias[h] = factor * u[-1]
    return with_bias


def plant_attention_target(target: AttentionTarget, arch: TransformerArchitecture, host: Params,
                           generator: torch.Generator) -> PlantedHost:
    """Plant ``target`` into (a copy of) the host parameters ``host``; randomness from ``generator``."""
    check_attention_fits(target, arch)
    state = {k: v.clone().to(torch.float64).contiguous() for k, v in host.items()}
    tp = target.params
    ticket: Params = {n: torch.zeros(s, dtype=torch.bool) for n, s in {**arch.weight_shapes(),
                                                                         **arch.bias_shapes()}.items()}
    r, s = _plant_residual(target, arch, state, generator)
    placement, factors = [], []
    for blk in range(arch.n_blocks):
        if blk < target.arch.n_blocks:
            units, mu = _plant_block(target, arch, state, ticket, blk, (r, s), generator)
            live = live_dims(target)
            placement += [units, r[live]]
            factors += [mu, s[live]]
        else:
            placement += [torch.empty(0, dtype=torch.long)] * 2
            factors += [torch.empty(0, dtype=torch.float64)] * 2
    readout, bias = state["readout.weight"], state["readout.bias"]
    no_floors = (np.full(arch.out_features, np.nan), np.zeros(arch.out_features, dtype=bool))
    out = plant_layer(tp["readout.weight"].numpy(), tp["readout.bias"].numpy(), readout, bias, r, s, no_floors,
                      generator, True)
    ticket["readout.weight"] = _ticket(tp["readout.weight"], out.idx, r, readout.shape)
    ticket["readout.bias"][out.idx[out.keeps_bias]] = True
    placement.append(out.idx)
    factors.append(out.lam)
    return PlantedHost(state, ticket, out.lam.clone(), placement, factors, target)


def _ticket(T: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, shape) -> torch.Tensor:
    """True at host ``(rows[a], cols[c])`` for every nonzero target entry ``T[a, c]``."""
    mask = torch.zeros(shape, dtype=torch.bool)
    a, c = torch.nonzero(T, as_tuple=True)
    mask[rows[a], cols[c]] = True
    return mask


def _plant_residual(target: AttentionTarget, arch: TransformerArchitecture, state: Params,
                    generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Step 1: the residual factors ``s`` (:func:`plantseek.families.attention.scales.residual_factors`) and random
    host dimensions ``r`` for the target's live residual dimensions; the host's embedding columns ``r_i`` become
    ``s_i`` times the target's (zeros included)."""
    live = live_dims(target)
    s = residual_factors(target, state, math.sqrt(arch.head_dim / target.arch.head_dim))
    r = torch.zeros(target.arch.d_model, dtype=torch.long)  # padding dimensions: never indexed (all their entries 0)
    r[live] = torch.randperm(arch.d_model, generator=generator)[: int(live.sum())]
    for name in ("embed.token", "embed.position"):
        state[name][:, r[live]] = target.params[name][:, live] * s[live]
    return r, s


def _plant_block(target: AttentionTarget, arch: TransformerArchitecture, state: Params, ticket: Params, blk: int,
                 resid: tuple[torch.Tensor, torch.Tensor], generator: torch.Generator
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """Steps 2-5 for block ``blk``: heads, query/key, value/output, MLP. Returns the MLP units and factors."""
    r, s = resid
    t, tp = target.arch, target.params
    w = lambda part: state[block_name(blk, part)]  # noqa: E731
    tw = lambda part: tp[block_name(blk, part)]  # noqa: E731
    ticket_heads = used_heads(target, blk)
    heads = torch.randperm(arch.n_heads, generator=generator)[: ticket_heads.numel()]
    qk_map = torch.zeros(t.n_heads * t.head_dim, dtype=torch.long)  # unused heads: never indexed
    v_map = torch.zeros_like(qk_map)
    kappa = math.sqrt(arch.head_dim / t.head_dim)
    for g, hh in zip(ticket_heads.tolist(), heads.tolist()):
        rows = slice(g * t.head_dim, (g + 1) * t.head_dim)
        host_rows = slice(hh * arch.head_dim, (hh + 1) * arch.head_dim)
        q = _Side(tw("q")[rows], w("q")[host_rows], r, s)
        k = _Side(tw("k")[rows], w("k")[host_rows], r, s)
        idx, _, _ = plant_pairs(q, k, kappa, generator)
        qk_map[rows] = hh * arch.head_dim + idx
        v = _Side(tw("v")[rows], w("v")[host_rows], r, s)
        o = _Side(tw("o")[:, rows].T, w("o")[:, host_rows].T, r, 1.0 / s)
        idx, _, _ = plant_pairs(v, o, 1.0, generator)
        v_map[rows] = hh * arch.head_dim + idx
    for part, rows, cols in (("q", qk_map, r), ("k", qk_map, r), ("v", v_map, r), ("o", r, v_map)):
        ticket[block_name(blk, part)] = _ticket(tw(part), rows, cols, w(part).shape)
    up = _Side(tw("up"), w("up"), r, s, tw("up.bias"), w("up.bias"))
    down = _Side(tw("down").T, w("down").T, r, 1.0 / s)
    units, mu, keeps = plant_pairs(up, down, 1.0, generator)
    ticket[block_name(blk, "up")] = _ticket(tw("up"), units, r, w("up").shape)
    ticket[block_name(blk, "down")] = _ticket(tw("down"), r, units, w("down").shape)
    ticket[block_name(blk, "up.bias")][units[keeps]] = True
    written = tw("down.bias") != 0
    w("down.bias")[r[written]] = s[written] * tw("down.bias")[written]
    ticket[block_name(blk, "down.bias")][r[written]] = True
    return units, mu
