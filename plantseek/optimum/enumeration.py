"""Eligible masks of a small MLP, one per class of hidden-unit permutations (pure Python, no torch).

A layer mask (``out x in``, rows = output units) is *eligible* when it has no all-zero row and no all-zero column
(every unit has an input and feeds something). Permuting the units of a hidden layer permutes the rows of the
layer's own mask and the columns of the next one; a network's masks are enumerated one representative per class
by putting every layer's rows in canonical order (budget descending, then binary code ascending; equal rows
allowed, since swapping two equal rows changes nothing): permute hidden layer 1 to order the first mask's rows,
then hidden layer 2 (which leaves the first mask alone) to order the second's, and so on. The last layer (one
output) has a single row, which eligibility makes all ones. This is Zhang & Papyan's rule ("rows with equal budgets
ordered by binary code"). A row is an ``int`` bit code: bit ``j`` set = input ``j`` kept.
"""

from __future__ import annotations

import itertools
import math
from functools import lru_cache
from typing import Iterator

Layer = tuple[int, ...]  # row codes, canonical order


def popcount(code: int) -> int:
    return bin(code).count("1")


def _canonical_key(code: int) -> tuple[int, int]:
    return (-popcount(code), code)


def layer_masks_with(rows: int, cols: int, nnz: int) -> Iterator[Layer]:
    """Every eligible ``rows x cols`` layer mask with ``nnz`` kept weights, rows in canonical order, lazily: row
    budgets non-increasing, equal budgets with codes non-decreasing (the reference's rule), every column covered."""
    full = (1 << cols) - 1
    by_budget = {k: sorted(c for c in range(1, full + 1) if popcount(c) == k) for k in range(1, cols + 1)}

    def rest(left_rows: int, left_nnz: int, prev: tuple[int, int], acc: int) -> Iterator[tuple[int, ...]]:
        if left_rows == 0:
            if left_nnz == 0 and acc == full:
                yield ()
            return
        top = min(cols, -prev[0], left_nnz - (left_rows - 1))
        for k in range(top, 0, -1):
            if k * left_rows < left_nnz:  # the rows below have at most k each
                break
            for code in by_budget[k]:
                if (-k, code) < prev:
                    continue
                for tail in rest(left_rows - 1, left_nnz - k, (-k, code), acc | code):
                    yield (code, *tail)

    if rows <= nnz <= rows * cols and nnz >= cols:
        yield from rest(rows, nnz, (-cols, 0), 0)


def layer_nnz_range(rows: int, cols: int) -> range:
    return range(max(rows, cols), rows * cols + 1)


@lru_cache(maxsize=None)
def layer_masks(rows: int, cols: int) -> tuple[Layer, ...]:
    """Every eligible ``rows x cols`` layer mask (sorted by nnz, then canonical order); only for small layers."""
    return tuple(m for k in layer_nnz_range(rows, cols) for m in layer_masks_with(rows, cols, k))


def layer_nnz(layer: Layer) -> int:
    return sum(popcount(c) for c in layer)


def layer_counts(rows: int, cols: int) -> dict[int, int]:
    """``{nnz: number of eligible canonical masks}`` of one layer."""
    counts: dict[int, int] = {}
    for layer in layer_masks(rows, cols):
        counts[layer_nnz(layer)] = counts.get(layer_nnz(layer), 0) + 1
    return counts


def shapes(widths: tuple[int, ...]) -> list[tuple[int, int]]:
    """``(out, in)`` of every layer of an MLP with ``widths`` (input first, output last)."""
    return [(widths[i + 1], widths[i]) for i in range(len(widths) - 1)]


def network_masks(widths: tuple[int, ...]) -> Iterator[tuple[Layer, ...]]:
    """Every eligible canonical mask of an MLP, one tuple of layers each, lazily in order of total nnz (then of the
    per-layer nnz split, then of each layer's canonical order): the sparsest come first. Only the layer lists of
    the nnz split at hand are held in memory."""
    layers = shapes(widths)
    ranges = [layer_nnz_range(r, c) for r, c in layers]
    for total in range(sum(r.start for r in ranges), sum(r.stop - 1 for r in ranges) + 1):
        for split in itertools.product(*ranges):
            if sum(split) == total:
                lists = [list(layer_masks_with(r, c, k)) for (r, c), k in zip(layers, split)]
                yield from itertools.product(*lists)


def count_network(widths: tuple[int, ...]) -> int:
    """The number of eligible canonical masks of a whole MLP (a product over its layers; small layers only)."""
    return math.prod(len(layer_masks(r, c)) for r, c in shapes(widths))


def network_nnz(mask: tuple[Layer, ...]) -> int:
    return sum(layer_nnz(layer) for layer in mask)


def to_matrix(layer: Layer, cols: int) -> list[list[int]]:
    """A layer's 0/1 matrix (``rows x cols``); bit ``j`` of a row code is column ``j``."""
    return [[(code >> j) & 1 for j in range(cols)] for code in layer]


def mask_key(mask: tuple[Layer, ...]) -> str:
    """A stable text key of a network mask: layers separated by ``/``, row codes by ``.`` (hex)."""
    return "/".join(".".join(format(c, "x") for c in layer) for layer in mask)


def parse_key(key: str) -> tuple[Layer, ...]:
    return tuple(tuple(int(c, 16) for c in part.split(".")) for part in key.split("/"))
