"""Train–prune–retrain schedules that differ in where each round's training starts (the rewinding point).

``rounds`` rounds of: train ``epochs_per_round`` epochs with the current mask fixed (the budget's optimiser, lr,
schedule and batch size, ``budget.replace(epochs=epochs_per_round)``; a fresh optimiser each round); score the
trained network (masked); prune to ``density**(r/rounds)`` among the survivors with
:func:`plantseek.nets.masks.select_top` (a pruned weight is never revived); then start the next round from

* ``rewind="learning-rate"`` (LRR, Renda, Frankle & Carbin 2020): the **current** trained weights (the pruned ones
  at exactly zero, as :func:`plantseek.train.loop.train_masks` returns them), with the learning-rate schedule
  restarted from its beginning;
* ``rewind="iterate"`` (Frankle, Dziugaite, Roy & Carbin 2020): the weights of the **early iterate** reached by
  training the dense network ``rewind_epochs`` epochs from the initial weights (computed once, before round 1).

(Rewinding to the initial weights is :class:`plantseek.prune.schedules.MultiShot`.) Every training goes through
:func:`plantseek.train.loop.train_masks` (looked up at call time), one call per round for all densities.
``prune_batch`` handles several densities at once, each with its own generators; ``prune`` is ``prune_batch``
with one density, and gives the same mask. From each density's generator: one generator for the rewind
iterate's data order, then ``rounds`` for the rounds' data order, then ``rounds`` for the scores.
``history[k]`` holds the mask of every round for the k-th density of the last call; ``starts[k]`` the weights
each round of it started from (kept for tests of the rewinding point).

The pruner contract returns a mask on the host's **initial** weights: the harness then trains that mask from the
initial weights (weak ticket) and evaluates it on them (strong ticket). The weights an LRR or rewinding run
trained are not handed on, so these cells measure the quality of the *mask* those procedures find, not the
accuracy of their own retrained networks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

import torch

from plantseek.core.errors import ConfigError
from plantseek.nets.interface import network_parameters
from plantseek.nets.masks import Mask, select_top
from plantseek.prune.schedules import (BatchPruner, ScorePruner, check_generators, derive_generator, full_mask,
                                      model_dtype)
from plantseek.train import loop as training

REWINDS = ("learning-rate", "iterate")
State = dict[str, torch.Tensor]


def _state(module: torch.nn.Module) -> State:
    return {n: p.detach().clone() for n, p in network_parameters(module).items()}


@dataclass
class Rewinding(BatchPruner):
    """Train, prune by ``scorer`` among the survivors, restart from the rewinding point; ``rounds`` times."""

    scorer: ScorePruner
    rewind: str = "learning-rate"
    rounds: int = 5
    epochs_per_round: int = 2
    rewind_epochs: int = 1
    name: str = ""
    description: str = ""
    protocol: ClassVar[str] = "multi-shot"
    history: list[list[Mask]] = field(default_factory=list, init=False, repr=False, compare=False)
    starts: list[list[State]] = field(default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.rewind not in REWINDS:
            raise ConfigError(f"rewind must be one of {', '.join(REWINDS)}, got {self.rewind!r}")
        for attr, low in (("rounds", 1), ("epochs_per_round", 1), ("rewind_epochs", 0)):
            v = getattr(self, attr)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ConfigError(f"{attr} must be an integer >= {low}, got {v!r}")
        self.name = self.name or f"{self.scorer.name}-{self.rewind}-rewinding"

    def prune_batch(self, model, data, densities: Sequence[float], *, generators: Sequence[torch.Generator],
                    budget) -> list[Mask]:
        ds = check_generators(densities, generators)
        dtype = model_dtype(model)
        initial = _state(model)
        rewind_gens = [derive_generator(g) for g in generators]
        train_gens = [[derive_generator(g) for _ in range(self.rounds)] for g in generators]
        score_gens = [[derive_generator(g) for _ in range(self.rounds)] for g in generators]
        active = [k for k, d in enumerate(ds) if d < 1.0]
        masks: list[Mask] = [full_mask(model) for _ in ds]
        self.history = [[] for _ in ds]
        self.starts = [[] for _ in ds]
        if not active:
            return masks
        starts = {k: initial for k in active}
        if self.rewind == "iterate" and self.rewind_epochs > 0:
            dense = self._train(model.arch, [initial] * len(active), [masks[k] for k in active], data,
                                budget.replace(epochs=self.rewind_epochs), [rewind_gens[k] for k in active], dtype)
            starts = {k: _state(net) for k, net in zip(active, dense)}
        current = dict(starts)
        config = budget.replace(epochs=self.epochs_per_round)
        for r in range(1, self.rounds + 1):
            for k in active:
                self.starts[k].append(current[k])
            trained = self._train(model.arch, [current[k] for k in active], [masks[k] for k in active], data,
                                  config, [train_gens[k][r - 1] for k in active], dtype)
            for k, net in zip(active, trained):
                s = self.scorer.scores(net, data, generator=score_gens[k][r - 1], budget=budget,  # type: ignore[arg-type]
                                       mask=masks[k])  # (train_masks is typed nn.Module; it returns built hosts)
                masks[k] = select_top(s, ds[k] ** (r / self.rounds), scope="global", allowed=masks[k])
                self.history[k].append(masks[k])
                current[k] = _state(net) if self.rewind == "learning-rate" else starts[k]
        return masks

    @staticmethod
    def _train(arch: Any, states: list[State], masks: list[Mask], data: Any, config: Any,
               generators: list[torch.Generator], dtype: torch.dtype) -> list[torch.nn.Module]:
        return training.train_masks(arch, states, masks, data.x, data.y, data.loss, config, generators, dtype=dtype)


__all__ = ["Rewinding", "REWINDS"]
