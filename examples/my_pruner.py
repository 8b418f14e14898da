"""A complete plantseek pruner: keep the weights with the largest |weight x gradient| on one training batch,
chosen layer by layer in proportion to layer size. Score it: python -m plantseek submit examples/my_pruner.py"""

import torch

from plantseek.nets.masks import select_top


class GradientMagnitude:
    name = "grad-magnitude"
    description = "|w * dL/dw| on 512 training samples, layer-wise top-k"

    def prune(self, model, data, density, *, generator, budget):
        idx = torch.randperm(len(data), generator=generator)[:512]   # all randomness from `generator`
        loss = data.loss(model(data.x[idx]), data.y[idx])
        weights = model.prunable()                                   # {"layers.0.weight": Parameter, ...}
        grads = torch.autograd.grad(loss, list(weights.values()))
        scores = {name: (w * g).abs() for (name, w), g in zip(weights.items(), grads)}
        return select_top(scores, density, scope="local")            # {name: BoolTensor}, exact count
