"""Shared pieces of the leak detectors (``leak_*.py``): the host's weight layers as float64 matrices, and unit
statistics turned into weight scores.

The leak detectors are non-learning adversaries: each looks only at the host's initial weights (what a pruner
receives) through one simple statistic, to measure how much of the planted ticket such a statistic gives away.
They carry the tag ``leak-detector`` (run by the ``leak-audit`` suite, and by ``conv-default``, which runs every
registered pruner on a conv host; by no other suite) and names starting with
``leak-`` (how the report recognises them: ``plantseek.frame.leak``). This module registers nothing.
"""

from __future__ import annotations

import torch

from plantseek.nets.interface import network_parameters

LEAK_TAGS = frozenset({"leak-detector"})
TINY = 1e-300  # exact zeros as the smallest positive magnitude


def weight_layers(model) -> list[tuple[str, torch.Tensor, torch.Tensor | None]]:
    """``(weight name, W, bias)`` of every prunable weight matrix (out x in), detached float64 copies, in layer
    order; ``bias`` is the layer's bias (``layers.l.bias`` next to ``layers.l.weight``) or None."""
    params = network_parameters(model)
    out = []
    for name in model.prunable():
        bias = params.get(name.removesuffix("weight") + "bias") if name.endswith("weight") else None
        out.append((name, params[name].detach().to(torch.float64).clone(),
                    None if bias is None else bias.detach().to(torch.float64).clone()))
    return out


def unit_scores_to_weights(model, unit_stat) -> dict[str, torch.Tensor]:
    """Weight scores from a statistic of units: ``unit_stat(k, layers)`` gives a float64 vector over the units of
    layer ``k`` (0 = inputs, last = outputs; ``layers`` from :func:`weight_layers`). Weight ``(i, j)`` of matrix
    ``l`` scores ``stat(l + 1)[i] + stat(l)[j]``: a weight is as suspicious as the units it connects. A weight of more
    than two axes (a convolution kernel ``out x in x k x k``) connects units along its first two: every entry
    ``(i, j, ...)`` gets the score of ``(i, j)``."""
    layers = weight_layers(model)
    stats = [unit_stat(k, layers) for k in range(len(layers) + 1)]
    return {name: _along_units(stats[l + 1][:, None] + stats[l][None, :], w.shape)
            for l, (name, w, _) in enumerate(layers)}


def _along_units(pair_scores: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """``(out, in)`` scores spread over a weight of ``shape`` (the same tensor for a matrix)."""
    if len(shape) == 2:
        return pair_scores
    return pair_scores.reshape(*pair_scores.shape, *([1] * (len(shape) - 2))).expand(shape).contiguous()


def unit_norms(w: torch.Tensor, axis: int) -> torch.Tensor:
    """Sum of the squares of ``w``'s entries per unit along ``axis`` (0 = its outputs, 1 = its inputs)."""
    dims = [d for d in range(w.dim()) if d != axis]
    return w.pow(2).sum(dims)


def break_ties(scores: dict[str, torch.Tensor], generator: torch.Generator, spread: float) -> dict[str, torch.Tensor]:
    """Scores plus uniform noise in [0, ``spread``) from ``generator`` (layer order, row-major), so that equal
    scores (of a statistic with few distinct values) are ranked at random rather than by position."""
    return {n: s + spread * torch.rand(s.shape, generator=generator, dtype=torch.float64) for n, s in scores.items()}


def rows_and_columns(row: torch.Tensor, col: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """``row[i] + col[j]`` for every entry ``(i, j, ...)`` of a weight of ``shape`` (rows: its outputs, columns: its
    inputs; a convolution's kernel entries share their channels' scores)."""
    return _along_units(row[:, None] + col[None, :], shape)


def log_outliers(values: torch.Tensor) -> torch.Tensor:
    """``|log v - median log v|`` of positive ``values`` (an exact zero counts as the smallest value): how far each
    is from the typical one on a log scale, in either direction."""
    logs = values.clamp_min(TINY).log()
    return (logs - logs.median()).abs()

