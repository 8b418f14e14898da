"""Learning-rate rewinding (LRR; Renda, Frankle & Carbin 2020, "Comparing rewinding and fine-tuning in neural
network pruning", ICLR).

Update rule (``lrr``): repeat ``rounds`` times: train ``epochs_per_round`` epochs with the current mask; prune to
``density**(r/rounds)`` by global magnitude |w| among the survivors (never reviving a weight); keep the *trained*
weights and retrain from them with the original learning-rate schedule restarted (no weight rewinding). The
shared machinery is :class:`plantseek.prune.rewinding.Rewinding` (``rewind="learning-rate"``) around the
:class:`plantseek.baselines.magnitude.Magnitude` score.

Hyper-parameters: the budget's optimiser, learning rate, schedule and batch size (Adam, lr 1e-3, constant, batch
32 in every suite here); **5 rounds of 2 epochs** (changed: Renda et al. retrain for the full original schedule
in each of many rounds of 20 % pruning; here the whole procedure costs one dense training budget, 10 epochs, so
that the default suite stays small; the density schedule ``density**(r/R)`` is the one of the multi-shot IMP
baseline). With a constant learning rate, rewinding the schedule and fine-tuning coincide; what sets LRR apart
from ``magnitude-multishot`` (IMP) here is that it continues from the current weights instead of rewinding them.
Cost: 10 epochs of masked training per density (IMP: 50).

The harness receives only the mask: it trains it from the host's *initial* weights (see
:mod:`plantseek.prune.rewinding`).
"""

from __future__ import annotations

from plantseek.baselines.magnitude import Magnitude
from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.rewinding import Rewinding


@PRUNERS.register("lrr")
@declared(tags={"modern"}, rank=10)
def _lrr() -> Rewinding:
    return Rewinding(Magnitude(), rewind="learning-rate", rounds=5, epochs_per_round=2, name="lrr",
                     description="learning-rate rewinding: 5 x {train 2 epochs, magnitude-prune among survivors, "
                                 "retrain from the current weights with the schedule restarted}")
