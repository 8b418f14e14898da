"""The routing task (tasks/routing.py) and per-route recall (plantseek.score.routes): the planted ticket is exact,
each route alone serves exactly its own cluster, seed bit-identity, and recall per route on a hand-made example."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from plantseek.core.errors import ConfigError
from plantseek.planted.instance import plant
from plantseek.planted.task import DataConfig, get_task
from plantseek.score.evaluation import strong_outputs
from plantseek.score.routes import host_routes, route_recalls
from tasks.routing import routes

SMALL = DataConfig(n_samples=800)


def labels_by_hand(task, x: torch.Tensor) -> np.ndarray:
    """f_c(u) = v . relu(A u + b) of each sample's cluster, one sample at a time."""
    o = task.options
    nets = routes(o)
    out = []
    for row in x.numpy():
        c, u = int(np.argmax(row[:o.clusters])), row[o.clusters:]
        net = nets[c]
        out.append(sum(v * max(0.0, float(a @ u) + b) for a, b, v in zip(net.a, net.b, net.v)))
    return np.array(out)


@pytest.mark.parametrize("depth", [3, 4, 5, 7])
def test_routing_ticket_is_exact(depth):
    inst = plant("routing", depth=depth, width=32, seed=1, data=SMALL, noise=0.0)
    x = inst.data.test.x
    out = strong_outputs(inst, inst.ticket, x)
    assert torch.allclose(out[:, 0], torch.from_numpy(labels_by_hand(inst.task, x)), rtol=0, atol=1e-10)
    assert torch.equal(inst.data.test.y, inst.task.clean_labels(x))  # noise 0


@pytest.mark.parametrize("depth", [3, 5])
def test_each_route_alone_serves_exactly_its_own_cluster(depth):
    inst = plant("routing", depth=depth, width=32, seed=2, data=SMALL, noise=0.0)
    o = inst.task.options
    owners = host_routes(inst.task.weight_routes(depth), inst.placement, inst.arch.weight_shapes())
    x = inst.data.test.x
    cluster = x[:, :o.clusters].argmax(dim=1)
    truth = torch.from_numpy(labels_by_hand(inst.task, x))
    for r in range(o.clusters):
        only = {**inst.ticket, **{n: inst.ticket[n] & (owners[n] == r) for n in owners}}
        out = strong_outputs(inst, only, x)[:, 0]
        mine = cluster == r
        assert torch.allclose(out[mine], truth[mine], atol=1e-10)  # its cluster: the cluster's function
        assert torch.allclose(out[~mine], torch.zeros(int((~mine).sum()), dtype=torch.float64), atol=1e-10)


@pytest.mark.parametrize("depth,expected", [(3, 4 * (4 * 5 + 4)), (4, 4 * (4 * 5 + 1 + 2 * 4 + 4)),
                                            (6, 4 * (4 * 5 + 1 + 3 * 2 * 4 + 2 + 4))])
def test_routes_partition_the_ticket(depth, expected):
    inst = plant("routing", depth=depth, width=32, seed=0, data=SMALL)
    owners = host_routes(inst.task.weight_routes(depth), inst.placement, inst.arch.weight_shapes())
    assert inst.ticket_weights == expected
    for name, owner in owners.items():
        assert torch.equal(owner >= 0, inst.ticket[name])  # every ticket weight has exactly one route
    sizes = np.bincount(torch.cat([o[o >= 0] for o in owners.values()]).numpy())
    assert len(sizes) == 4 and (sizes == expected // 4).all()  # equal, disjoint routes


def test_instances_are_bit_identical_per_seed():
    one, two, other = (plant("routing", depth=4, width=24, seed=s, data=SMALL) for s in (5, 5, 6))
    for name in one.initial_state:
        assert torch.equal(one.initial_state[name], two.initial_state[name])
        assert torch.equal(one.ticket[name], two.ticket[name])
    assert torch.equal(one.data.train.x, two.data.train.x) and torch.equal(one.data.train.y, two.data.train.y)
    assert not torch.equal(one.data.train.x, other.data.train.x)


def test_imbalance_draws_clusters_with_weights_r_to_the_c():
    task = get_task("routing", clusters=3, imbalance=0.5)
    split = task.sample(40_000, torch.Generator().manual_seed(0))
    share = np.bincount(split.x[:, :3].argmax(dim=1).numpy()) / 40_000
    assert np.allclose(share, np.array([4, 2, 1]) / 7, atol=0.01)


def test_route_recall_on_a_hand_example():
    owners = {"layers.0.weight": torch.tensor([[0, 0, -1], [1, -1, 1]]), "layers.1.weight": torch.tensor([[0, 1]])}
    mask = {"layers.0.weight": torch.tensor([[True, False, True], [True, True, False]]),
            "layers.1.weight": torch.tensor([[True, True]])}
    # route 0: weights (0,0), (0,1), out (0,0): kept 2 of 3; route 1: (1,0), (1,2), out (0,1): kept 2 of 3
    got = route_recalls(mask, owners)
    assert got["route_recall_0"] == pytest.approx(2 / 3) and got["route_recall_1"] == pytest.approx(2 / 3)
    mask["layers.0.weight"][0, 1] = True
    got = route_recalls(mask, owners)
    assert got["route_recall_0"] == 1.0 and got["routes_complete"] == 1.0 and got["route_recall_min"] == 2 / 3


@pytest.mark.parametrize("bad", [{"clusters": 1}, {"imbalance": 0}, {"imbalance": 1.5}, {"units": 0}])
def test_bad_options_are_one_config_error(bad):
    with pytest.raises(ConfigError):
        get_task("routing", **bad)
