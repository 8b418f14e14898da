"""Test-only pruners. TicketOracle re-plants the instance from its known configuration and returns the planted
ticket: the harness itself never hands the ground truth to a pruner, so a test has to know it independently."""

import os

import torch

import plantseek
import plantseek.prune.schedules


class TicketOracle:
    name = "ticket-oracle"

    def prune(self, model, data, density, *, generator, budget):
        spec = dict(task=os.environ.get("ORACLE_TASK", "circle"), depth=int(os.environ.get("ORACLE_DEPTH", "5")),
                    width=int(os.environ.get("ORACLE_WIDTH", "100")), seed=int(os.environ.get("ORACLE_SEED", "0")))
        return plantseek.plant(**spec).ticket


class Crashes:
    name = "crashes"

    def prune(self, model, data, density, *, generator, budget):
        raise RuntimeError("boom")


class WrongShape:
    name = "wrong-shape"

    def prune(self, model, data, density, *, generator, budget):
        return {n: torch.ones(3, 3, dtype=torch.bool) for n in model.prunable()}


class WrongDtype:
    name = "wrong-dtype"

    def prune(self, model, data, density, *, generator, budget):
        return {n: torch.ones_like(p) for n, p in model.prunable().items()}


class HasNaN:
    name = "has-nan"

    def prune(self, model, data, density, *, generator, budget):
        return {n: torch.full_like(p, float("nan")) for n, p in model.prunable().items()}


class WrongKey:
    name = "wrong-key"

    def prune(self, model, data, density, *, generator, budget):
        return {"layers.99.weight": torch.ones(1, dtype=torch.bool)}


class WrongCount:
    name = "wrong-count"

    def prune(self, model, data, density, *, generator, budget):
        return {n: torch.ones_like(p, dtype=torch.bool) for n, p in model.prunable().items()}


class Hangs:
    name = "hangs"

    def prune(self, model, data, density, *, generator, budget):
        while True:
            pass


class Unseeded:
    name = "unseeded"

    def prune(self, model, data, density, *, generator, budget):
        from plantseek.nets.masks import select_top

        return select_top({n: torch.rand(p.shape) for n, p in model.prunable().items()}, density)


class _HangingScore(plantseek.prune.schedules.ScorePruner):
    def score(self, model, data, *, generator, budget, mask):
        while True:
            pass


class HangingMultiShot(plantseek.prune.schedules.MultiShot):
    """A multi-shot schedule whose score never returns (for the joint-pruning time limit)."""

    def __init__(self):
        super().__init__(_HangingScore(name="hanging-score", description="never returns"), rounds=2,
                         epochs_per_round=1, name="hanging-multishot")
