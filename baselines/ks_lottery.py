"""KS-Lottery (Yuan, Shi, Liu, Xu, Huang & Yang 2024, "KS-Lottery: Finding Certified Lottery Tickets for
Multilingual Language Models"): the parameters whose distribution shifts most during fine-tuning, by a
Kolmogorov–Smirnov test.

Rule (``ks-lottery``): fine-tune (train) the *dense* host with the budget (its optimiser, lr, batch size and
``budget.epochs`` epochs, through :func:`plantseek.train.loop.train_masks`); for every **row** of every prunable
tensor compute the two-sample KS statistic ``D = sup_x |F_before(x) - F_after(x)|`` between the row's entries at
initialisation and after fine-tuning (:func:`ks_rows`, equal to ``scipy.stats.ks_2samp(before, after).statistic``);
rank the rows by ``D`` (largest first) and keep their entries row by row; the last row that does not fit whole is
filled by the largest change ``|w_after - w_before|``. Ties: position (tensor order, then row-major). The mask keeps
exactly ``kept_count(density)`` entries (:func:`plantseek.nets.masks.select_top` on the ranks).

Adaptation for small networks: KS-Lottery tests each token-embedding row of a multilingual LLM (thousands of
entries per row) and fine-tunes those rows only; its "certified" part bounds, by randomized smoothing, how few
rows suffice. Here a row is a **unit's incoming weights** (the MLP's ``W[i, :]``; a conv output channel's kernel
entries; a row of an attention projection); the first MLP layer's rows hold only ``in_features`` (1 or 2) entries,
so their ``D`` takes the values 0, 1/2, 1 (coarse but well defined); with prunable biases each bias vector is one
row of its own. The certification step is not reproduced (the density fixes the kept count). The fine-tuned
weights are not handed on: the harness trains the mask from the host's initial weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Sequence

import torch

from plantseek.nets.interface import network_parameters
from plantseek.nets.masks import Mask, select_top
from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import (BatchPruner, check_generators, derive_generator, full_mask, model_dtype,
                                       prunable_parameters)
from plantseek.train import loop as training


def rows_of(t: torch.Tensor) -> torch.Tensor:
    """The rows KS-Lottery tests: ``(shape[0], -1)`` for a tensor of two or more axes, one row for a vector."""
    return t.reshape(t.shape[0], -1) if t.dim() >= 2 else t.reshape(1, -1)


def ks_rows(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """Two-sample KS statistic of every row of ``before`` against the same row of ``after`` (``(r, n)`` each):
    the largest gap between the two empirical distribution functions, evaluated at every distinct value (ties
    between and within the samples handled: the gap is read only after the last copy of a value)."""
    r, n = before.shape
    values = torch.cat([before, after], dim=1).double()
    steps = torch.cat([torch.full((r, n), 1.0 / n, dtype=torch.float64),
                       torch.full((r, n), -1.0 / n, dtype=torch.float64)], dim=1)
    order = torch.sort(values, dim=1, stable=True).indices
    v, gap = values.gather(1, order), steps.gather(1, order).cumsum(dim=1)
    last = torch.ones_like(v, dtype=torch.bool)
    last[:, :-1] = v[:, 1:] != v[:, :-1]  # the end of a run of equal values
    return torch.where(last, gap.abs(), torch.zeros_like(gap)).amax(dim=1)


def ks_ranks(before: dict[str, torch.Tensor], after: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Scores whose top-k are KS-Lottery's kept entries: rows by KS statistic (largest first), within a row by
    ``|after - before|``; ties by position. Returned as ``N - position`` in that order (distinct, float64)."""
    names = list(before)
    stat, change = [], []
    for name in names:
        b, a = rows_of(before[name].detach().cpu()), rows_of(after[name].detach().cpu())
        d = ks_rows(b, a)
        stat.append(d[:, None].expand_as(b).reshape(-1))
        change.append((a.double() - b.double()).abs().reshape(-1))
    s, c = torch.cat(stat), torch.cat(change)
    order = torch.arange(s.numel())
    order = order[torch.sort(c[order], descending=True, stable=True).indices]  # secondary key first (stable sorts)
    order = order[torch.sort(s[order], descending=True, stable=True).indices]
    score = torch.empty(s.numel(), dtype=torch.float64)
    score[order] = torch.arange(s.numel(), 0, -1, dtype=torch.float64)
    out, start = {}, 0
    for name in names:
        size = before[name].numel()
        out[name] = score[start: start + size].reshape(before[name].shape)
        start += size
    return out


@dataclass
class KSLottery(BatchPruner):
    name: str = "ks-lottery"
    description: str = ("dense fine-tuning with the budget; keep the units' rows whose weight distribution shifted "
                        "most (two-sample KS statistic before/after), the last row by |change|")
    protocol: ClassVar[str] = "single-shot"

    def prune_batch(self, model, data, densities: Sequence[float], *, generators: Sequence[torch.Generator],
                    budget) -> list[Mask]:
        ds = check_generators(densities, generators)
        orders = [derive_generator(g) for g in generators]
        active = [k for k, d in enumerate(ds) if d < 1.0]
        masks: list[Mask] = [full_mask(model, budget) for _ in ds]
        if not active:
            return masks
        initial = {n: p.detach().clone() for n, p in network_parameters(model).items()}
        dense = full_mask(model)
        trained = training.train_masks(model.arch, initial, [dense] * len(active), data.x, data.y, data.loss,
                                       budget.replace(prunable_biases=False), [orders[k] for k in active],
                                       dtype=model_dtype(model))
        before = {n: p.detach() for n, p in prunable_parameters(model, budget).items()}
        for k, net in zip(active, trained):
            after = {n: p.detach() for n, p in prunable_parameters(net, budget).items()}
            masks[k] = select_top(ks_ranks(before, after), ds[k])
        return masks


PRUNERS.register("ks-lottery")(declared(KSLottery, tags={"ticket-literature"}, rank=21))
