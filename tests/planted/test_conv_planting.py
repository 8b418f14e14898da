"""Conv planting (plantseek.families.conv.planting): the masked host computes scale * target(x) in float64 at several
host sizes and for both poolings; placements are seeded, spread out and vary with the seed; bad fits are one-line
errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from plantseek.core.errors import ConfigError
from plantseek.families.conv.network import ConvArchitecture, ConvLayer
from plantseek.families.conv.planting import ConvTarget, plant_conv_target

GEOMETRY = dict(in_channels=2, image_size=10, out_features=3)
LAYERS = ((5, 3, 1, 1, 2), (3, 3, 1, 1, 1), (4, 1, 1, 0, 5))  # (kernel, stride, padding, pool) per conv layer


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def conv_arch(channels, pooling="max") -> ConvArchitecture:
    convs = tuple(ConvLayer(c, k, s, p, q) for c, (k, s, p, q) in zip(channels, [g[1:] for g in LAYERS]))
    return ConvArchitecture(convs=convs, pooling=pooling, **GEOMETRY)


def sparse_target(channels, pooling="max", seed=0, zero_bias_channel=True) -> ConvTarget:
    """A random sparse target: ~30% of kernel entries, nonzero biases (one zero bias in the first layer)."""
    arch = conv_arch(channels, pooling)
    g = gen(seed)
    params = {}
    for name, shape in arch.parameter_shapes().items():
        p = torch.randn(shape, generator=g, dtype=torch.float64)
        if name.endswith("weight"):
            p = p * (torch.rand(shape, generator=g) < 0.3)
        params[name] = p
    if zero_bias_channel:
        params["layers.0.bias"][1] = 0.0
    return ConvTarget(arch, params, "random sparse conv target")


def relative_error(target, arch, planted, x):
    out = arch.forward(planted.state, x, planted.ticket)
    want = torch.from_numpy(target(x))
    return float((out / planted.scales - want).abs().max() / want.abs().max())


@pytest.mark.parametrize("host_channels", [(4, 3, 5), (12, 10, 9), (40, 32, 24)])
@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_masked_host_computes_scale_times_target(host_channels, pooling):
    target = sparse_target((3, 2, 4), pooling, seed=1)
    arch = conv_arch(host_channels, pooling)
    host = arch.init(gen(2))
    planted = plant_conv_target(target, arch, host, gen(3))
    x = torch.randn(64, *arch.input_shape, generator=gen(4), dtype=torch.float64)
    assert relative_error(target, arch, planted, x) <= 1e-9
    assert bool((planted.scales > 0).all()) and all(bool((s > 0).all()) for s in planted.neuron_scales)
    ticket_weights = [int(planted.ticket[n].sum()) for n in arch.weight_names()]
    assert ticket_weights == target.n_weights_per_layer()
    # only the ticket's entries changed; channel 1 of layer 0 (zero target bias) keeps its host bias, pruned
    for name in arch.weight_names():
        same = planted.state[name] == host[name]
        assert bool(same[~planted.ticket[name]].all())
    h = int(planted.placement[0][1])
    assert planted.state["layers.0.bias"][h] == host["layers.0.bias"][h] and not planted.ticket["layers.0.bias"][h]
    assert int(planted.ticket["layers.0.bias"].sum()) == 2
    assert torch.equal(planted.placement[-1], torch.arange(3))  # outputs keep their order


def test_planted_kernel_entries_are_the_rescaled_target():
    target = sparse_target((3, 2, 4), seed=5, zero_bias_channel=False)
    arch = conv_arch((8, 8, 8))
    planted = plant_conv_target(target, arch, arch.init(gen(6)), gen(7))
    p0, p1 = planted.placement[0], planted.placement[1]
    lam0, lam1 = planted.neuron_scales[0], planted.neuron_scales[1]
    w1 = planted.state["layers.1.weight"][p1][:, p0]  # host kernels of the ticket channels, target order
    want = lam1[:, None, None, None] * target.params["layers.1.weight"] / lam0[None, :, None, None]
    support = target.params["layers.1.weight"] != 0  # elsewhere the host's random entries stay
    torch.testing.assert_close(w1[support], want[support], rtol=1e-13, atol=0)
    assert torch.equal(planted.ticket["layers.1.weight"][p1][:, p0], support)
    torch.testing.assert_close(planted.state["layers.1.bias"][p1], lam1 * target.params["layers.1.bias"],
                               rtol=1e-13, atol=0)


def test_placement_is_seeded_and_spread():
    target = sparse_target((3, 2, 4), seed=1)
    arch = conv_arch((30, 30, 30))
    host = arch.init(gen(2))
    a, b = (plant_conv_target(target, arch, host, gen(s)) for s in (3, 3))
    assert all(torch.equal(a.state[n], b.state[n]) for n in a.state)
    assert all(torch.equal(a.ticket[n], b.ticket[n]) for n in a.ticket)
    placements = {tuple(plant_conv_target(target, arch, arch.init(gen(s)), gen(s)).placement[0].tolist())
                  for s in range(8)}
    assert len(placements) == 8
    assert np.mean([i for p in placements for i in p]) > 5  # not clustered at the lowest free channels


def test_bad_fits_are_one_line_errors():
    target = sparse_target((3, 2, 4))
    with pytest.raises(ConfigError, match="fewer than the ticket"):
        plant_conv_target(target, conv_arch((3, 1, 4)), conv_arch((3, 1, 4)).init(gen(0)), gen(1))
    other = dataclasses.replace(conv_arch((5, 5, 5)), pooling="avg")
    with pytest.raises(ConfigError, match="differ"):
        plant_conv_target(target, other, other.init(gen(0)), gen(1))
    with pytest.raises(ConfigError, match="non-finite"):
        ConvTarget(target.arch, {**target.params, "layers.0.weight": target.params["layers.0.weight"] * np.nan})
