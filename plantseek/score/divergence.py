"""Divergence is a status, not a number: a trained network whose metric is non-finite, or far worse than
predicting a constant, is marked ``diverged`` and kept out of every mean, interval and rank built on metrics.

The yardstick is the **constant predictor**: the training targets' mean for regression, the training split's most
frequent class for classification, scored on the test split by the task's own metric. Any network, even one whose
mask cut every path, can start from it (the calibrated protocol does); a weak metric more than
``DIVERGENCE_FACTOR`` times the constant predictor's MSE means training blew up, not that the mask was poor.
Accuracy is bounded, so a classification cell diverges only when its metric is not finite.
"""

from __future__ import annotations

import math

import torch

from plantseek.planted.instance import PlantedInstance

DIVERGENCE_FACTOR = 10.0  # a regression metric beyond this many times the constant predictor's is divergence


def constant_predictor_metric(instance: PlantedInstance) -> float:
    """The task metric, on the test split, of the best constant fitted on the training split."""
    train, test = instance.data.train, instance.data.test
    if instance.task.kind == "regression":
        mean = train.y.double().mean(0)
        return float(instance.task.metric(mean.expand(test.y.shape).clone(), test.y.double()))
    if train.y.is_floating_point():  # binary single-logit labels (n, 1): logit +1 for class 1, -1 for class 0
        ones = float(train.y.double().mean()) > 0.5
        logit = torch.full(test.y.shape, 1.0 if ones else -1.0, dtype=torch.float64)
        return float(instance.task.metric(logit, test.y))
    k = int(max(int(train.y.max()), int(test.y.max())) + 1)
    majority = int(torch.bincount(train.y, minlength=k).argmax())
    logits = torch.zeros(test.y.shape[0], k, dtype=torch.float64)
    logits[:, majority] = 1.0
    return float(instance.task.metric(logits, test.y))


def divergence(what: str, value: float, constant: float, higher_is_better: bool, metric_name: str) -> str:
    """``""`` for a sane metric, else one line saying why ``value`` (the ``what`` metric) counts as diverged."""
    if not math.isfinite(value):
        return f"{what} {metric_name} is {value} (not finite)"
    if not higher_is_better and math.isfinite(constant) and value > DIVERGENCE_FACTOR * constant:
        return (f"{what} {metric_name} {value:.3g} is more than {DIVERGENCE_FACTOR:g}x the constant predictor's "
                f"{constant:.3g}")
    return ""
