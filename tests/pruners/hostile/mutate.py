"""Mutates the model and the training data in place (weights zeroed, inputs NaN), then prunes at random."""
import torch

from plantseek.prune.contract import get_pruner


class Mutate:
    name = "mutate"

    def prune(self, model, data, density, *, generator, budget):
        mask = get_pruner("random").prune(model, data, density, generator=generator, budget=budget)
        with torch.no_grad():
            for p in model.parameters():
                p.zero_()
        data.x.fill_(float("nan"))
        data.y.zero_()
        return mask
