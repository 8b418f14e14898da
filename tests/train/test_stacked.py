"""The stacked engine (plantseek.train.stacked) against the per-network reference path on a conv host."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from plantseek.families.conv.network import ConvArchitecture, ConvLayer
from plantseek.train.config import TrainConfig
from plantseek.train.loop import train_masks
from plantseek.train.stacked import train_masks_stacked


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# default (channels-last, all four in one chunk), contiguous; chunks of 2 (the shared generator spans both) and 3
@pytest.mark.parametrize("forward_options,chunk", [(None, None), ({}, None), (None, 2), ({"channels_last": True}, 3)])
def test_stacked_training_equals_the_per_network_path_in_float64(forward_options, chunk):
    arch = ConvArchitecture(1, 8, (ConvLayer(5, 3, 1, 1, 2), ConvLayer(4, 3, 1, 1, 4)), 3)
    params = arch.init(gen(0))
    x = torch.randn(70, *arch.input_shape, generator=gen(1), dtype=torch.float64)
    y = torch.randint(0, 3, (70,), generator=gen(2))
    masks = [{n: torch.rand(s, generator=gen(10 + i)) < d for n, s in arch.prunable_shapes().items()}
             for i, d in enumerate((0.2, 0.5, 0.9))]
    masks[1]["layers.0.bias"] = torch.tensor([True, False, True, True, False])
    masks.append(None)
    config = TrainConfig(epochs=2, batch_size=16, lr=1e-2, adam_kernel="single-tensor")
    shared = gen(7)  # one generator serving two networks: drawn network after network, as the loop draws it
    args = (arch, params, masks, x, y, F.cross_entropy, config)
    stacked = train_masks_stacked(*args, [gen(3), shared, shared, gen(4)], dtype=torch.float64,
                                  forward_options=forward_options, chunk=chunk)
    shared = gen(7)
    loop = train_masks(*args, [gen(3), shared, shared, gen(4)], dtype=torch.float64, engine="loop")
    for a, b, m in zip(stacked, loop, masks):
        for (name, q) in b.named_parameters():
            p = a[name]
            torch.testing.assert_close(p, q.detach(), rtol=1e-9, atol=1e-12)
            if m is not None and name in m and name.endswith("weight"):
                assert bool((p[~m[name]] == 0).all())
    moved = [float((a["layers.2.weight"] - params["layers.2.weight"]).abs().max())
             for a in stacked]
    assert min(moved) > 1e-3  # training did something to every network


def test_chunks_keep_the_largest_stacked_activation_within_the_budget():
    from plantseek.families.mlp.network import Architecture
    from plantseek.train.stacked import CHUNK_BYTES, conv_map_elements, stacked_chunk

    bars = ConvArchitecture(1, 16, (ConvLayer(32, 5, 1, 2, 2), ConvLayer(32, 3, 1, 1, 8)), 4)  # the default bars host
    assert conv_map_elements(bars) == 32 * 16 * 16  # the first layer's map before pooling, by hand
    assert CHUNK_BYTES == 8 * 2**20 and stacked_chunk(bars, 32, 32, torch.float32) == 8  # 1 MiB per network
    assert stacked_chunk(bars, 32, 32, torch.float64) == 4 and stacked_chunk(bars, 3, 32, torch.float32) == 3
    small = ConvArchitecture(1, 12, (ConvLayer(12, 5, 1, 2, 2), ConvLayer(12, 3, 1, 1, 6)), 4)  # conv-default's host
    assert stacked_chunk(small, 32, 32, torch.float32) == 32  # 221 KiB per network
    assert stacked_chunk(bars, 32, 4096, torch.float32) == 1
    assert stacked_chunk(Architecture((2, 8, 3)), 32, 32, torch.float32) == 32  # no rule: all at once
