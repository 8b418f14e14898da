"""Scoring one mask against one planted instance: the public :func:`score_mask`.

What a cell stores about a pruner's mask before any training, computed the same way: the recovery metrics against
the hidden ticket (:func:`plantseek.score.metrics.recovery_metrics`) and the mask's strong metric on the host's
initial weights through its fitted readout (:func:`plantseek.score.evaluation.strong_metric`).
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from plantseek.nets.masks import validate_mask
from plantseek.planted.instance import PlantedInstance
from plantseek.score.evaluation import strong_metric, ticket_metric
from plantseek.score.metrics import recovery_metrics
from plantseek.score.multi_ticket import instance_ticket_metrics


def score_mask(instance: PlantedInstance, mask: Mapping[str, torch.Tensor], split: str = "test") -> dict[str, Any]:
    """Score ``mask`` (``{parameter name: BoolTensor}``, every weight matrix of the host; bias entries optional)
    against ``instance``'s planted ticket.

    Returns a JSON-serialisable dict: the recovery metrics (``recall``, ``precision``, ``f1``, ``jaccard``,
    ``contains_ticket``, ``effective_density``, ``nominal_density``, ``layer_collapse``, ``per_layer``, ...),
    ``strong_metric`` (the masked host at its initial weights, read out as every cell is), ``ticket_metric``
    (the planted ticket, read out the same way), ``metric_name`` and ``split``. Raises
    :class:`plantseek.nets.masks.MaskError` with a one-line reason for a malformed mask (missing or unknown
    entries, wrong shape, not boolean)."""
    arch = instance.arch
    checked = validate_mask(mask, arch.weight_shapes(), None, arch.bias_shapes())
    out: dict[str, Any] = {**recovery_metrics(checked, instance.ticket, arch.structure()),
                           **instance_ticket_metrics(checked, instance.tickets, arch.structure())}
    out["strong_metric"] = float(strong_metric(instance, checked, split))
    out["ticket_metric"] = float(ticket_metric(instance, split))
    out["metric_name"] = instance.task.metric_name
    out["split"] = split
    return out
