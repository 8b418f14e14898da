"""Shared machinery of the score-based pruners: one override point per algorithm (JaxPruner style).

A score-based pruner is a :class:`ScorePruner` subclass that overrides exactly one method::

    score(model, data, *, generator, budget, mask) -> {weight_name: Tensor}

``mask`` is the current mask (``None`` = dense); the scores must be those of the *masked* network. Higher
scores are kept. When the budget makes the biases prunable (``budget.prunable_biases``, the paper's protocol;
:func:`plantseek.train.config.biases_prunable`), ``score`` returns a score for every bias too
(:func:`prunable_parameters` lists what is prunable), and weights and biases are ranked together by the same
selection (global: one ranking; local: per parameter tensor, as the reference code). Everything else is shared and
combined rather than re-implemented:

* **selection**: always :func:`plantseek.nets.masks.select_top`, global by default (``scope="local"`` keeps
  ``layer_counts`` per layer); ties are broken by position;
* **schedules**:

  - single-shot (:meth:`ScorePruner.prune`): score at initialisation, keep the top ``kept_count(density)``;
  - :class:`Iterative` (data-free, e.g. SynFlow with 100 rounds): round ``k = 1..R`` re-scores the masked
    network at its initial weights and prunes to ``density**(k/R)``; only surviving weights are candidates;
  - :class:`MultiShot` (the lottery-ticket protocol of the paper): 10 rounds of {train 5 epochs from the
    initial weights with the current mask (the budget's optimiser, lr and batch size; a fresh optimiser every
    round); score the *trained* network; prune to ``density**(r/10)`` among the survivors (never revive);
    rewind to exactly the initial weights}. The final training of the weak ticket is the harness's job.

Multi-round schedules select globally (with layer-wise rounding a layer's count could grow from one round to
the next, which would revive weights).

Every random draw comes from the ``generator`` handed to the pruner or from generators derived from it with
:func:`derive_generator`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping, Sequence

import torch

from plantseek.train import loop as training
from plantseek.core.errors import ConfigError, PrunerError, TimeLimitError
from plantseek.nets.masks import Mask, prunable_parameter_shapes, select_top, validate_density
from plantseek.nets.interface import Host as Module  # any module built by a network's ``build``
from plantseek.nets.interface import network_parameters
from plantseek.train.config import biases_prunable

SCOPES = ("global", "local")


# --- small helpers shared by the scores -------------------------------------------------------------------

def derive_generator(generator: torch.Generator) -> torch.Generator:
    """A new CPU generator seeded by one draw from ``generator`` (advances ``generator`` by one draw)."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, dtype=torch.int64))
    child = torch.Generator(device="cpu")
    child.manual_seed(seed)
    return child


def score_batch(data: Any, generator: torch.Generator, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The prune batch of the data-dependent scores: ``size`` training samples drawn without replacement with
    ``generator`` (``torch.randperm(n, generator=generator)[:size]``); all of them when there are fewer."""
    n = data.x.shape[0]
    idx = torch.randperm(n, generator=generator)[: min(size, n)]
    return data.x[idx], data.y[idx]


def model_dtype(model: torch.nn.Module | Module) -> torch.dtype:
    return next(model.parameters()).dtype


def model_device(model: torch.nn.Module | Module) -> torch.device:
    return next(model.parameters()).device


def prepare_batch(model: torch.nn.Module | Module, x: torch.Tensor,
                  y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` (and a regression target ``y``) in the model's dtype, both on the model's device."""
    dtype, device = model_dtype(model), model_device(model)
    x = x.to(device=device, dtype=dtype)
    y = y.to(device=device, dtype=dtype) if y.is_floating_point() else y.to(device)
    return x, y


def prunable_parameters(model: Module, budget: Any = None) -> dict[str, torch.nn.Parameter]:
    """The model's prunable parameters under ``budget``'s pruning scope: the weights (``model.prunable()``), then
    the biases when ``budget.prunable_biases`` (the prunable order of
    :func:`plantseek.nets.masks.prunable_parameter_shapes`)."""
    names = prunable_parameter_shapes(model.arch, biases_prunable(budget))
    params = network_parameters(model)
    return {n: params[n] for n in names}


def leaf_state(model: Module, dtype: torch.dtype | None = None, budget: Any = None) -> dict[str, torch.Tensor]:
    """A detached copy of the model's parameters (optionally in ``dtype``, in the architecture's parameter order)
    whose *prunable parameters* (under ``budget``'s scope: :func:`prunable_parameters`) require grad.

    Scores differentiate through the architecture's ``forward`` (``model.arch.forward(state, x, mask)``) on this
    copy, so the model itself is never touched (no ``.grad`` fields, no in-place changes), whatever its
    ``requires_grad`` flags.
    """
    prunable = prunable_parameter_shapes(model.arch, biases_prunable(budget))
    state = {}
    for name, p in network_parameters(model).items():
        copy = p.detach().to(dtype or p.dtype).clone()
        state[name] = copy.requires_grad_(True) if name in prunable else copy
    return state


def device_mask(mask: Mapping[str, torch.Tensor] | None, device: torch.device) -> Mask | None:
    return None if mask is None else {n: m.to(device) for n, m in mask.items()}


def full_mask(model: Module, budget: Any = None) -> Mask:
    """Every prunable parameter (under ``budget``'s scope) kept."""
    return {n: torch.ones(p.shape, dtype=torch.bool) for n, p in prunable_parameters(model, budget).items()}


def check_scores(scores: object, model: Module, who: str, budget: Any = None) -> dict[str, torch.Tensor]:
    """The scores in the model's prunable order (biases included when ``budget`` makes them prunable), or a
    PrunerError naming what is wrong."""
    if not isinstance(scores, Mapping):
        raise PrunerError(f"{who}: score() must return a dict {{weight_name: Tensor}}, got {type(scores).__name__}")
    out = {}
    for name, p in prunable_parameters(model, budget).items():
        s = scores.get(name)
        if not isinstance(s, torch.Tensor) or tuple(s.shape) != tuple(p.shape):
            scope = " (the budget makes the biases prunable)" if name not in model.prunable() else ""
            raise PrunerError(f"{who}: score() gave no tensor of shape {tuple(p.shape)} for {name}{scope}")
        out[name] = s.detach().cpu()  # selection runs on the CPU (masks live there)
    return out


def check_generators(densities: Sequence[float], generators: Sequence[torch.Generator]) -> list[float]:
    """The validated densities of a ``prune_batch`` call, which needs one generator per density."""
    ds = [validate_density(d) for d in densities]
    if len(generators) != len(ds):
        raise ConfigError(f"prune_batch needs one generator per density ({len(ds)}), got {len(generators)}")
    return ds


# --- the override point and the single-shot schedule ------------------------------------------------------

@dataclass
class ScorePruner:
    """Base of the score-based pruners: override :meth:`score`; ``prune`` is the single-shot schedule."""

    name: str = "score"
    description: str = "score-based pruner (override score())"
    scope: str = "global"  # "global" or "local" (layer-wise density)
    protocol: ClassVar[str] = "single-shot"

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ConfigError(f"unknown selection scope {self.scope!r} (known: {', '.join(SCOPES)})")

    def score(self, model: Module, data: Any, *, generator: torch.Generator, budget: Any,
              mask: Mask | None) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def scores(self, model: Module, data: Any, *, generator: torch.Generator, budget: Any,
               mask: Mask | None) -> dict[str, torch.Tensor]:
        """:meth:`score`, checked (one tensor per prunable parameter under the budget's scope, in order)."""
        raw = self.score(model, data, generator=generator, budget=budget, mask=mask)
        return check_scores(raw, model, self.name, budget)

    def prune(self, model: Module, data: Any, density: float, *, generator: torch.Generator, budget: Any) -> Mask:
        """Single-shot: score the network at its initial weights and keep the top ``kept_count(density)``."""
        d = validate_density(density)
        s = self.scores(model, data, generator=generator, budget=budget, mask=None)
        return select_top(s, d, scope=self.scope)


# --- multi-round schedules --------------------------------------------------------------------------------

def _multi_round_scorer(scorer: ScorePruner, schedule: str) -> None:
    if not isinstance(scorer, ScorePruner):
        raise ConfigError(f"{schedule} needs a ScorePruner, got {type(scorer).__name__}")
    if scorer.scope != "global":
        raise ConfigError(f"{schedule} selects globally; {scorer.name!r} has scope {scorer.scope!r}")


@dataclass
class Iterative:
    """Data-free iterative schedule (SynFlow-style): ``rounds`` rounds on the exponential schedule
    ``density**(k/rounds)``, re-scoring the masked network at its initial weights each round; only surviving
    weights are candidates. ``history`` holds the mask of every round of the last call."""

    scorer: ScorePruner
    rounds: int = 100
    name: str = ""
    description: str = ""
    protocol: ClassVar[str] = "single-shot"
    history: list[Mask] = field(default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _multi_round_scorer(self.scorer, "the iterative schedule")
        if isinstance(self.rounds, bool) or not isinstance(self.rounds, int) or self.rounds < 1:
            raise ConfigError(f"rounds must be an integer >= 1, got {self.rounds!r}")
        self.name = self.name or f"{self.scorer.name}-{self.rounds}"
        self.description = self.description or (
            f"{self.scorer.name} re-scored over {self.rounds} rounds, density**(k/{self.rounds}) in round k")

    def prune(self, model: Module, data: Any, density: float, *, generator: torch.Generator, budget: Any) -> Mask:
        d = validate_density(density)
        self.history = []
        if d == 1.0:
            return full_mask(model, budget)
        mask: Mask | None = None
        for k in range(1, self.rounds + 1):
            s = self.scorer.scores(model, data, generator=generator, budget=budget, mask=mask)
            mask = select_top(s, d ** (k / self.rounds), scope="global", allowed=mask)
            self.history.append(mask)
        assert mask is not None
        return mask


class BatchPruner:
    """Base of the pruners whose ``prune_batch`` handles several densities of one instance at once: ``prune`` is
    ``prune_batch`` with one density (the same masks, by construction)."""

    prune_batch: Callable[..., list[Mask]]  # defined by each subclass

    def prune(self, model: Module, data: Any, density: float, *, generator: torch.Generator, budget: Any) -> Mask:
        return self.prune_batch(model, data, [density], generators=[generator], budget=budget)[0]


@dataclass
class MultiShot(BatchPruner):
    """The paper's multi-shot (lottery-ticket) protocol around a score.

    ``rounds`` rounds (10) of: train ``epochs_per_round`` epochs (5) from the *initial* weights with the current
    mask, with the budget's optimiser, lr and batch size (``budget.replace(epochs=epochs_per_round)``; a fresh
    optimiser each round); score the trained network (masked); prune to ``density**(r/rounds)`` with only the
    survivors as candidates (a pruned weight is never revived); rewind to exactly the initial weights (each
    round trains a fresh copy of them). The 10 final epochs of the weak ticket are done by the harness.

    ``revive=True`` is the reference code's behaviour, kept as a named variant to *measure* what that choice does
    (``*-multishot-revival``; ``docs/reproducing-the-paper.md``): a pruned weight keeps its initial value (it got
    no gradient) and every weight is a candidate in every round, so a pruned weight whose score is high enough
    comes back (Magnitude: its initial |w|; SNIP: |w · ∂L/∂(w ⊙ m)|, nonzero for a pruned weight).

    All networks of a round go through one :func:`plantseek.train.loop.train_masks` call (looked up at call time,
    so a faster engine behind that function is used automatically). :meth:`prune_batch` handles several
    densities of one instance at once; :meth:`prune` is ``prune_batch`` with one density. :meth:`run_rounds` is
    the same schedule as a coroutine that hands each round's training out as a :class:`TrainRequest`, so that
    :func:`prune_jointly` can train the rounds of several multi-shot pruners of one instance as one batch.

    Seeds: from each density's generator, ``rounds`` generators for the data order of each round's training are
    derived first, then ``rounds`` for the scores (e.g. SNIP's prune batch).
    ``history[k]`` holds the mask of every round for the k-th density of the last call.
    """

    scorer: ScorePruner
    rounds: int = 10
    epochs_per_round: int = 5
    name: str = ""
    description: str = ""
    revive: bool = False
    protocol: ClassVar[str] = "multi-shot"
    history: list[list[Mask]] = field(default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _multi_round_scorer(self.scorer, "the multi-shot schedule")
        for attr, low in (("rounds", 1), ("epochs_per_round", 0)):
            v = getattr(self, attr)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ConfigError(f"{attr} must be an integer >= {low}, got {v!r}")
        self.name = self.name or f"{self.scorer.name}-multishot"
        self.description = self.description or (
            f"{self.scorer.name} scores after {self.epochs_per_round} training epochs, {self.rounds} rounds of "
            f"prune-and-rewind (lottery-ticket protocol)")

    def prune_batch(self, model: Module, data: Any, densities: Sequence[float], *,
                    generators: Sequence[torch.Generator], budget: Any) -> list[Mask]:
        (masks,) = prune_jointly([self.run_rounds(model, data, densities, generators=generators, budget=budget)])
        if isinstance(masks, BaseException):
            raise masks
        return masks

    def run_rounds(self, model: Module, data: Any, densities: Sequence[float], *,
                   generators: Sequence[torch.Generator], budget: Any):
        """The schedule of :meth:`prune_batch` as a generator: yields one :class:`TrainRequest` per round, is
        sent the trained networks (one per requested mask, in order), returns the final masks."""
        ds = check_generators(densities, generators)
        dtype = model_dtype(model)
        initial = {k: v.detach().clone() for k, v in network_parameters(model).items()}
        train_gens = [[derive_generator(g) for _ in range(self.rounds)] for g in generators]
        score_gens = [[derive_generator(g) for _ in range(self.rounds)] for g in generators]
        config = budget.replace(epochs=self.epochs_per_round)
        masks: list[Mask] = [full_mask(model, budget) for _ in ds]
        self.history = [[] for _ in ds]
        active = [k for k, d in enumerate(ds) if d < 1.0]  # density 1 keeps everything: nothing to train
        for r in range(1, self.rounds + 1):
            if not active:
                break
            trained = yield TrainRequest(model.arch, initial, [masks[k] for k in active], data, config,
                                         [train_gens[k][r - 1] for k in active], dtype)
            for k, net in zip(active, trained):
                if self.revive:
                    _restore_pruned(net, initial, masks[k])
                s = self.scorer.scores(net, data, generator=score_gens[k][r - 1], budget=budget, mask=masks[k])
                masks[k] = select_top(s, ds[k] ** (r / self.rounds), scope="global",
                                      allowed=None if self.revive else masks[k])
                self.history[k].append(masks[k])
        return masks


def _restore_pruned(net: Module, initial: Mapping[str, torch.Tensor], mask: Mask) -> None:
    """Give the pruned entries of a trained masked network their initial values (the reference code's stored
    weights: a masked weight gets no gradient, so it keeps the value it was rewound to)."""
    params = network_parameters(net)
    with torch.no_grad():
        for name, kept in mask.items():
            p = params[name]
            p[~kept] = initial[name].to(p.dtype)[~kept]


@dataclass
class TrainRequest:
    """Networks a multi-round pruner needs trained: one per mask, from ``initial`` on ``data``'s training
    split, each with its own data-order generator (the arguments of :func:`plantseek.train.loop.train_masks`)."""

    arch: Any
    initial: dict[str, torch.Tensor]
    masks: list[Mask]
    data: Any
    config: Any
    generators: list[torch.Generator]
    dtype: torch.dtype

    def joins(self, other: "TrainRequest") -> bool:
        """Whether both can be trained in one batch (same architecture, start, data, loss, configuration)."""
        if (self.arch, self.config, self.dtype) != (other.arch, other.config, other.dtype):
            return False
        if self.data.loss != other.data.loss or self.data.x.shape != other.data.x.shape:
            return False
        same = [torch.equal(self.data.x, other.data.x), torch.equal(self.data.y, other.data.y)]
        return all(same) and self.initial.keys() == other.initial.keys() and all(
            torch.equal(v, other.initial[k]) for k, v in self.initial.items())


def prune_jointly(schedules: Sequence[Any]) -> list[Any]:
    """Run several :meth:`MultiShot.run_rounds` generators side by side; return, per schedule, its masks or the
    exception it raised (a failing schedule stops alone; the others go on). A time limit expiring
    (:class:`plantseek.core.errors.TimeLimitError`) or a failing training call stops them all and propagates.

    In every round the requests that can share a batch (:meth:`TrainRequest.joins`: in practice, the
    multi-shot pruners of one instance) are trained by one :func:`plantseek.train.loop.train_masks` call. Each
    network is trained exactly as it would be alone (the batched engine is equivalent network by network, and
    every network keeps its own generator), so the masks equal those of separate runs.
    """
    out: list[Any] = [None] * len(schedules)
    waiting: dict[int, TrainRequest] = {}

    def advance(i: int, sent: Any) -> None:
        try:
            waiting[i] = schedules[i].send(sent)
        except StopIteration as stop:
            out[i] = stop.value
        except TimeLimitError:
            raise  # the limit is on the whole joint call: the caller decides
        except Exception as exc:  # noqa: BLE001 - this schedule fails alone
            out[i] = exc

    for i in range(len(schedules)):
        advance(i, None)
    while waiting:
        first, *rest = sorted(waiting)
        lead = waiting.pop(first)
        group = [(first, lead)] + [(j, waiting.pop(j)) for j in rest if lead.joins(waiting[j])]
        masks = [m for _, req in group for m in req.masks]
        gens = [g for _, req in group for g in req.generators]
        trained = training.train_masks(lead.arch, lead.initial, masks, lead.data.x, lead.data.y, lead.data.loss,
                                       lead.config, gens, dtype=lead.dtype)
        start = 0
        for i, req in group:
            advance(i, trained[start: start + len(req.masks)])
            start += len(req.masks)
    return out


__all__ = [
    "ScorePruner", "Iterative", "MultiShot", "TrainRequest", "prune_jointly", "derive_generator", "score_batch",
    "leaf_state", "prunable_parameters", "prepare_batch", "model_dtype", "model_device", "device_mask", "full_mask",
    "check_scores",
]
