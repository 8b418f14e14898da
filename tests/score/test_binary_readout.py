"""The binary single-logit readout (one logit, 0/1 labels, BCE with logits): a 1-D logistic regression with an
intercept, checked by hand and against an independent scipy fit; and the calibrated start's binary factor."""

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize, minimize_scalar

from plantseek.score.strong_readout import fit_binary, fit_readout, is_binary_labels
from plantseek.train.calibration import fit_output_factors


def col(values):
    return torch.tensor(values, dtype=torch.float64).reshape(-1, 1)


def test_saturated_two_value_fit_by_hand():
    # z = -1: one of four is class 1; z = +1: three of four. The fit is saturated: sigmoid(c - a) = 1/4 and
    # sigmoid(c + a) = 3/4, so a = log 3 and c = 0.
    z = col([-1.0] * 4 + [1.0] * 4)
    y = col([1, 0, 0, 0, 1, 1, 1, 0])
    fit = fit_readout(z, y, "classification")
    assert float(fit.scale[0]) == pytest.approx(math.log(3), abs=1e-8)
    assert float(fit.offset[0]) == pytest.approx(0.0, abs=1e-8)


def test_non_separable_fit_equals_scipy():
    rng = np.random.default_rng(0)
    zn = rng.normal(size=400) * 1e-6 + 3e-6  # tiny logits, as planted outputs carry
    yn = (rng.random(400) < 1 / (1 + np.exp(-(2e6 * zn - 5.0)))).astype(float)

    def bce(p):
        s = p[0] * zn * 1e6 + p[1]
        return float(np.mean(np.logaddexp(0, s) - yn * s))

    ref = minimize(bce, np.zeros(2), method="BFGS", options={"gtol": 1e-12})
    fit = fit_binary(col(zn), col(yn))
    assert float(fit.scale[0]) == pytest.approx(ref.x[0] * 1e6, rel=1e-5)
    assert float(fit.offset[0]) == pytest.approx(ref.x[1], abs=1e-5)


def test_separable_set_is_separated_and_accuracy_is_sign_agreement():
    z = col([-2.0, -1.0, 1.0, 2.0, 3.0])
    y = col([0, 0, 1, 1, 1])
    fit = fit_binary(z, y)
    assert float(fit.scale[0]) > 5  # the optimum lies at infinity: a large positive slope
    out = fit(z)
    assert torch.equal((out > 0).double(), y)


def test_a_constant_logit_predicts_the_majority_class():
    z = col([0.5] * 10)
    y = col([1, 1, 1, 0, 0, 0, 0, 1, 1, 1])
    fit = fit_binary(z, y)
    assert float(fit.scale[0]) == 0.0
    assert float(fit.offset[0]) == pytest.approx(math.log(0.6 / 0.4), abs=1e-12)


def test_only_one_logit_float_labels_count_as_binary():
    assert is_binary_labels(col([1.0, 2.0]), col([0, 1]))
    assert not is_binary_labels(torch.zeros(2, 2, dtype=torch.float64), torch.tensor([0, 1]))
    assert not is_binary_labels(col([1.0, 2.0]), torch.tensor([0, 1]))


def test_calibration_factor_minimises_the_binary_cross_entropy():
    rng = np.random.default_rng(1)
    zn = rng.normal(size=300) * 1e-5
    yn = (rng.random(300) < 1 / (1 + np.exp(-3e5 * zn))).astype(float)
    ref = minimize_scalar(lambda b: float(np.mean(np.logaddexp(0, b * zn * 1e5) - yn * b * zn * 1e5)),
                          bounds=(-100, 100), method="bounded", options={"xatol": 1e-10})
    alpha = fit_output_factors(col(zn), col(yn), "classification")
    assert float(alpha[0]) == pytest.approx(ref.x * 1e5, rel=1e-5)


def test_the_stock_task_loss_and_metric_treat_one_logit_float_labels_as_binary():
    from plantseek.planted.task import Task

    class Binary(Task):
        name, in_features, out_features, kind = "binary-test", 2, 1, "classification"

    out = torch.tensor([[2.0], [-1.0], [0.5]], dtype=torch.float64)
    y = col([1, 0, 0])
    expected = -(math.log(1 / (1 + math.exp(-2))) + math.log(1 - 1 / (1 + math.exp(1)))
                 + math.log(1 - 1 / (1 + math.exp(-0.5)))) / 3
    assert float(Binary().loss(out, y)) == pytest.approx(expected, rel=1e-12)
    assert Binary().metric(out, y) == 2 / 3
    # class-index labels keep the cross-entropy and the argmax
    two = torch.tensor([[2.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    assert Binary().metric(two, torch.tensor([0, 0])) == 0.5


def test_the_batched_engines_gradient_of_the_stock_binary_loss_equals_autograd():
    from plantseek.train.losses import loss_grad_fn

    g = torch.Generator().manual_seed(0)
    out = torch.randn(3, 5, 1, generator=g, dtype=torch.float64)
    y = (torch.rand(3, 5, 1, generator=g) < 0.5).double()
    grad = loss_grad_fn("classification")(out.clone(), y)
    for k in range(3):
        o = out[k].clone().requires_grad_(True)
        torch.nn.functional.binary_cross_entropy_with_logits(o, y[k]).backward()
        assert torch.allclose(grad[k], o.grad, rtol=1e-12, atol=0)
