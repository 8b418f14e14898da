"""A typed plantseek pruner, checked by mypy in CI (pyproject.toml's ``[tool.mypy]``): the same pruner as
my_pruner.py, annotated against the contract (:class:`plantseek.prune.contract.Pruner`)."""

from __future__ import annotations

import torch

from plantseek.nets.interface import Host
from plantseek.nets.masks import Mask, select_top
from plantseek.planted.instance import PrunerData
from plantseek.prune.contract import Pruner
from plantseek.train.config import TrainConfig


class GradientMagnitude:
    name = "grad-magnitude"
    description = "|w * dL/dw| on 512 training samples, layer-wise top-k"

    def prune(self, model: Host, data: PrunerData, density: float, *, generator: torch.Generator,
              budget: TrainConfig) -> Mask:
        idx = torch.randperm(len(data), generator=generator)[:512]
        loss = data.loss(model(data.x[idx]), data.y[idx])
        weights = model.prunable()
        grads = torch.autograd.grad(loss, list(weights.values()))
        scores = {name: (w * g).abs() for (name, w), g in zip(weights.items(), grads)}
        return select_top(scores, density, scope="local")


checked: Pruner = GradientMagnitude()  # mypy fails here if the signature drifts from the contract
