"""Scoring a mask against the planted ticket: pure functions on masks, no instance I/O.

Inputs are masks ``{name: BoolTensor}`` in layer order (``layers.{l}.weight``, shape ``out x in``, True = kept,
see ``models``) and the ticket mask of the instance (``PlantedInstance.ticket``). Only weight entries count:
bias entries (``*.bias``, which edge-popup masks may carry) are ignored everywhere, as ``density`` counts weights
only. Every function works layer by layer on whole tensors; none loops over individual weights.

Conventions (``M`` = kept weights of the mask, ``T`` = ticket weights, ``tp = |M ∩ T|``):

- **precision** = ``tp / |M|``; an empty mask has precision 0.
- **recall** = ``tp / |T|`` = the fraction of ticket weights kept; an empty ticket (layer) has recall 1
  (nothing to recover; every mask contains it).
- **f1** = ``2 tp / (|M| + |T|)``, the harmonic mean of precision and recall whenever either set is non-empty;
  1 when both are empty (the mask equals the ticket).
- **jaccard** = ``tp / |M ∪ T|``; 1 when both are empty.
- The per-layer versions apply the same rules to each weight matrix; the overall ones pool all layers (they are
  not averages of the per-layer values).

**Effective mask.** A kept weight is *effective* if it lies on some path from an input unit to an output unit
through kept weights only: its source unit is reachable forward from the inputs and its target unit reaches an
output backward. Every input unit is a source and every output unit a sink. Biases do not create paths: a
hidden unit whose incoming weights are all pruned still outputs ``relu(bias)``, a constant, but that constant
carries no information from the input, so its outgoing weights are not effective (they act like an extra bias
of the next layer). The **effective density** is the effective count over all weights, next to the **nominal
density** (the kept count over all weights).

**Layer collapse.** The network has collapsed when no input-output path of kept weights exists; then the
effective mask is empty and the effective density is 0. In a chain of layers this is all-or-nothing (a path
crosses every layer, so a layer without effective weights means no layer has any), so the list of
*collapsed layers* names where the path is cut instead: the layer in which the forward signal from the inputs
dies (the first layer after which no unit is reachable from an input), the layer in which the backward signal
from the outputs dies (scanning from the output, the first layer before which no unit reaches an output), and
every layer that keeps no weight at all. It is empty when the network has not collapsed.

**Structure.** The path metrics (:func:`reachability`, :func:`effective_mask`, :func:`effective_density`,
:func:`collapsed_layers`, :func:`layer_collapse`, :func:`recovery_metrics`) take an optional ``structure``: the
unit graph of the architecture (:class:`plantseek.nets.interface.Structure`, ``arch.structure()``), which may be
any DAG (a skip connection included; its fixed, never pruned connections, such as a residual identity or the
mixing inside an attention head, are the structure's ``links`` and always carry reachability). Without one the
weights are read as a chain of ``out x in`` matrices (the MLP). On a DAG the rules above generalise per weight: a
weight is where the forward signal dies if its source group is reached from an input and its target group is not,
where the backward signal dies if its target group reaches an output and its source group does not (in a chain
each is exactly one layer).
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import torch

from plantseek.core.errors import MaskError
from plantseek.core.types import Mask
from plantseek.nets.interface import Structure, chain_structure


__all__ = [
    "weight_entries", "overlap_counts", "precision", "recall", "f1", "jaccard", "per_layer_scores",
    "ticket_weights_kept", "ticket_neurons_recovered", "contains_ticket", "reachability", "effective_mask",
    "effective_density", "nominal_density", "layer_densities", "ticket_density_profile", "layer_collapse",
    "collapsed_layers", "normalized", "recovery_metrics", "MSE_FLOOR",
]

#: MSE values are clamped to at least this before taking logs in :func:`normalized` (an exact fit has MSE 0).
MSE_FLOOR = 1e-12


# --- inputs -----------------------------------------------------------------------------------------------------
def weight_entries(mask: Mapping[str, torch.Tensor],
                   structure: Structure | None = None) -> list[tuple[str, torch.Tensor]]:
    """The weight entries of a mask in layer order, as boolean tensors; bias entries are dropped.

    Without ``structure``, raises MaskError unless every entry is 2-D (``out x in``) and consecutive layers chain
    (the ``in`` of layer ``l + 1`` equals the ``out`` of layer ``l``). With one, the entries are the structure's
    weights in its order, each in its edges' shape.
    """
    if structure is not None:
        return _structured_entries(mask, structure)
    out = [(n, m if m.dtype == torch.bool else m.bool()) for n, m in mask.items() if not n.endswith(".bias")]
    if not out:
        raise MaskError("mask has no weight entries")
    for n, m in out:
        if m.dim() != 2:
            raise MaskError(f"mask[{n!r}] has shape {tuple(m.shape)}, expected a 2-D (out x in) weight mask")
    for (n0, m0), (n1, m1) in zip(out[:-1], out[1:]):
        if m1.shape[1] != m0.shape[0]:
            raise MaskError(f"mask[{n1!r}] takes {m1.shape[1]} inputs but mask[{n0!r}] has {m0.shape[0]} outputs")
    return out


def _structured_entries(mask: Mapping[str, torch.Tensor], structure: Structure) -> list[tuple[str, torch.Tensor]]:
    extra = [n for n in mask if not n.endswith(".bias") and n not in structure.edges]
    if extra:
        raise MaskError(f"mask has weight entries the architecture lacks: {', '.join(extra)}")
    out = []
    for n, e in structure.edges.items():
        if n not in mask:
            raise MaskError(f"mask is missing {n!r}")
        if tuple(mask[n].shape) != tuple(e.source_units.shape):
            raise MaskError(f"mask[{n!r}] has shape {tuple(mask[n].shape)}, expected {tuple(e.source_units.shape)}")
        out.append((n, mask[n].bool()))
    return out


def _structure(mask: Mapping[str, torch.Tensor], structure: Structure | None) -> Structure:
    """``structure``, or the chain read off the mask's weight entries."""
    if structure is not None:
        return structure
    return chain_structure([(n, tuple(m.shape)) for n, m in weight_entries(mask)])


def _pair(mask: Mapping[str, torch.Tensor], ticket: Mapping[str, torch.Tensor],
          structure: Structure | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(mask layer, ticket layer) pairs in the ticket's layer order, on the ticket's device."""
    t_entries = weight_entries(ticket, structure)
    pairs = []
    for name, t in t_entries:
        if name not in mask:
            raise MaskError(f"mask is missing {name!r} (ticket layers: {', '.join(n for n, _ in t_entries)})")
        m = mask[name]
        if tuple(m.shape) != tuple(t.shape):
            raise MaskError(f"mask[{name!r}] has shape {tuple(m.shape)}, the ticket's is {tuple(t.shape)}")
        pairs.append((m.bool().to(t.device), t))
    extra = [n for n in mask if not n.endswith(".bias") and n not in ticket]
    if extra:
        raise MaskError(f"mask has weight entries the ticket lacks: {', '.join(extra)}")
    return pairs


def _ratio(num: np.ndarray, den: np.ndarray, empty: float) -> np.ndarray:
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    safe = np.where(den > 0, den, 1.0)
    return np.where(den > 0, num / safe, empty)


# --- overlap with the ticket -------------------------------------------------------------------------------------
def overlap_counts(mask: Mapping[str, torch.Tensor], ticket: Mapping[str, torch.Tensor],
                   structure: Structure | None = None) -> dict[str, np.ndarray]:
    """Per-layer counts: ``kept`` (|M|), ``ticket`` (|T|), ``both`` (|M ∩ T|), ``total`` (weights in the layer)."""
    pairs = _pair(mask, ticket, structure)
    kept = np.array([int(m.sum()) for m, _ in pairs], dtype=np.int64)
    tick = np.array([int(t.sum()) for _, t in pairs], dtype=np.int64)
    both = np.array([int((m & t).sum()) for m, t in pairs], dtype=np.int64)
    total = np.array([t.numel() for _, t in pairs], dtype=np.int64)
    return {"kept": kept, "ticket": tick, "both": both, "total": total}


def _scores(kept: np.ndarray, tick: np.ndarray, both: np.ndarray) -> dict[str, np.ndarray]:
    union = kept + tick - both
    return {
        "precision": _ratio(both, kept, 0.0),
        "recall": _ratio(both, tick, 1.0),
        "f1": _ratio(2 * both, kept + tick, 1.0),
        "jaccard": _ratio(both, union, 1.0),
    }


def _overall(mask: Mapping[str, torch.Tensor], ticket: Mapping[str, torch.Tensor]) -> dict[str, float]:
    c = overlap_counts(mask, ticket)
    s = _scores(c["kept"].sum(), c["ticket"].sum(), c["both"].sum())
    return {k: float(v) for k, v in s.items()}


def precision(mask: Mapping[str, torch.Tensor], ticket: Mapping[str, torch.Tensor]) -> float:
    """Fraction of kept weights that are ticket weights (0 for an empty mask)."""
    return _overall(mask, ticket)["precision"]


def recall(mask: Mapping[str, torch.Tensor], ticket: Mapping[str, torch.Tensor]) -> float:
    """Fraction of ticket weights kept (1 for an empty ticket)."""
    return _overall(mask, ticket)["recall"]


def f1(mask: Mapping[str, torch.Tensor], ticket: Mapping[str, torch.Tensor]) -> float:
    """``2 |M ∩ T| / (|M| + |T|)`` (1 when both are empty)."""
    return _overall(mask, ticket)["f1"]


def jaccard(mask: Mapping[str, torch.Tensor], ticket: Mapping[str, torch.Tensor]) -> float:
    """``|M ∩ T| / |M ∪ T|`` (1 when both are empty)."""
    return _overall(mask, ticket)["jaccard"]


def per_layer_scores(mask: Mapping[str, torch.Tensor], ticket: Mapping[str, torch.Tensor]) -> dict[str, list[float]]:
    """Precision, recall, F1 and Jaccard of each weight matrix: ``{"precision": [...], "recall": [...], ...}``."""
    c = overlap_counts(mask, ticket)
    return {k: [float(x) for x in v] for k, v in _scores(c["kept"], c["ticket"], c["both"]).items()}


def ticket_weights_kept(mask: Mapping[str, torch.Tensor], ticket: Mapping[str, torch.Tensor]) -> list[float]:
    """Fraction of the ticket's weights kept, per layer (the per-layer recall)."""
    return per_layer_scores(mask, ticket)["recall"]


def contains_ticket(mask: Mapping[str, torch.Tensor], ticket: Mapping[str, torch.Tensor]) -> bool:
    """True if the mask keeps every ticket weight (a superset of the ticket)."""
    return all(not bool((t & ~m).any()) for m, t in _pair(mask, ticket))


def ticket_neurons_recovered(mask: Mapping[str, torch.Tensor], ticket: Mapping[str, torch.Tensor],
                             structure: Structure | None = None) -> dict[str, Any]:
    """Ticket neurons whose incoming ticket weights are all kept.

    A ticket neuron is a hidden or output unit with at least one ticket weight into it. Returns
    ``{"recovered": int, "total": int, "fraction": float, "recovered_per_layer": [int], "total_per_layer": [int]}``
    (per weight matrix, i.e. per receiving layer); ``fraction`` is 1 when there are no ticket neurons.
    """
    pairs = _pair(mask, ticket, structure)
    tot = [int(t.any(dim=1).sum()) for _, t in pairs]
    rec = [int((t.any(dim=1) & ~(t & ~m).any(dim=1)).sum()) for m, t in pairs]
    n_rec, n_tot = sum(rec), sum(tot)
    return {"recovered": n_rec, "total": n_tot, "fraction": n_rec / n_tot if n_tot else 1.0,
            "recovered_per_layer": rec, "total_per_layer": tot}


# --- effective mask, densities, collapse --------------------------------------------------------------------------
def reachability(mask: Mapping[str, torch.Tensor],
                 structure: Structure | None = None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Forward and backward reachability of the units of every unit group through kept weights.

    Returns ``(forward, backward)``, each a list of boolean vectors, one per unit group in the structure's order
    (for a chain: ``n_layers + 1`` layers of units, input first): ``forward[k][u]`` says unit ``u`` of group ``k``
    is reachable from some input unit, ``backward[k][u]`` that some output unit is reachable from it. Biases do
    not make a unit reachable.
    """
    st = _structure(mask, structure)
    kept = dict(weight_entries(mask, structure))
    return _reach(st, kept, forward=True), _reach(st, kept, forward=False)


def _reach(st: Structure, kept: dict[str, torch.Tensor], forward: bool) -> list[torch.Tensor]:
    """Per unit group (structure order): the units reached from the inputs (``forward``) or reaching an output."""
    device = next(iter(kept.values())).device
    start = st.inputs if forward else st.outputs
    reach: dict[str, torch.Tensor] = {}
    for group in (list(st.groups) if forward else list(st.groups)[::-1]):
        r = torch.full((st.groups[group],), group in start, dtype=torch.bool, device=device)
        for name, e in st.edges.items():
            src, dst = (e.source, e.target) if forward else (e.target, e.source)
            if dst != group:
                continue
            src_units, dst_units = (e.source_units, e.target_units) if forward else (e.target_units, e.source_units)
            live = kept[name] & reach[src][src_units.to(device)]
            r[dst_units.to(device)[live]] = True
        for e in st.links:  # fixed connections (a residual identity, an attention head's mixing): always kept
            src, dst = (e.source, e.target) if forward else (e.target, e.source)
            if dst == group:
                src_units, dst_units = (e.source_units, e.target_units) if forward else (e.target_units, e.source_units)
                r[dst_units.to(device)[reach[src][src_units.to(device)]]] = True
        reach[group] = r
    return [reach[g] for g in st.groups]


def effective_mask(mask: Mapping[str, torch.Tensor], structure: Structure | None = None) -> Mask:
    """The kept weights that lie on some input-to-output path of kept weights (same keys, bias entries dropped)."""
    st = _structure(mask, structure)
    groups = list(st.groups)
    fwd, bwd = reachability(mask, st)
    out = {}
    for n, m in weight_entries(mask, structure):
        e = st.edges[n]
        src, dst = groups.index(e.source), groups.index(e.target)
        out[n] = m & fwd[src][e.source_units.to(m.device)] & bwd[dst][e.target_units.to(m.device)]
    return out


def _n_weights(mask: Mapping[str, torch.Tensor], structure: Structure | None = None) -> int:
    return sum(m.numel() for _, m in weight_entries(mask, structure))


def nominal_density(mask: Mapping[str, torch.Tensor]) -> float:
    """Fraction of weights kept (bias entries ignored)."""
    return sum(int(m.sum()) for _, m in weight_entries(mask)) / _n_weights(mask)


def effective_density(mask: Mapping[str, torch.Tensor], structure: Structure | None = None) -> float:
    """Fraction of weights that are kept and lie on an input-to-output path of kept weights."""
    return sum(int(m.sum()) for m in effective_mask(mask, structure).values()) / _n_weights(mask, structure)


def layer_densities(mask: Mapping[str, torch.Tensor]) -> list[float]:
    """Fraction of weights kept in each weight matrix, in layer order."""
    return [float(m.sum()) / m.numel() for _, m in weight_entries(mask)]


def ticket_density_profile(ticket: Mapping[str, torch.Tensor]) -> list[float]:
    """The ticket's per-layer density (its fraction of each weight matrix)."""
    return layer_densities(ticket)


def collapsed_layers(mask: Mapping[str, torch.Tensor], structure: Structure | None = None) -> list[int]:
    """Where the input-output path is cut (empty if a path exists); see the module docstring.

    Layer indices count weights in order (``layers.{l}.weight`` is layer ``l``).
    """
    st = _structure(mask, structure)
    if not layer_collapse(mask, st):
        return []
    fwd, bwd = reachability(mask, st)
    groups = list(st.groups)
    alive_f = {g: bool(f.any()) for g, f in zip(groups, fwd)}
    alive_b = {g: bool(b.any()) for g, b in zip(groups, bwd)}
    cut = set()
    for l, (n, m) in enumerate(weight_entries(mask, structure)):
        e = st.edges[n]
        if (alive_f[e.source] and not alive_f[e.target]) or (alive_b[e.target] and not alive_b[e.source]):
            cut.add(l)  # the forward (backward) signal dies in this weight
        if not bool(m.any()):
            cut.add(l)
    return sorted(cut)


def layer_collapse(mask: Mapping[str, torch.Tensor], structure: Structure | None = None) -> bool:
    """True if no input-to-output path of kept weights exists (the effective mask is empty)."""
    st = _structure(mask, structure)
    fwd, _ = reachability(mask, st)
    return not any(bool(f.any()) for g, f in zip(st.groups, fwd) if g in st.outputs)


# --- normalised task metric -------------------------------------------------------------------------------------
def normalized(value: float, dense: float, ticket: float, higher_is_better: bool, *, log: bool | None = None,
               floor: float = MSE_FLOOR) -> float:
    """Map a task metric onto the dense-to-ticket scale: the dense host's value -> 0, the planted ticket's -> 1.

    ``(value - dense) / (ticket - dense)``; values beyond the ticket give more than 1, worse than the dense host
    less than 0 (no clipping). The lower-is-better metrics here are MSEs, which span many orders of magnitude, so
    with ``higher_is_better=False`` the map is taken on ``log10`` of the values (``log`` overrides the choice),
    each clamped to at least ``floor`` first (an exact fit has MSE 0). Returns NaN when the scale is undefined:
    ``dense == ticket`` (on the scale used) or any input is not finite.
    """
    use_log = (not higher_is_better) if log is None else log
    v, d, t = float(value), float(dense), float(ticket)
    if use_log:
        v, d, t = (math.log10(max(x, floor)) if not math.isnan(x) else x for x in (v, d, t))
    if not all(math.isfinite(x) for x in (v, d, t)) or t == d:
        return float("nan")
    return (v - d) / (t - d)


# --- bundle ---------------------------------------------------------------------------------------------------
def recovery_metrics(mask: Mapping[str, torch.Tensor], ticket: Mapping[str, torch.Tensor],
                     structure: Structure | None = None) -> dict[str, Any]:
    """The scalar recovery metrics of a mask, JSON-serialisable (Python floats, bools, ints and lists).

    Keys: ``precision``, ``recall``, ``f1``, ``jaccard``, ``effective_density``, ``nominal_density``,
    ``contains_ticket``, ``layer_collapse``, ``collapsed_layers``, ``ticket_neurons_recovered`` (the fraction),
    ``per_layer`` (``{"density", "ticket_density", "recall", "precision"}``, one list entry per weight matrix).
    ``structure``: the architecture's unit graph for the path metrics (default: the chain of the weights).
    """
    pairs = _pair(mask, ticket, structure)  # validates and aligns to the ticket's layer order
    names = [n for n, _ in weight_entries(ticket, structure)]
    aligned = {n: m for n, (m, _) in zip(names, pairs)}
    c = overlap_counts(aligned, ticket, structure)
    overall = {k: float(v) for k, v in _scores(c["kept"].sum(), c["ticket"].sum(), c["both"].sum()).items()}
    layer = _scores(c["kept"], c["ticket"], c["both"])
    total = int(c["total"].sum())
    eff = effective_mask(aligned, structure)
    cut = collapsed_layers(aligned, structure)
    return {
        **overall,
        "effective_density": sum(int(m.sum()) for m in eff.values()) / total,
        "nominal_density": int(c["kept"].sum()) / total,
        "contains_ticket": bool((c["both"] == c["ticket"]).all()),
        "layer_collapse": bool(cut),
        "collapsed_layers": [int(l) for l in cut],
        "ticket_neurons_recovered": float(ticket_neurons_recovered(aligned, ticket, structure)["fraction"]),
        "per_layer": {
            "density": [float(x) for x in c["kept"] / c["total"]],
            "ticket_density": [float(x) for x in c["ticket"] / c["total"]],
            "recall": [float(x) for x in layer["recall"]],
            "precision": [float(x) for x in layer["precision"]],
        },
    }

