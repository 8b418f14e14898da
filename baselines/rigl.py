"""RigL, the Rigged Lottery (Evci, Gale, Menick, Castro & Elsen 2020, "Rigging the lottery: making all tickets
winners", ICML).

Update rule: train sparse from a random ERK mask (exact total); every ΔT steps, in every layer, drop the fraction
``f(t) = α/2 (1 + cos(π t / T_end))`` of active weights of smallest |w| and grow as many previously inactive
weights of **largest |dense gradient|** on the current batch; grown weights start at zero with reset optimiser
state (:mod:`plantseek.prune.dynamic`). The final mask is the result.

Hyper-parameters (RigL's): α = 0.3, T_end = 75 % of training, ΔT = 100 steps, ERK initial mask; training is the
budget's (Adam 1e-3, batch 32, 10 epochs; RigL used SGD with momentum on image tasks). Changed: none but the
optimiser. Cost: one sparse training run of the budget per density (10 epochs) plus one dense gradient per update.
"""

from __future__ import annotations

from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.dynamic import DSTConfig, DynamicSparse


@PRUNERS.register("rigl")
@declared(tags={"modern"}, rank=31)
def _rigl() -> DynamicSparse:
    return DynamicSparse(DSTConfig(grow="gradient", drop_fraction=0.3, update_every=100, end_fraction=0.75),
                         init_rule="erk", name="rigl",
                         description="rigged lottery: drop smallest |w|, grow largest |gradient| (ERK start)")
