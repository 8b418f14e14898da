"""The one mask validator (plantseek.nets.masks.validate_mask), as pruners' masks and training masks use it."""

from __future__ import annotations

import pytest
import torch

from plantseek.core.errors import MaskError
from plantseek.families.mlp.network import Architecture
from plantseek.nets.masks import validate_mask
from plantseek.train.batched import train_masks_batched
from plantseek.train.config import TrainConfig

ARCH = Architecture((2, 3, 1))
SHAPES, BIASES = ARCH.weight_shapes(), ARCH.bias_shapes()


def ones(dtype=torch.bool):
    return {n: torch.ones(s, dtype=dtype) for n, s in SHAPES.items()}


def test_pruner_masks_must_be_bool_with_the_exact_count():
    assert set(validate_mask(ones(), SHAPES, 9, BIASES)) == set(SHAPES)
    with pytest.raises(MaskError, match=r"mask\['layers.0.weight'\] has dtype torch.float32, expected torch.bool"):
        validate_mask(ones(torch.float32), SHAPES, 9)
    with pytest.raises(MaskError, match="mask keeps 9 of 9 weights, expected exactly 8"):
        validate_mask(ones(), SHAPES, 8)


def test_training_masks_may_be_0_1_of_any_dtype_and_are_named_by_index():
    half = {**ones(torch.float64), "layers.1.bias": torch.zeros(1)}
    out = validate_mask(half, SHAPES, None, BIASES, any_dtype=True, label="mask 2")
    assert set(out) == {*SHAPES, "layers.1.bias"}
    bad = {**ones(torch.float32), "layers.1.weight": torch.full((1, 3), 0.5)}
    with pytest.raises(MaskError, match=r"^mask 2\['layers.1.weight'\] is not 0/1$"):
        validate_mask(bad, SHAPES, None, BIASES, any_dtype=True, label="mask 2")
    nan = {**ones(torch.float32), "layers.1.weight": torch.full((1, 3), float("nan"))}
    with pytest.raises(MaskError, match="contains NaN"):
        validate_mask(nan, SHAPES, None, BIASES, any_dtype=True)
    with pytest.raises(MaskError, match="^mask 0 is missing prunable parameter"):
        validate_mask({"layers.0.weight": torch.ones(3, 2)}, SHAPES, None, BIASES, any_dtype=True, label="mask 0")


def test_the_training_engine_uses_the_validator():
    g = torch.Generator().manual_seed(0)
    state = {**{n: torch.randn(s, generator=g) for n, s in SHAPES.items()},
             **{n: torch.zeros(s) for n, s in BIASES.items()}}
    x, y = torch.randn(8, 2, generator=g), torch.randn(8, 1, generator=g)
    config = TrainConfig(epochs=1, batch_size=4)
    bad = {**ones(torch.float32), "layers.0.bias": torch.ones(4)}
    with pytest.raises(MaskError, match=r"^mask 1\['layers.0.bias'\] has shape \(4,\), expected \(3,\)$"):
        train_masks_batched(ARCH, state, [ones(), bad], x, y, "mse", config,
                            [torch.Generator().manual_seed(0) for _ in range(2)])
