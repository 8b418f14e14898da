"""The convolutional host (plantseek.families.conv.network)
against torch.nn layers written out independently, and every registered
pruner on it through the network protocol (no conv-specific code in baselines/)."""

from __future__ import annotations

import math

import pytest
import torch
from pruner_masks import check_masks_of
import torch.nn.functional as F
from torch import nn

from plantseek.core.errors import ConfigError
from plantseek.families.conv.network import ConvArchitecture, ConvLayer
from plantseek.nets.interface import Network, network_parameters
from plantseek.planted.instance import PrunerData
from plantseek.prune.contract import PRUNERS
from plantseek.score.metrics import collapsed_layers, effective_density, layer_collapse
from plantseek.train.config import TrainConfig
from plantseek.train.loop import train_masks

ARCHS = [
    ConvArchitecture(1, 8, (ConvLayer(4, 3, 1, 1, 2), ConvLayer(5, 3, 1, 1, 1)), 3, "max"),
    ConvArchitecture(2, 9, (ConvLayer(3, 5, 2, 2, 1), ConvLayer(4, 1, 1, 0, 2)), 2, "avg"),
    ConvArchitecture(1, 6, (ConvLayer(3, 3, 1, 0, 1),), 4, "max"),
]


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def reference_model(arch: ConvArchitecture, params) -> nn.Sequential:
    """The same network from torch.nn layers (Conv2d, ReLU, pooling, Flatten, Linear)."""
    layers: list[nn.Module] = []
    widths = arch.widths
    for l, c in enumerate(arch.convs):
        conv = nn.Conv2d(widths[l], c.channels, c.kernel, c.stride, c.padding, dtype=torch.float64)
        conv.weight.data, conv.bias.data = params[f"layers.{l}.weight"].clone(), params[f"layers.{l}.bias"].clone()
        layers += [conv, nn.ReLU()]
        if c.pool > 1:
            layers.append((nn.MaxPool2d if arch.pooling == "max" else nn.AvgPool2d)(c.pool))
    head = nn.Linear(1, 1, dtype=torch.float64)
    n = len(arch.convs)
    head.weight.data, head.bias.data = params[f"layers.{n}.weight"].flatten(1).clone(), params[f"layers.{n}.bias"]
    return nn.Sequential(*layers, nn.Flatten(), head)


@pytest.mark.parametrize("arch", ARCHS)
def test_forward_equals_torch_nn_layers_and_stacked_equals_single(arch):
    params = arch.init(gen(0))
    x = torch.randn(7, *arch.input_shape, generator=gen(1), dtype=torch.float64)
    mask = {n: torch.rand(s, generator=gen(2)) < 0.6 for n, s in arch.prunable_shapes().items()}
    kept = {n: p * mask[n] if n in mask else p for n, p in params.items()}
    with torch.no_grad():
        want = reference_model(arch, kept)(x)
    torch.testing.assert_close(arch.forward(params, x, mask), want, rtol=1e-12, atol=1e-12)
    stacked = {n: torch.stack([p, 2 * p]) for n, p in params.items()}
    both = {n: torch.stack([m.double(), torch.ones_like(m.double())]) for n, m in mask.items()}
    out = arch.forward_stacked(stacked, torch.stack([x, -x]), both)
    torch.testing.assert_close(out[0], want, rtol=1e-12, atol=1e-12)
    twice = {n: 2 * p for n, p in params.items()}
    torch.testing.assert_close(out[1], arch.forward(twice, -x), rtol=1e-12, atol=1e-12)
    model = arch.build(params, torch.float64)
    assert isinstance(arch, Network) and list(network_parameters(model)) == list(arch.parameter_shapes())
    torch.testing.assert_close(model(x, mask), want, rtol=1e-12, atol=1e-12)


def test_shapes_counts_and_fan_in_by_hand():
    arch = ARCHS[0]  # 8x8 -> conv 3x3 pad 1 (8x8) -> pool 2 (4x4) -> conv 3x3 pad 1 (4x4) -> head
    assert arch.sides == (8, 4, 4) and arch.widths == (1, 4, 5, 3)
    assert arch.prunable_shapes() == {"layers.0.weight": (4, 1, 3, 3), "layers.1.weight": (5, 4, 3, 3),
                                      "layers.2.weight": (3, 5, 4, 4)}
    assert arch.n_prunable == 36 + 180 + 240
    assert [arch.fan_in(f"layers.{l}.bias") for l in range(3)] == [9, 36, 80]
    assert ARCHS[1].sides == (9, 5, 2)  # (9 + 4 - 5) // 2 + 1 = 5; 1x1 conv, pool 2 -> 2


def test_init_follows_the_depth_scaled_bias_spread():
    arch = ConvArchitecture(3, 8, (ConvLayer(64, 3, 1, 1, 2), ConvLayer(64, 3, 1, 1, 2)), 10)
    params = arch.init(gen(0))
    spread, fans = 1.0, [27, 576, 64 * 4]
    for l, fan in enumerate(fans):
        w, b = params[f"layers.{l}.weight"], params[f"layers.{l}.bias"]
        assert w.dtype == torch.float64 and float(w.std()) == pytest.approx(math.sqrt(2 / fan), rel=0.1)
        spread *= math.sqrt(2 / fan)
        assert float(b.pow(2).mean().sqrt()) == pytest.approx(spread, rel=0.4)
    assert torch.equal(arch.init(gen(0))["layers.1.weight"], params["layers.1.weight"])


def test_bad_geometry_is_a_one_line_error():
    with pytest.raises(ConfigError, match="shrink to nothing"):
        ConvArchitecture(1, 4, (ConvLayer(2, 5, 1, 0),), 2)
    with pytest.raises(ConfigError, match="pooling"):
        ConvArchitecture(1, 4, (ConvLayer(2),), 2, "median")
    with pytest.raises(ConfigError, match="channels"):
        ConvLayer(0)


def test_path_metrics_follow_channels():
    arch = ARCHS[0]
    st = arch.structure()
    assert st.groups == {"units.0": 1, "units.1": 4, "units.2": 5, "units.3": 3}
    empty = {n: torch.zeros(s, dtype=torch.bool) for n, s in arch.prunable_shapes().items()}
    path = {n: m.clone() for n, m in empty.items()}
    path["layers.0.weight"][2, 0, 1, 1] = True  # input -> channel 2
    path["layers.1.weight"][4, 2, 0, 2] = True  # channel 2 -> channel 4
    path["layers.2.weight"][1, 4, 3, 0] = True  # channel 4 -> output 1
    path["layers.1.weight"][0, 3, 1, 1] = True  # from channel 3, never reached
    assert not layer_collapse(path, st) and collapsed_layers(path, st) == []
    assert effective_density(path, st) == pytest.approx(3 / arch.n_prunable)
    cut = {n: m.clone() for n, m in path.items()}
    cut["layers.1.weight"][4, 2, 0, 2] = False
    assert layer_collapse(cut, st) and effective_density(cut, st) == 0.0



@pytest.fixture(scope="module")
def small_host():
    arch = ConvArchitecture(1, 8, (ConvLayer(6, 3, 1, 1, 2), ConvLayer(6, 3, 1, 1, 4)), 3)
    g = gen(5)
    x = torch.randn(96, *arch.input_shape, generator=g)
    y = torch.randint(0, 3, (96,), generator=g)
    return arch, arch.init(gen(4)), PrunerData(x, y, F.cross_entropy, "classification")


@pytest.mark.parametrize("name", PRUNERS.names())
def test_every_registered_pruner_gives_valid_masks_on_a_conv_host(name, small_host, one_torch_thread):
    arch, params, data = small_host
    check_masks_of(name, arch, params, data, [0.02, 0.3])


def test_masked_training_keeps_pruned_weights_zero(small_host, one_torch_thread):
    arch, params, data = small_host
    mask = {n: torch.rand(s, generator=gen(9)) < 0.5 for n, s in arch.prunable_shapes().items()}
    config = TrainConfig(epochs=2, batch_size=32, lr=1e-2)
    net, = train_masks(arch, params, [mask], data.x, data.y, F.cross_entropy, config, [gen(3)])
    with torch.no_grad():
        before = float(F.cross_entropy(arch.build(params)(data.x, mask), data.y))
    assert all(bool((p[~mask[n]] == 0).all()) for n, p in net.prunable().items())
    with torch.no_grad():
        assert float(F.cross_entropy(net(data.x, mask), data.y)) < before


def test_forward_flops_is_the_hand_count_and_what_torch_counts():
    from torch.utils.flop_counter import FlopCounterMode

    arch = ConvArchitecture(1, 8, (ConvLayer(3, kernel=3, padding=1, pool=2), ConvLayer(2, kernel=3, padding=0)), 4)
    # conv 0: 3 x 1 x 3 x 3 kernel entries at 8 x 8 positions; pooled to 4 x 4; conv 1: 2 x 3 x 3 x 3 at 2 x 2;
    # head: 4 x 2 x 2 x 2 weights; 2 FLOPs per multiply-add
    assert arch.forward_flops() == 2 * (27 * 64 + 54 * 4 + 32) == 3952
    params = arch.init(torch.Generator().manual_seed(0))
    with FlopCounterMode(display=False) as counter:
        arch.forward(params, torch.zeros(5, 1, 8, 8, dtype=torch.float64))
    assert counter.get_total_flops() == 5 * arch.forward_flops()


def test_the_channels_last_stacked_forward_computes_the_same_outputs():
    """Stride 2, two input channels, average pooling: the channels-last layout of stacked training (float64)."""
    arch = ConvArchitecture(2, 9, (ConvLayer(5, 3, 2, 1, 1), ConvLayer(4, 3, 1, 1, 2)), 3, pooling="avg")
    inits = [arch.init(torch.Generator().manual_seed(i)) for i in range(3)]  # three different networks
    params = {n: torch.stack([init[n] for init in inits]) for n in arch.parameter_shapes()}
    g = torch.Generator().manual_seed(4)
    mask = {n: torch.rand((3, *s), generator=g) < 0.5 for n, s in arch.prunable_shapes().items()}
    x = torch.randn(3, 6, *arch.input_shape, generator=g, dtype=torch.float64)
    want = torch.stack([arch.forward({n: p[i] for n, p in params.items()}, x[i], {n: m[i] for n, m in mask.items()})
                        for i in range(3)])
    got = arch.forward_stacked(params, x, mask, channels_last=True)
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
