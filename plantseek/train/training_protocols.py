"""Training protocols of weak tickets: where the training of a masked network starts. A named choice, part of
every cell's identity (``CellConfig.training_protocol``) and shown on the leaderboard.

* ``paper``: the masked network exactly as planted, at the host's initial weights (pruned weights zero), trained
  with plain Adam (the training configuration's learning rate, epochs and batch size). This is the paper's
  protocol, and the default of the ``paper-*`` suites.
* ``calibrated``: the same network after a function-preserving start (:func:`plantseek.train.calibration.weak_start`:
  per-output factors fitted on the training split folded into the last layer, then hidden units balanced). The
  planted factors (1e-3..1e-11) make Adam's additive steps wreck any mask that keeps the ticket's paths; this start
  removes that artefact of planting (measured: the exact Circle ticket trained from the paper's start falls from
  0.99 to about 0.92 accuracy, from this start it stays within 0.02). A real improvement, but not the paper's
  protocol: the default of the ``default`` suite.

Both treat every mask alike and use the training split only.
"""

from __future__ import annotations

from typing import Callable

import torch

from plantseek.core.registry import Registry
from plantseek.core.types import Mask
from plantseek.nets.interface import Network
from plantseek.train.calibration import weak_start

#: ``start(state, mask, x, y, kind, arch) -> float64 state`` by protocol name
Start = Callable[[dict[str, torch.Tensor], Mask, torch.Tensor, torch.Tensor, str, Network], dict[str, torch.Tensor]]
TRAINING_PROTOCOLS: Registry[Start] = Registry("training protocol")


@TRAINING_PROTOCOLS.register("paper")
def paper_start(state, mask, x, y, kind, arch) -> dict[str, torch.Tensor]:
    """The host's initial weights as they are (the trainer applies the mask)."""
    return {name: value.double().clone() for name, value in state.items()}


TRAINING_PROTOCOLS.register("calibrated", weak_start)
