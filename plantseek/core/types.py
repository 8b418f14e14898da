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
