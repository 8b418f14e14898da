"""Target tickets: the piecewise-linear block and the task tickets, against hand-derived expectations."""

import math

import numpy as np
import pytest
import torch

from plantseek.planted.targets import ZERO_TOL, PiecewiseLinear, TargetNetwork
from plantseek.planted.task import get_task
from plantseek.tasks.circle import knot_split


@pytest.mark.parametrize("method", ["interpolate", "least_squares"])
def test_piecewise_linear_is_continuous_pl_with_knots(method):
    f = np.cos
    pl = PiecewiseLinear.fit(f, -1.0, 2.0, 7, method=method)
    grid = np.linspace(-1.0, 2.0, 8)
    x = np.linspace(-1.0, 2.0, 2001)
    values = pl(grid)
    # the block is exactly the linear interpolant of its own grid values on the domain
    assert np.max(np.abs(pl(x) - np.interp(x, grid, values))) < 1e-12
    if method == "interpolate":
        assert np.max(np.abs(values - f(grid))) < 1e-12
    # signs alternate, first unit positive
    assert list(pl.in_weights) == [1, -1, 1, -1, 1, -1, 1]


def test_least_squares_beats_interpolation_in_mse():
    f = lambda t: t * np.sin(3 * t)  # noqa: E731
    x = np.linspace(0, 2, 5001)
    err = {m: np.mean((PiecewiseLinear.fit(f, 0, 2, 12, method=m)(x) - f(x)) ** 2)
           for m in ("interpolate", "least_squares")}
    assert err["least_squares"] < err["interpolate"] / 2


def test_numerically_zero_weights_are_not_ticket_weights():
    t = TargetNetwork([np.array([[1.0, 1e-15, -3e-13, 2e-12, 0.0]])], [np.zeros(1)])
    assert t.n_weights == 2 and t.weights[0][0, 1] == 0.0 and ZERO_TOL == 1e-12
    assert t.n_dropped_weights == 2 and t.copy().n_dropped_weights == 2


@pytest.mark.parametrize("depth,count", [(3, 100), (4, 124), (5, 108), (6, 119), (7, 126), (8, 135), (9, 144),
                                         (10, 153)])
def test_circle_ticket_weight_counts(depth, count):
    # the paper's reference counts at depths 3, 4, 5, 6, 10; each mirroring layer after the first adds 3 units x 3
    # inputs, and from depth 7 on the PL layer has 17 units on x' (1 weight) and 3 on |y'| (2 weights): 23
    assert get_task("circle").target(depth).n_weights == count


@pytest.mark.parametrize("depth,widths", [(3, [20, 4]), (4, [4, 20, 4]), (5, [4, 2, 20, 4]), (6, [4, 2, 3, 20, 4]),
                                          (10, [4, 2, 3, 3, 3, 3, 3, 20, 4])])
def test_circle_ticket_neurons_per_layer_as_the_reference(depth, widths):
    assert get_task("circle").target(depth).widths[1:] == widths


def test_circle_layers_by_hand():
    # depth 6: |x| units 4, holding 4, one mirror 2 -> 3 (6); PL: 15 units read x' (1 weight), 5 read |y'| from
    # y' + B and relu(-y') (2 weights: 10); logits 4 x 20. Depth 10: 4 more mirrors of 3 x 3, PL 17 + 2 x 3
    assert get_task("circle").target(6).n_weights_per_layer() == [4, 4, 6, 25, 80]
    assert get_task("circle").target(10).n_weights_per_layer() == [4, 4, 6, 9, 9, 9, 9, 23, 80]
    # depth 4: x_i + 1 and relu(-x_i) (4), PL: 20 units read |x_i| = (x_i + 1) + 2 relu(-x_i) - 1 (40), logits 80
    t4 = get_task("circle").target(4)
    assert t4.n_weights_per_layer() == [4, 40, 80] and t4.biases[0].tolist() == [1.0, 0.0, 1.0, 0.0]
    assert np.array_equal(np.abs(t4.weights[1][:, [0, 1]]) > 0, np.repeat([[True, True], [False, False]], 10, axis=0))


def test_circle_knot_split_as_the_reference():
    assert knot_split(math.pi / 4, 10) == (15, 5)  # depth 6
    assert [knot_split(math.pi / 2 ** (k + 1), 10) for k in (2, 3, 4, 5)] == [(17, 3)] * 4  # depths 7-10
    assert knot_split(math.pi / 4, 1) == (1, 1) and knot_split(math.pi / 64, 2) == (2, 2)  # 2n units always


@pytest.mark.parametrize("depth", [4, 6, 7, 10])
def test_circle_always_active_units_are_active_on_the_domain(depth):
    # the units the constructor flags (planting may raise their bias) have pre-activation >= 0 on [-1, 1]^2
    t = get_task("circle").target(depth)
    g = np.linspace(-1, 1, 401)
    x = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    h = x
    flagged = 0
    for l, (w, b) in enumerate(zip(t.weights[:-1], t.biases[:-1])):
        z = h @ w.T + b
        assert np.all(z[:, t.always_active[l]] >= -1e-12), l
        flagged += int(t.always_active[l].sum())
        h = np.maximum(z, 0.0)
    assert flagged == 2  # x_i + 1 (depth 4); x' and y' + B of the last mirroring layer (depth >= 6)


@pytest.mark.parametrize("depth", [3, 4, 5, 6, 10])
def test_relu_ticket_is_a_path(depth):
    t = get_task("relu").target(depth)
    assert t.n_weights == depth - 1 and all(np.all(b == 0) for b in t.biases)


def test_helix_ticket_structure_and_drops_rounding_zeros():
    t = get_task("helix").target(5)
    assert t.widths == [1, 1, 30, 3, 3]
    # f3 is linear: its 29 slope changes are ~1e-15 and must not count: 30 + 30 + 1 weights into the 3 outputs
    assert t.n_weights_per_layer() == [1, 30, 61, 3]
    assert t.n_dropped_weights == 29  # a reference keeping them counts 95 + 29 = 124


@pytest.mark.parametrize("task,depth,bound", [("circle", 3, 0.98), ("circle", 4, 0.98), ("circle", 5, 0.98),
                                              ("circle", 6, 0.98), ("circle", 7, 0.98), ("circle", 8, 0.98),
                                              ("circle", 10, 0.98)])
def test_circle_ticket_accuracy(task, depth, bound):
    t = get_task(task, noise=0.0)
    s = t.sample(20000, torch.Generator().manual_seed(1))
    assert t.metric(torch.from_numpy(t.target(depth)(s.x.numpy())), s.y) >= bound


def test_circle_labels_by_hand():
    t = get_task("circle", noise=0.0)
    x = torch.tensor([[0.0, 0.0], [0.5, 0.0], [0.6, 0.6], [0.8, 0.0], [1.0, 1.0]], dtype=torch.float64)
    # r = 0, 0.25, 0.72, 0.64, 2
    assert t.clean_labels(x).tolist() == [0, 1, 3, 2, 3]


def test_circle_label_noise_moves_to_adjacent_ring_only():
    t = get_task("circle", noise=0.3)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(20000, 2, generator=g, dtype=torch.float64) * 2 - 1
    clean = t.clean_labels(x)
    noisy = t.add_noise(clean, g)
    changed = noisy != clean
    assert 0.27 < changed.double().mean() < 0.33
    assert torch.all((noisy[changed] - clean[changed]).abs() == 1)
    assert noisy.min() >= 0 and noisy.max() <= 3


def test_helix_function_by_hand():
    t = get_task("helix", noise=0.0)
    x = torch.tensor([[0.0]], dtype=torch.float64)
    tt = 5 * math.pi
    expect = [tt * math.cos(tt) / (8 * math.pi), tt * math.sin(tt) / (8 * math.pi), tt / (8 * math.pi)]
    assert torch.allclose(t.clean_labels(x)[0], torch.tensor(expect, dtype=torch.float64))
