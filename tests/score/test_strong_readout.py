"""The strong-ticket readout fitted per mask on the training split (plantseek.score.strong_readout), checked against
independent computations: numpy least squares, autograd stationarity, the best constant predictor."""

import numpy as np
import pytest
import torch

import plantseek
from plantseek.core import seeding
from plantseek.prune.contract import get_pruner
from plantseek.score.evaluation import (planted_scale_metric, raw_outputs, strong_metric, strong_scores_batched,
                                        target_metric)
from plantseek.score.strong_readout import fit_classification, fit_readout, fit_regression
from plantseek.train.config import TrainConfig


def empty_mask(inst):
    return {n: torch.zeros(s, dtype=torch.bool) for n, s in inst.arch.weight_shapes().items()}


def random_mask(inst, density, seed):
    g = torch.Generator().manual_seed(seed)
    return {n: torch.rand(s, generator=g) < density for n, s in inst.arch.weight_shapes().items()}


def constant_predictor_metric(inst, split="test"):
    """The best constant fitted on the training split: the training mean (MSE) or most frequent class."""
    train, s = inst.data.train, getattr(inst.data, split)
    if inst.task.kind == "regression":
        return float(((s.y - train.y.mean(0)) ** 2).mean())
    return float((s.y == torch.bincount(train.y).argmax()).double().mean())


def test_regression_readout_is_least_squares_with_intercept():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(500, 3, generator=g, dtype=torch.float64) * torch.tensor([1e-9, 3.0, 1.0], dtype=torch.float64)
    y = torch.randn(500, 3, generator=g, dtype=torch.float64) + 2 * z * torch.tensor([1e9, -1.0, 0.0])
    z[:, 2] = 7.0  # a constant output: no slope, the offset is the mean
    fit = fit_regression(z, y)
    for k in range(2):
        design = np.stack([z[:, k].numpy(), np.ones(500)], axis=1)
        (slope, intercept), *_ = np.linalg.lstsq(design, y[:, k].numpy(), rcond=None)
        assert float(fit.scale[k]) == pytest.approx(slope, rel=1e-9)
        assert float(fit.offset[k]) == pytest.approx(intercept, rel=1e-9, abs=1e-12)
    assert float(fit.scale[2]) == 0.0 and float(fit.offset[2]) == pytest.approx(float(y[:, 2].mean()))


def test_classification_readout_is_a_stationary_point_of_the_cross_entropy():
    g = torch.Generator().manual_seed(1)
    z = torch.randn(800, 4, generator=g, dtype=torch.float64) * torch.tensor([1e-6, 1.0, 1e3, 2.0], dtype=torch.float64)
    y = (z / z.std(0)).argmax(1)
    flip = torch.rand(800, generator=g) < 0.2
    y[flip] = torch.randint(0, 4, (int(flip.sum()),), generator=g)
    fit = fit_classification(z, y)
    a = fit.scale.clone().requires_grad_(True)
    c = fit.offset.clone().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(z * a + c, y)
    ga, gc = torch.autograd.grad(loss, [a, c])
    # gradient with respect to the standardised slope (a * std) and the offsets vanishes at the optimum
    assert float((ga * z.std(0, unbiased=False)).abs().max()) < 1e-7 and float(gc.abs().max()) < 1e-7


@pytest.mark.parametrize("task", ["circle", "relu", "helix"])
def test_constant_output_masks_score_the_constant_predictor_and_never_beat_a_working_path(task):
    inst = plantseek.plant(task, depth=5, width=100, seed=0)
    empty = strong_metric(inst, empty_mask(inst))
    assert empty == pytest.approx(constant_predictor_metric(inst), rel=1e-9)
    ticket = strong_metric(inst, inst.ticket)
    assert (ticket > empty) if inst.task.higher_is_better else (ticket < empty)


@pytest.mark.parametrize("task", ["relu", "helix"])
def test_on_the_training_split_no_mask_does_worse_than_the_constant_predictor(task):
    # least squares with an intercept nests the constant predictor: on the data it was fitted on it is never worse
    inst = plantseek.plant(task, depth=5, width=100, seed=1)
    masks = [random_mask(inst, d, s) for d, s in ((0.01, 0), (0.1, 1), (0.5, 2))] + [None]
    train_metrics = strong_scores_batched(inst, masks, split="train")
    for score in train_metrics:
        assert score.metric <= constant_predictor_metric(inst, "train") * (1 + 1e-12)


@pytest.mark.parametrize("task,tolerance", [("circle", 0.01), ("relu", 0.01), ("helix", 0.01)])
def test_the_exact_ticket_scores_the_targets_own_metric(task, tolerance):
    for seed in (0, 1):
        inst = plantseek.plant(task, depth=5, width=100, seed=seed)
        fitted, target = strong_metric(inst, inst.ticket), target_metric(inst)
        if inst.task.kind == "classification":
            assert abs(fitted - target) <= tolerance
        else:
            assert fitted == pytest.approx(target, rel=tolerance)
        assert planted_scale_metric(inst, inst.ticket) == pytest.approx(target, rel=1e-9)


def test_batched_scores_equal_single_mask_scores():
    inst = plantseek.plant("helix", depth=5, width=60, seed=2)
    masks = [inst.ticket, None, empty_mask(inst), random_mask(inst, 0.2, 3)]
    batched = strong_scores_batched(inst, masks, chunk=3)
    for mask, score in zip(masks, batched):
        assert score.metric == pytest.approx(strong_metric(inst, mask), rel=1e-9, abs=1e-15)
        assert score.planted_scales == pytest.approx(planted_scale_metric(inst, mask), rel=1e-9)
    train = inst.data.train
    z = raw_outputs(inst, masks[3], train.x)
    assert fit_readout(z, train.y, "regression").scale.shape == (3,)


def test_edge_popup_relu_strong_tickets_report_their_real_mse():
    # the planted-scale readout inflated these to ~1e4..1e5; through their own readout they are good strong tickets
    inst = plantseek.plant("relu", depth=5, width=100, seed=0)
    masks = get_pruner("edge-popup").prune_batch(inst.host(), inst.pruner_data(), [0.5],
                                                 generators=[seeding.generator(0, "edge-popup")], budget=TrainConfig())
    (score,) = strong_scores_batched(inst, masks)
    assert score.planted_scales > 1e3
    assert score.metric < 2 * target_metric(inst)
