"""SET, Sparse Evolutionary Training (Mocanu, Mocanu, Stone, Nguyen, Gibescu & Liotta 2018, "Scalable training of
artificial neural networks with adaptive sparse connectivity inspired by network science", Nature
Communications).

Update rule: train sparse from a random Erdős–Rényi mask (for these dense layers ERK's rule, ``d_l ∝ (n_in +
n_out) / (n_in n_out)``, exact total); every ΔT steps, in every layer, drop the fraction ``f(t)`` of active
weights of smallest |w| and grow as many previously inactive weights **at random**; grown weights start at zero
with reset optimiser state (:mod:`plantseek.prune.dynamic`). The final mask is the result.

Hyper-parameters: ζ = 0.3 (SET's drop fraction), annealed by a cosine to 0 at 75 % of training (RigL's schedule,
as asked of both DST methods here: SET itself keeps ζ constant), ΔT = 100 steps (changed: SET updates once per
epoch; with ~280 steps per epoch, 100 steps gives ~20 updates in 10 epochs), the budget's training (Adam 1e-3,
batch 32, 10 epochs). Cost: one sparse training run of the budget per density (10 epochs).
"""

from __future__ import annotations

from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.dynamic import DSTConfig, DynamicSparse


@PRUNERS.register("set")
@declared(tags={"modern"}, rank=30)
def _set() -> DynamicSparse:
    return DynamicSparse(DSTConfig(grow="random", drop_fraction=0.3, update_every=100, end_fraction=0.75),
                         init_rule="erk", name="set",
                         description="sparse evolutionary training: drop smallest |w|, grow at random (ERK start)")
