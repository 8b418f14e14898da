"""Masks, densities and their validation; the shared top-k selection rule.

A mask (:data:`plantseek.core.types.Mask`) is ``{parameter_name: torch.BoolTensor}`` with one entry per prunable
weight (see
``plantseek.families.mlp.network``), True = kept. :func:`validate_mask` is the one mask validator: the harness
checks pruners' masks with it, the training engine the masks it is given.

**Density** is the fraction of prunable weights kept. The number of weights a density keeps is fixed by one
rounding rule, :func:`kept_count`: ``round_half_up(density * total)``, at least 1. A returned mask must keep
exactly that many weights in total (no tolerance); layer-wise selection distributes the per-layer rounding by
largest remainders so that its total is exact too (:func:`layer_counts`).

**Prunable biases** (the paper's runs; a pruner's ``budget.prunable_biases``): the biases are then prunable
parameters like the weights (:func:`prunable_parameter_shapes`: the weights, then the biases). Scores of weights
and biases
are ranked together by the same selection, a mask must carry every bias entry, and density counts weights and
biases: exactly ``kept_count(density, weights + biases)`` entries are kept in total (:func:`validate_pruned_mask`).
"""

from __future__ import annotations

import math
from typing import Mapping, Protocol

import torch

from plantseek.core.errors import ConfigError, MaskError, PrunerError
from plantseek.core.types import Mask as Mask, Shapes as Shapes  # re-exported: the one mask type name
from plantseek.nets.patterns import PatternDensity, check_pattern, pattern_of, select_pattern


def validate_density(density: object) -> float:
    """Return ``density`` as a float in (0, 1], or raise ConfigError naming what is wrong (a
    :class:`~plantseek.nets.patterns.PatternDensity` is returned as it is, pattern and all)."""
    if isinstance(density, PatternDensity):
        return density
    if isinstance(density, bool) or not isinstance(density, (int, float)):
        raise ConfigError(f"density must be a number in (0, 1], got {density!r}")
    d = float(density)
    if math.isnan(d) or not 0.0 < d <= 1.0:
        raise ConfigError(f"density must be in (0, 1] (fraction of weights kept), got {density!r}")
    return d


def kept_count(density: float, total: int) -> int:
    """Number of weights kept at ``density`` out of ``total``: round half up, at least 1."""
    d = validate_density(density)
    k = math.floor(d * total + 0.5)
    # guard against floating error in d*total when density came from count/total
    if abs(d * total - round(d * total)) < 1e-9:
        k = int(round(d * total))
    return max(1, min(total, k))


def layer_counts(density: float, sizes: Mapping[str, int]) -> dict[str, int]:
    """Per-layer kept counts for layer-wise (local) selection, summing exactly to ``kept_count``.

    Each layer gets ``floor(density * size)``; the remaining weights go to the layers with the largest
    fractional remainders (ties: earlier layer first).
    """
    total = sum(sizes.values())
    k = kept_count(density, total)
    raw = {n: density * s for n, s in sizes.items()}
    counts = {n: min(sizes[n], math.floor(r)) for n, r in raw.items()}
    left = k - sum(counts.values())
    order = sorted(sizes, key=lambda n: (-(raw[n] - math.floor(raw[n])), list(sizes).index(n)))
    i = 0
    while left > 0:
        n = order[i % len(order)]
        if counts[n] < sizes[n]:
            counts[n] += 1
            left -= 1
        i += 1
    return counts


class Shaped(Protocol):
    """What the masks need of a network (:class:`plantseek.nets.interface.Network`): its prunable shapes."""

    def prunable_shapes(self) -> Shapes: ...

    def bias_shapes(self) -> Shapes: ...


def prunable_parameter_shapes(arch: Shaped, prunable_biases: bool = False) -> Shapes:
    """The prunable parameters of a network (``plantseek.nets.interface.Network``) in *prunable order*: its weights,
    then, with ``prunable_biases``, its biases (each in layer order). Scores, selection (ties by position) and the
    packed masks (:func:`pack_mask`) use this order."""
    if not prunable_biases:
        return dict(arch.prunable_shapes())
    return {**arch.prunable_shapes(), **arch.bias_shapes()}


def validate_pruned_mask(mask: object, arch: Shaped, density: float, prunable_biases: bool = False) -> Mask:
    """A pruner's mask checked exactly (:func:`validate_mask`): every prunable parameter present (with
    ``prunable_biases``, every bias too) and exactly ``kept_count(density, number of prunable entries)`` of them
    kept; without ``prunable_biases`` bias entries are optional and not counted. A pattern density
    (:mod:`plantseek.nets.patterns`) is checked group by group (N:M) or row by row (structured) instead."""
    required = prunable_parameter_shapes(arch, prunable_biases)
    pattern = pattern_of(density)
    if pattern is not None:
        valid = validate_mask(mask, required, None, {} if prunable_biases else arch.bias_shapes())
        check_pattern({n: valid[n] for n in required}, pattern)
        return valid
    total = sum(math.prod(s) for s in required.values())
    optional = {} if prunable_biases else arch.bias_shapes()
    counted = "prunable parameters (weights and biases)" if prunable_biases else "weights"
    return validate_mask(mask, required, kept_count(density, total), optional, counted=counted)


def mask_count(mask: Mapping[str, torch.Tensor]) -> int:
    return int(sum(int(m.sum()) for m in mask.values()))


def parameter_density(mask: Mapping[str, torch.Tensor], shapes: Shapes) -> float:
    """Fraction of the entries of the parameters ``shapes`` that ``mask`` keeps (a parameter without a mask entry
    counts as kept)."""
    total = sum(math.prod(s) for s in shapes.values())
    kept = sum(int(mask[n].sum()) if n in mask else math.prod(s) for n, s in shapes.items())
    return kept / total


def validate_mask(mask: object, shapes: Shapes, expected_count: int | None = None,
                  optional: Shapes | None = None, *, any_dtype: bool = False, label: str = "mask",
                  counted: str = "weights") -> Mask:
    """Check a mask exactly; return it (on the CPU) or raise MaskError with a one-line reason.

    ``shapes``: the required entries (prunable weights; ``expected_count``, when given, counts these only);
    ``optional``: entries that may be present (bias masks), checked for dtype and shape when they are.
    Pruners must return ``torch.bool`` masks; ``any_dtype=True`` also accepts tensors of any dtype holding only
    0 and 1 (the training engine multiplies by its masks, so it takes those too). ``label`` names the mask in
    the messages (e.g. ``"mask 3"`` for the fourth of a batch), ``counted`` what the required entries are.
    """
    if not isinstance(mask, Mapping):
        raise MaskError(f"{label} must be a dict {{parameter_name: BoolTensor}}, got {type(mask).__name__}")
    optional = dict(optional or {})
    missing = [n for n in shapes if n not in mask]
    extra = [n for n in mask if n not in shapes and n not in optional]
    if missing:
        raise MaskError(f"{label} is missing prunable parameter(s) {', '.join(map(str, missing))}")
    if extra:
        raise MaskError(f"{label} has unknown key(s) {', '.join(map(str, extra))} (prunable: {', '.join(shapes)})")
    out: Mask = {}
    present = {**shapes, **{n: s for n, s in optional.items() if n in mask}}
    for name, shape in present.items():
        out[name] = _checked_entry(mask[name], f"{label}[{name!r}]", shape, any_dtype)
    if expected_count is not None:
        kept = mask_count({n: out[n] for n in shapes})
        if kept != expected_count:
            total = sum(math.prod(s) for s in shapes.values())
            raise MaskError(
                f"{label} keeps {kept} of {total} {counted}, expected exactly {expected_count} "
                f"(density {expected_count / total:.6g}, rule: round half up)"
            )
    return out


def _checked_entry(m: object, what: str, shape: tuple[int, ...], any_dtype: bool) -> torch.Tensor:
    """One entry of a mask: a tensor of the given shape, boolean (or 0/1 of any dtype if ``any_dtype``)."""
    if not isinstance(m, torch.Tensor):
        raise MaskError(f"{what} is a {type(m).__name__}, not a torch.Tensor")
    if m.is_floating_point() and bool(torch.isnan(m).any()):
        raise MaskError(f"{what} contains NaN")
    if m.dtype != torch.bool:
        if not any_dtype:
            raise MaskError(f"{what} has dtype {m.dtype}, expected torch.bool")
        if bool(((m != 0) & (m != 1)).any()):
            raise MaskError(f"{what} is not 0/1")
    if tuple(m.shape) != tuple(shape):
        raise MaskError(f"{what} has shape {tuple(m.shape)}, expected {tuple(shape)}")
    return m.detach().cpu()


def _check_scores(scores: Mapping[str, torch.Tensor]) -> None:
    for name, s in scores.items():
        if bool(torch.isnan(s).any()):
            raise PrunerError(f"scores for {name} contain NaN")


def select_top(
    scores: Mapping[str, torch.Tensor],
    density: float,
    *,
    scope: str = "global",
    allowed: Mapping[str, torch.Tensor] | None = None,
) -> Mask:
    """Keep the highest-scoring weights: ``kept_count(density)`` of them, over all layers (``global``) or per
    layer by :func:`layer_counts` (``local``). Only weights where ``allowed`` is True can be kept (multi-shot:
    pruned weights are never revived). Ties are broken deterministically by position (layer order, then
    row-major index), earlier first. A pattern density (:mod:`plantseek.nets.patterns`) is honoured whatever the
    scope: top N per group of M, or whole rows (:func:`plantseek.nets.patterns.select_pattern`).
    """
    _check_scores(scores)
    pattern = pattern_of(density)
    if pattern is not None:
        return select_pattern(scores, pattern, allowed)
    names = list(scores)
    if allowed is not None:
        scores = {
            n: torch.where(allowed[n].bool(), scores[n].double(), torch.tensor(-math.inf, dtype=torch.float64))
            for n in names
        }
        available = mask_count({n: allowed[n].bool() for n in names})
    else:
        available = None
    sizes = {n: scores[n].numel() for n in names}
    if scope == "global":
        flat = torch.cat([scores[n].detach().double().reshape(-1).cpu() for n in names])
        k = kept_count(density, flat.numel())
        if available is not None and k > available:
            raise PrunerError(f"cannot keep {k} weights: only {available} survive from earlier rounds")
        order = torch.sort(flat, descending=True, stable=True).indices[:k]
        keep = torch.zeros(flat.numel(), dtype=torch.bool)
        keep[order] = True
        out, start = {}, 0
        for n in names:
            out[n] = keep[start : start + sizes[n]].reshape(scores[n].shape)
            start += sizes[n]
        return out
    if scope == "local":
        counts = layer_counts(density, sizes)
        out = {}
        for n in names:
            flat = scores[n].detach().double().reshape(-1).cpu()
            k = counts[n]
            if allowed is not None and k > int(allowed[n].sum()):
                raise PrunerError(f"cannot keep {k} weights in {n}: only {int(allowed[n].sum())} survive")
            keep = torch.zeros(flat.numel(), dtype=torch.bool)
            keep[torch.sort(flat, descending=True, stable=True).indices[:k]] = True
            out[n] = keep.reshape(scores[n].shape)
        return out
    raise ConfigError(f"unknown selection scope {scope!r} (known: global, local)")


def pack_mask(mask: Mapping[str, torch.Tensor]) -> bytes:
    """Compact bytes of a mask: the flattened layers in key order, one bit per weight (numpy.packbits)."""
    import numpy as np

    flat = np.concatenate([m.detach().cpu().numpy().astype(bool).reshape(-1) for m in mask.values()])
    return np.packbits(flat).tobytes()


def unpack_mask(blob: bytes, shapes: Shapes) -> Mask:
    """Inverse of :func:`pack_mask` given the layer shapes (in the same key order)."""
    import numpy as np

    total = sum(math.prod(s) for s in shapes.values())
    bits = np.unpackbits(np.frombuffer(blob, dtype=np.uint8), count=total).astype(bool)
    out, start = {}, 0
    for name, shape in shapes.items():
        n = math.prod(shape)
        out[name] = torch.from_numpy(bits[start : start + n].reshape(shape).copy())
        start += n
    return out
