"""Mask patterns: N:M semi-structured masks and structured (whole-unit) masks as density kinds.

A cell's requested density (``CellConfig.density``) is ``"ticket"``, a decimal (``"0.1"``: unstructured), or a
**pattern** (:func:`parse_pattern`, canonical form by :func:`canonical_pattern`):

* ``"N:M"`` (``"2:4"``, ``"4:8"``; 0 < N <= M <= 64): every group of M consecutive weights along each weight row's
  input dimension keeps exactly N. Its density is N/M.
* ``"units:F"`` (``"units:0.25"``; F a decimal in (0, 1]): whole output units are kept or pruned; each prunable
  tensor keeps exactly ``max(1, round_half_up(F * rows))`` of its rows. Its density is F.

**Rows and groups.** A prunable tensor of shape ``(out, *rest)`` is read as ``out`` rows of length
``prod(rest)`` in row-major order: an MLP or attention projection ``(out, in)`` has one row per output unit along
its input dimension; a conv kernel ``(out_channels, in_channels, kh, kw)`` has one row per output channel (a
filter), of length ``in_channels * kh * kw``, flattened channel-major (groups of M run along ``kw``, then ``kh``,
then ``in_channels``). A 1-D tensor (a prunable bias) is one row. A structured unit is a row: an MLP neuron's
incoming weights, a conv filter (output channel), one output feature of an attention projection (heads are not yet
a unit of their own).

**Remainder rule.** Where a row's length L is not a multiple of M, the first ``L // M`` groups are full and the last
group has ``r = L % M`` weights; it keeps exactly ``round_half_up(N * r / M)`` of them (e.g. 2:4 on a row of 2
inputs keeps 1). Patterns are never refused for their row length.

A pattern density is a float (its density) that carries its pattern (:class:`PatternDensity`); it travels to the
pruner worker like any density. :func:`plantseek.nets.masks.select_top` honours it (top-N per group, or the top rows
by summed score), so every score-based pruner does; :func:`plantseek.nets.masks.validate_pruned_mask` checks it,
in the worker and in the parent, with a one-line error naming the tensor, row and group.
"""

from __future__ import annotations

import math
from typing import Mapping

import torch

from plantseek.core.errors import MaskError, PrunerError
from plantseek.core.patterns import MAX_M, Pattern, canonical_pattern, is_pattern_spec, parse_pattern

class PatternDensity(float):
    """A density (its float value) that carries a :class:`Pattern`; arithmetic on it gives plain floats."""

    pattern: Pattern

    def __new__(cls, pattern: Pattern) -> "PatternDensity":
        obj = super().__new__(cls, pattern.density)
        obj.pattern = pattern
        return obj

    def __reduce__(self):  # pickled to the pruner worker with its pattern
        return (PatternDensity, (self.pattern,))

    def __repr__(self) -> str:
        return f"PatternDensity({self.pattern.spec})"


def pattern_density(spec: str) -> PatternDensity:
    return PatternDensity(parse_pattern(spec))


def pattern_of(density: object) -> Pattern | None:
    """The pattern a density carries, or None for a plain (unstructured) density."""
    return density.pattern if isinstance(density, PatternDensity) else None


def _half_up(x: float) -> int:
    return math.floor(x + 0.5 + 1e-12)


def rows_of(t: torch.Tensor) -> torch.Tensor:
    """``t`` as a 2-D ``(rows, row length)`` view (a 1-D tensor is one row)."""
    return t.reshape(1, -1) if t.dim() <= 1 else t.reshape(t.shape[0], -1)


def group_sizes(length: int, pattern: Pattern) -> list[tuple[int, int]]:
    """``(group length, weights kept)`` of the groups of a row of ``length``: full groups keep N, a remainder of r
    keeps ``round_half_up(N * r / M)``."""
    full, r = divmod(length, pattern.m)
    out = [(pattern.m, pattern.n)] * full
    if r:
        out.append((r, _half_up(pattern.n * r / pattern.m)))
    return out


def kept_rows(fraction: float, rows: int) -> int:
    return max(1, min(rows, _half_up(fraction * rows)))


def group_counts(t: torch.Tensor, m: int) -> torch.Tensor:
    """Number of True entries in each group of ``m`` along the rows of ``t``: ``(rows, groups)``."""
    r2 = rows_of(t).to(torch.int64)
    length = r2.shape[1]
    pad = (-length) % m
    if pad:
        r2 = torch.cat([r2, torch.zeros(r2.shape[0], pad, dtype=torch.int64)], dim=1)
    return r2.reshape(r2.shape[0], -1, m).sum(dim=2)


def group_quota(shape: tuple[int, ...], pattern: Pattern) -> torch.Tensor:
    """What each group of a tensor of ``shape`` keeps under an N:M pattern: ``(rows, groups)``."""
    length = math.prod(shape[1:]) if len(shape) > 1 else math.prod(shape)
    rows = shape[0] if len(shape) > 1 else 1
    quota = torch.tensor([k for _, k in group_sizes(length, pattern)], dtype=torch.int64)
    return quota.expand(rows, -1)


def check_pattern(mask: Mapping[str, torch.Tensor], pattern: Pattern, label: str = "mask") -> None:
    """Raise MaskError naming the first tensor, row and group that break ``pattern``."""
    for name, t in mask.items():
        if pattern.kind == "nm":
            got, want = group_counts(t, pattern.m), group_quota(tuple(t.shape), pattern)
            bad = (got != want).nonzero()
            if len(bad):
                row, g = (int(v) for v in bad[0])
                length = rows_of(t).shape[1]
                hi = min(length, (g + 1) * pattern.m)
                raise MaskError(
                    f"{label}[{name!r}] row {row} group {g} (inputs {g * pattern.m}..{hi - 1}) keeps "
                    f"{int(got[row, g])} weights, the {pattern.spec} pattern needs exactly {int(want[row, g])}")
        else:
            r2 = rows_of(t).bool()
            kept_any, kept_all = r2.any(dim=1), r2.all(dim=1)
            partial = (kept_any & ~kept_all).nonzero()
            if len(partial):
                raise MaskError(f"{label}[{name!r}] row {int(partial[0])} is partly kept: the {pattern.spec} "
                                "pattern keeps or prunes whole rows")
            need = kept_rows(pattern.fraction, r2.shape[0])
            if int(kept_all.sum()) != need:
                raise MaskError(f"{label}[{name!r}] keeps {int(kept_all.sum())} of {r2.shape[0]} rows, the "
                                f"{pattern.spec} pattern needs exactly {need}")


def select_pattern(scores: Mapping[str, torch.Tensor], pattern: Pattern,
                   allowed: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """The highest-scoring mask that honours ``pattern``: top N per group of M (N:M), or the rows of the highest
    summed score per tensor (structured). Ties: earlier position first. Only ``allowed`` entries can be kept."""
    out = {}
    for name, s in scores.items():
        s2 = rows_of(s.detach().double().cpu())
        if allowed is not None:
            s2 = torch.where(rows_of(allowed[name].bool().cpu()), s2, torch.tensor(-math.inf, dtype=torch.float64))
        keep = torch.zeros(s2.shape, dtype=torch.bool)
        if pattern.kind == "nm":
            start = 0
            for length, k in group_sizes(s2.shape[1], pattern):
                block = s2[:, start:start + length]
                if k:
                    top = torch.sort(block, dim=1, descending=True, stable=True).indices[:, :k]
                    keep[:, start:start + length].scatter_(1, top, True)
                start += length
        else:
            total = s2.sum(dim=1)
            k = kept_rows(pattern.fraction, s2.shape[0])
            keep[torch.sort(total, descending=True, stable=True).indices[:k]] = True
        if allowed is not None and bool((keep & ~rows_of(allowed[name].bool().cpu())).any()):
            raise PrunerError(f"cannot honour the {pattern.spec} pattern in {name} among the surviving weights")
        out[name] = keep.reshape(s.shape)
    return out


__all__ = ["Pattern", "PatternDensity", "MAX_M", "is_pattern_spec", "parse_pattern", "canonical_pattern",
           "pattern_density", "pattern_of", "rows_of", "group_sizes", "kept_rows", "group_counts", "group_quota",
           "check_pattern", "select_pattern"]
