"""Weight rewinding to an early iterate (Frankle, Dziugaite, Roy & Carbin 2020, "Linear mode connectivity and the
lottery ticket hypothesis", ICML; also Renda et al. 2020's "weight rewinding").

Update rule (``magnitude-rewind-iterate``): train the dense network ``rewind_epochs`` epochs from the initial
weights and keep that iterate ``θ_k``; then repeat ``rounds`` times: train ``epochs_per_round`` epochs from
``θ_k`` with the current mask, prune to ``density**(r/rounds)`` by global magnitude among the survivors, rewind
the weights to ``θ_k`` (a fresh optimiser). Next to ``magnitude-multishot`` (IMP), which rewinds to the initial
weights ``θ_0``. Shared machinery: :class:`plantseek.prune.rewinding.Rewinding` (``rewind="iterate"``).

Hyper-parameters: the budget's optimiser, lr, schedule and batch size (Adam 1e-3, batch 32); **k = 1 epoch**
(about 280 steps, 10 % of one training budget: Frankle et al. rewind to 0.1–7 % of training on their larger
networks), **5 rounds of 2 epochs** (changed from the lottery-ticket protocol's many full trainings, to keep the
cost at 1.1 dense training budgets per density: 1 + 5 × 2 epochs). The optimiser state is not rewound (a fresh
one each round).

The harness receives only the mask and trains it from the host's *initial* weights, not from ``θ_k``: the cell
measures the mask, and the weak ticket differs from the procedure's own retrained network (see
:mod:`plantseek.prune.rewinding`).
"""

from __future__ import annotations

from plantseek.baselines.magnitude import Magnitude
from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.rewinding import Rewinding


@PRUNERS.register("magnitude-rewind-iterate")
@declared(tags={"modern"}, rank=11)
def _rewind_iterate() -> Rewinding:
    return Rewinding(Magnitude(), rewind="iterate", rounds=5, epochs_per_round=2, rewind_epochs=1,
                     name="magnitude-rewind-iterate",
                     description="weight rewinding to the iterate after 1 dense epoch: 5 x {train 2 epochs, "
                                 "magnitude-prune among survivors, rewind to that iterate}")
