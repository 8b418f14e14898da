"""Transfer scores (the ``transfer`` task, ``docs/transfer.md``): a mask found on one head's instance scored on the
other head's instance of the same seed, depth and width (they share the planted trunk bit for bit).

:func:`transfer_scores` gives, for a mask and the instance it is transferred to (``B``):

* ``shared_recall``: the share of the trunk's ticket weights (the first ``shared_layers`` weight layers, the same
  in both instances) the mask keeps;
* ``head_recall``: the share of ``B``'s head ticket weights it keeps (the layers after the trunk);
* ``recall_b``: the share of ``B``'s whole ticket;
* ``strong_b``: the mask's strong metric on ``B`` (its readout fitted on ``B``'s training split, scored on ``B``'s test
  split: :func:`plantseek.score.evaluation.strong_metric`).
"""

from __future__ import annotations

from typing import Any

from plantseek.nets.interface import weight_name
from plantseek.nets.masks import Mask
from plantseek.planted.instance import PlantedInstance
from plantseek.score.evaluation import strong_metric


def _recall(mask: Mask, ticket: Mask, layers: range) -> float:
    kept = sum(int((mask[weight_name(l)].bool() & ticket[weight_name(l)]).sum()) for l in layers)
    total = sum(int(ticket[weight_name(l)].sum()) for l in layers)
    return kept / total if total else float("nan")


def transfer_scores(mask: Mask, b: PlantedInstance, shared_layers: int) -> dict[str, Any]:
    """The scores of the module docstring for ``mask`` transferred to instance ``b``."""
    n = b.arch.n_layers
    return {"shared_recall": _recall(mask, b.ticket, range(shared_layers)),
            "head_recall": _recall(mask, b.ticket, range(shared_layers, n)),
            "recall_b": _recall(mask, b.ticket, range(n)),
            "strong_b": strong_metric(b, mask)}
