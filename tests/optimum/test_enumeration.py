"""Eligible-mask enumeration (plantseek/optimum/enumeration.py): hand counts and brute force."""

from __future__ import annotations

import itertools

import pytest

from plantseek.optimum.enumeration import (count_network, layer_counts, layer_masks, layer_masks_with, mask_key,
                                           network_masks, network_nnz, parse_key, to_matrix)


def test_hand_counts():
    # 2 x 2 (2 rows, 2 inputs): rows are 01, 10, 11; unordered pairs covering both columns:
    # nnz 2: {10, 01}; nnz 3: {11, 01}, {11, 10}; nnz 4: {11, 11}  -> 1, 2, 1
    assert layer_counts(2, 2) == {2: 1, 3: 2, 4: 1}
    # 2 x 3: nnz 3: a single bit and its 2-bit complement (3); nnz 4: a bit with 111 (3) or two distinct 2-bit rows
    # (3); nnz 5: a 2-bit row with 111 (3); nnz 6: {111, 111}  -> 3, 6, 3, 1
    assert layer_counts(2, 3) == {3: 3, 4: 6, 5: 3, 6: 1}
    # 3 x 2: nnz 3: {01,01,10}, {01,10,10}; nnz 4: {01,01,11}, {10,10,11}, {01,10,11}; nnz 5: {01,11,11},
    # {10,11,11}; nnz 6: {11,11,11}  -> 2, 3, 2, 1
    assert layer_counts(3, 2) == {3: 2, 4: 3, 5: 2, 6: 1}
    # a 1 x n output layer: no zero column -> the all-ones row only
    assert layer_masks(1, 4) == ((0b1111,),)


def _eligible(matrix: tuple[tuple[int, ...], ...]) -> bool:
    return all(any(r) for r in matrix) and all(any(col) for col in zip(*matrix))


@pytest.mark.parametrize("rows,cols", [(2, 2), (2, 3), (3, 2), (3, 3), (4, 2)])
def test_one_mask_per_row_permutation_class(rows, cols):
    """Brute force over every 0/1 matrix: each eligible matrix's row-permutation class holds exactly one
    enumerated mask, and no enumerated mask is a row permutation of another."""
    listed = {tuple(map(tuple, to_matrix(m, cols))) for m in layer_masks(rows, cols)}
    assert len(listed) == len(layer_masks(rows, cols))
    classes: dict[tuple, int] = {}
    for bits in itertools.product((0, 1), repeat=rows * cols):
        matrix = tuple(tuple(bits[r * cols:(r + 1) * cols]) for r in range(rows))
        if not _eligible(matrix):
            assert matrix not in listed
            continue
        orbit = {tuple(p) for p in itertools.permutations(matrix)}
        classes[tuple(sorted(orbit))[0]] = len(orbit & listed)
    assert set(classes.values()) == {1}
    assert len(classes) == len(listed)


def test_network_enumeration_is_a_product_sparsest_first_and_keyed():
    widths = (2, 2, 2, 2, 1)
    masks = list(network_masks(widths))
    assert len(masks) == count_network(widths) == 4 * 4 * 4 * 1
    nnz = [network_nnz(m) for m in masks]
    assert nnz == sorted(nnz) and nnz[0] == 2 + 2 + 2 + 2
    assert len({mask_key(m) for m in masks}) == len(masks)
    assert all(parse_key(mask_key(m)) == m for m in masks)


def test_layer_masks_with_is_lazy_on_wide_layers():
    # 7 x 7 at 7 nonzeros: the identity class only (one bit per row, every column once)
    assert list(layer_masks_with(7, 7, 7)) == [tuple(sorted((1 << j for j in range(7)), reverse=False))]
    assert list(layer_masks_with(3, 3, 2)) == []  # too few to cover three rows
