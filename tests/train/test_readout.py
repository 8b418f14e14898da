"""Readout calibration and balancing before weak training, against independent expectations."""

import torch

import plantseek
from plantseek.families.mlp.network import bias_name, forward_state, weight_name
from plantseek.train.calibration import balance, calibrated_state, fit_output_factors


def test_least_squares_factor_by_hand():
    y = torch.tensor([[1.0, 2.0], [2.0, -1.0], [3.0, 0.5]], dtype=torch.float64)
    z = y * torch.tensor([0.5, -4.0], dtype=torch.float64)
    assert torch.allclose(fit_output_factors(z, y, "regression"), torch.tensor([2.0, -0.25], dtype=torch.float64))
    zero = torch.zeros(3, 2, dtype=torch.float64)
    assert torch.equal(fit_output_factors(zero, y, "regression"), torch.ones(2, dtype=torch.float64))


def test_cross_entropy_factors_are_the_optimum():
    inst = plantseek.plant("circle", depth=5, width=100, seed=1)
    z = forward_state(inst.initial_state, inst.data.train.x, inst.ticket)
    alpha = fit_output_factors(z, inst.data.train.y, "classification").requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(z * alpha, inst.data.train.y)
    (grad,) = torch.autograd.grad(loss, alpha)
    assert grad.abs().max() < 1e-8  # stationary point of a convex problem = its minimum
    assert loss < 0.35  # the calibrated ticket is a good classifier (log 4 = 1.39 for a blind one)


def test_regression_ticket_calibrates_to_the_planted_scales():
    inst = plantseek.plant("helix", depth=5, width=100, seed=0, noise=0.0)
    state = calibrated_state(inst.initial_state, inst.ticket, inst.data.train.x, inst.data.train.y, "regression")
    out = forward_state(state, inst.data.test.x, inst.ticket)
    ref = torch.from_numpy(inst.target(inst.data.test.x.numpy()))
    assert float((out - ref).norm() / ref.norm()) < 1e-3  # alpha ~ 1/scale: the target itself


def test_balance_keeps_the_function_and_equalises_norms():
    inst = plantseek.plant("circle", depth=5, width=100, seed=2)
    g = torch.Generator().manual_seed(0)
    mask = {n: torch.rand(s, generator=g) < 0.3 for n, s in inst.arch.weight_shapes().items()}
    balanced = balance(inst.initial_state, mask, sweeps=50)
    x = inst.data.test.x
    before, after = forward_state(inst.initial_state, x, mask), forward_state(balanced, x, mask)
    assert torch.allclose(before, after, rtol=1e-9, atol=1e-12)
    for l in range(inst.arch.n_layers - 1):
        w_in = balanced[weight_name(l)] * mask[weight_name(l)]
        n_in = torch.sqrt((w_in ** 2).sum(1) + balanced[bias_name(l)] ** 2)
        w_out = balanced[weight_name(l + 1)] * mask[weight_name(l + 1)]
        n_out = torch.sqrt((w_out ** 2).sum(0))
        live = (n_in > 0) & (n_out > 0)
        assert torch.allclose(n_in[live], n_out[live], rtol=1e-3)


def test_a_constant_output_keeps_factor_one_whatever_its_size():
    y = torch.tensor([[1.0], [2.0], [4.0]], dtype=torch.float64)
    for c in (6.9e-18, -0.88, 3.0):
        z = torch.full((3, 1), c, dtype=torch.float64)
        assert torch.equal(fit_output_factors(z, y, "regression"), torch.ones(1, dtype=torch.float64))
        labels = torch.tensor([0, 1, 1])
        assert torch.equal(fit_output_factors(z.repeat(1, 2), labels, "classification"),
                           torch.ones(2, dtype=torch.float64))


def test_a_collapsed_network_starts_as_the_constant_predictor():
    """The smoke grid's cell that diverged (weak MSE 1.8e16): a mask with no kept input weight, whose output is a
    rounding residue; its calibrated start is the training mean, with weights of the host's own size."""
    from plantseek.planted.task import DataConfig
    from plantseek.train.calibration import weak_start

    inst = plantseek.plant("relu", depth=4, width=20, seed=0, data=DataConfig(n_samples=400))
    mask = {n: torch.zeros_like(t) for n, t in inst.ticket.items() if n.endswith("weight")}
    first, last = weight_name(0), weight_name(inst.arch.n_layers - 1)
    mask[last][0, 0] = True  # a kept output weight, fed by nothing: the output is constant
    train = inst.data.train
    state = weak_start(inst.initial_state, mask, train.x, train.y, "regression", inst.arch)
    assert int(mask[first].sum()) == 0
    out = forward_state(state, inst.data.test.x, mask)
    assert torch.allclose(out, train.y.double().mean(0).expand_as(out), rtol=0, atol=1e-12)
    biggest = max(float(v.abs().max()) for v in inst.initial_state.values())
    assert max(float(v.abs().max()) for v in state.values()) <= biggest + abs(float(train.y.double().mean()))


def test_the_smoke_cell_that_diverged_is_now_the_constant_predictor():
    from plantseek.cli import validate
    from plantseek.cli.evaluate import build_suite
    from plantseek.run.bundle import run_group
    from plantseek.run.grid import expand

    args = validate(["evaluate", "--suite", "smoke", "--tasks", "relu", "--pruners", "random", "--densities",
                     "ticket", "--seeds", "0", "--n-samples", "400", "--epochs", "1", "--no-store"])
    ((cell, result),) = run_group(expand(build_suite(args)))
    assert result.status == "ok"
    # collapsed: its strong metric is the best constant (the fitted readout) and its weak metric is within 1 %
    assert abs(result.weak_metric - result.strong_metric) < 0.01 * result.strong_metric
