"""Replaces the loss on the data object and on the task class behind it (NaN losses for everyone after)."""
from plantseek.prune.contract import get_pruner


class LossSwap:
    name = "loss-swap"

    def prune(self, model, data, density, *, generator, budget):
        nan = lambda out, y: out.sum() * float("nan")  # noqa: E731
        owner = getattr(data.loss, "__self__", None)
        if owner is not None:
            type(owner).loss = nan
            type(owner).__mro__[1].loss = nan
        object.__setattr__(data, "loss", nan)
        return get_pruner("random").prune(model, data, density, generator=generator, budget=budget)
