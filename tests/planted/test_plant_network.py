"""plantseek.plant_network: any sparse trained ReLU network (MLP or CNN) hidden in a wider random host of its depth;
exactness, the strong metric of the planted ticket, reproducibility, and one-line errors for bad input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import plantseek
from plantseek.core.errors import ConfigError
from plantseek.families.conv.network import ConvArchitecture, ConvLayer
from plantseek.families.mlp.network import Architecture
from plantseek.planted.task import DataConfig
from plantseek.score.evaluation import planted_scale_metric, target_metric, ticket_metric

DATA = DataConfig(n_samples=400)


def trained_sparse(model: nn.Sequential, input_shape, seed: int, keep: float = 0.3) -> nn.Sequential:
    """``model`` trained for 40 Adam steps on a random regression, then magnitude-pruned to ``keep`` of its weights."""
    torch.manual_seed(seed)
    model = model.double()
    x = torch.rand(128, *input_shape, dtype=torch.float64) * 2 - 1
    y = torch.randn(128, model[-1].out_features, dtype=torch.float64)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(40):
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()
    with torch.no_grad():
        for m in model:
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                w = m.weight
                w.mul_(w.abs() >= w.abs().flatten().quantile(1 - keep))
    return model


def mlp(seed):
    return trained_sparse(nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 2)),
                          (3,), seed)


def cnn(seed, pool=nn.MaxPool2d):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), pool(2), nn.Conv2d(3, 4, 3), nn.ReLU(),
                        nn.Flatten(), nn.Linear(4 * 2 * 2, 3))
    return trained_sparse(net, (1, 8, 8), seed)


def conv_host(width, pooling="max"):
    return ConvArchitecture(1, 8, (ConvLayer(width, 3, 1, 1, 2), ConvLayer(width, 3, 1, 0, 1)), 3, pooling)


CASES = [(mlp(0), Architecture((3, 30, 30, 2))), (cnn(1), conv_host(12)),
         (cnn(2, nn.AvgPool2d), conv_host(20, "avg"))]


@pytest.mark.parametrize("case", range(3))
def test_planted_trained_network_is_exact(case):
    target, host = CASES[case]
    inst = plantseek.plant_network(target, host, seed=case, data=DATA)
    x = inst.data.test.x
    with torch.no_grad():
        want = target(x)
    out = inst.arch.forward(inst.initial_state, x, inst.ticket) / inst.scales
    assert float((out - want).abs().max() / want.abs().max()) <= 1e-9
    kept = sum(int((m.weight != 0).sum()) for m in target if isinstance(m, (nn.Linear, nn.Conv2d)))
    assert inst.ticket_weights == kept
    assert planted_scale_metric(inst, inst.ticket) == pytest.approx(target_metric(inst), abs=1e-20)
    assert ticket_metric(inst) <= 1e-15  # the fitted readout recovers the target exactly (labels = target(x))


def test_same_seed_same_instance_and_seeds_differ():
    target, host = CASES[1]
    a, b = (plantseek.plant_network(target, host, seed=4, data=DATA) for _ in range(2))
    assert all(torch.equal(a.initial_state[n], b.initial_state[n]) for n in a.initial_state)
    c = plantseek.plant_network(target, host, seed=5, data=DATA)
    assert not torch.equal(a.placement[0], c.placement[0])


def test_bad_input_is_a_one_line_error():
    target, host = CASES[0]
    bad = [
        (nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2)), host, "unsupported layer Tanh"),
        (target, Architecture((3, -30, 30, 2)), "positive integers"),
        (target, Architecture((3, 5, 30, 2)), "narrower"),
        (nn.Sequential(nn.Linear(3, 30), nn.ReLU(), nn.Linear(30, 30), nn.ReLU(), nn.Linear(30, 2)), host,
         "no zero weight"),
        (nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 2)).requires_grad_(False),
         host, "NaN"),
        (CASES[1][0], conv_host(2), "fewer than the ticket"),
        ("not a network", host, "must be a torch.nn.Sequential"),
    ]
    bad[4][0][2].weight[0, 0] = float("nan")
    for target_, host_, message in bad:
        with pytest.raises(ConfigError, match=message) as info:
            plantseek.plant_network(target_, host_, seed=0, data=DATA)
        assert "\n" not in str(info.value)
