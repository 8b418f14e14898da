"""Type names shared by every stage. Importing this module needs no torch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    import torch

#: A mask: ``{parameter_name: torch.BoolTensor}`` with one entry per prunable weight (True = kept), optionally
#: entries for maskable biases. The shape of ``torch.nn.utils.prune`` masks, keyed by parameter name.
Mask = dict[str, "torch.Tensor"]

#: Parameter shapes by name, in the network's parameter order.
Shapes = Mapping[str, tuple[int, ...]]

#: The pruner tag of variants that exist to measure a documented difference from the paper's reference code
#: (e.g. ``magnitude-multishot-revival``): they join no grid but the reproduction's (kept out of the every-pruner
#: suites by ``plantseek.run.suite_types.NOT_EVERY_HOST``).
REPRO_VARIANT_TAG = "repro-variant"
