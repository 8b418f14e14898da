"""The calibration input matrix of every prunable weight, on any host: what the layer-wise post-training pruners
(:mod:`plantseek.prune.layer_reconstruction`) score and reconstruct with.

A prunable weight of shape ``(out, *rest)`` is read as the matrix ``W = weight.reshape(out, -1)`` (the row layout of
:mod:`plantseek.nets.patterns`); its input matrix ``X`` has one column per column of ``W`` and one row per sample (or
per sample-position), so that the layer computes ``X Wᵀ`` (plus its bias) on the calibration data:

* MLP layers: ``F.linear(x, W)``: the rows of ``x``;
* conv kernels ``(C_out, C_in, kh, kw)``: ``F.conv2d(x, W, stride, padding, dilation)``: the im2col patches of ``x``
  (``F.unfold`` with the call's own stride, padding and dilation), one row per sample and output position, columns
  in ``(C_in, kh, kw)`` order, which is the order of ``W``'s columns;
* the conv head ``(out, C, H, W)`` and the attention host's q/k/v/o projections, MLP weights and read-out: the
  batched products ``torch.bmm(h, Wᵀ)`` / ``torch.baddbmm(b, h, Wᵀ)`` of the stacked forward: the rows of ``h``
  (every position of every sequence for the projections and the block MLP, the last position for the read-out).

How: the hosts' forward passes are functional (parameters are passed to ``F.linear``/``F.conv2d``/``bmm``, there are no
per-layer modules whose forward pre-hooks could fire), so one ``TorchFunctionMode`` watches the actual forward pass
and records the input operand of every one of those calls whose weight operand is a view of a prunable parameter
(same storage: the stacked forward passes ``p.unsqueeze(0)``, flattened or transposed views, never copies). Nothing
of a host's forward is re-implemented here; a host whose prunable weight reaches none of these calls gives a
one-line PrunerError naming the weight.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from plantseek.core.errors import PrunerError

#: the recorded products: the weight operand's position and keyword (the input is the argument before it)
_WEIGHT_ARG = {F.linear: (1, "weight"), F.conv2d: (1, "weight"), torch.bmm: (1, "mat2"),
               torch.baddbmm: (2, "batch2")}


def weight_matrix(weight: torch.Tensor) -> torch.Tensor:
    """A prunable tensor ``(out, *rest)`` as the ``(out, prod(rest))`` matrix its layer multiplies its inputs by."""
    return weight.reshape(weight.shape[0], -1)


def conv_patches(x: torch.Tensor, kernel: tuple[int, ...], stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1) -> torch.Tensor:
    """``(b * positions, C * kh * kw)``: the im2col patches of ``x`` ``(b, C, H, W)`` for a convolution, one row per
    sample and output position (the rows of a sample together), columns in a kernel's ``(C, kh, kw)`` order."""
    cols = F.unfold(x, kernel, dilation=dilation, padding=padding, stride=stride)  # (b, C*kh*kw, positions)
    return cols.transpose(1, 2).reshape(-1, cols.shape[1])


def _arg(args: tuple, kwargs: dict, i: int, name: str, default: Any) -> Any:
    return args[i] if len(args) > i else kwargs.get(name, default)


class _InputRecorder(TorchFunctionMode):
    """Records the input matrix of every product (:data:`_WEIGHT_ARG`) whose weight operand shares the storage of one
    of ``weights``."""

    def __init__(self, weights: Mapping[str, torch.Tensor]) -> None:
        super().__init__()
        self.weights = dict(weights)
        self.names = {w.untyped_storage().data_ptr(): n for n, w in weights.items()}
        self.inputs: dict[str, torch.Tensor] = {}
        self.errors: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        at, keyword = _WEIGHT_ARG.get(func, (0, ""))
        operand = _arg(args, kwargs, at, keyword, None) if keyword else None
        name = self.names.get(operand.untyped_storage().data_ptr()) if isinstance(operand, torch.Tensor) else None
        if name is not None and at <= len(args):
            try:
                self.inputs[name] = self._input(func, args, kwargs, at, name).detach().to(torch.float64)
            except PrunerError as err:
                self.errors.append(str(err))
        return func(*args, **kwargs)

    def _input(self, func, args: tuple, kwargs: dict, at: int, name: str) -> torch.Tensor:
        x = args[at - 1]
        columns = math.prod(self.weights[name].shape[1:])
        if func is F.conv2d:
            if _arg(args, kwargs, 6, "groups", 1) != 1 or isinstance(_arg(args, kwargs, 4, "padding", 0), str):
                raise PrunerError(f"cannot read the patches of {name}: grouped or string-padded convolutions are not "
                                  "supported")
            kernel = tuple(self.weights[name].shape[2:])
            x = conv_patches(x, kernel, _arg(args, kwargs, 3, "stride", 1), _arg(args, kwargs, 4, "padding", 0),
                             _arg(args, kwargs, 5, "dilation", 1))
        if x.shape[-1] != columns:
            raise PrunerError(f"cannot read the inputs of {name}: its product's input has {x.shape[-1]} columns, the "
                              f"weight {columns}")
        return x.reshape(-1, columns)


@torch.no_grad()
def layer_inputs(model: Any, x: torch.Tensor, who: str = "post-training pruner") -> dict[str, torch.Tensor]:
    """``{weight name: (rows, columns) float64}``: the input matrix of every prunable weight (see the module
    docstring) when ``model`` runs on ``x`` (one forward pass with the model's own parameters). A PrunerError (one
    line) names a weight whose input cannot be read on this host."""
    weights = dict(model.prunable())
    recorder = _InputRecorder(weights)
    dtype = next(model.parameters()).dtype
    with recorder:
        model(x.to(dtype))
    if recorder.errors:
        raise PrunerError(f"{who}: {recorder.errors[0]}")
    missing = [n for n in weights if n not in recorder.inputs]
    if missing:
        raise PrunerError(f"{who}: cannot read the layer inputs of {', '.join(missing[:3])} on this host (only "
                          "weights applied through F.linear, F.conv2d, torch.bmm or torch.baddbmm are read)")
    return recorder.inputs
