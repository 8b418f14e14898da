"""Training cost that follows the kept weights: a sparse MLP trained as the small dense MLP of its live units.

A hidden unit is *live* when a path of kept weights leads from it to an output. Every other unit is inert in
training: its value reaches no output, so the loss does not depend on it, and the gradients of its bias and of
every weight into or out of it are exactly zero (products with exactly-zero pruned weights, sums of zeros). With
no weight decay an optimiser step of a zero gradient leaves a parameter exactly where it is (Adam: zero moments,
a zero update; SGD with momentum: a zero buffer). So the masked host trains exactly like the network of its live
units alone, with the inert parameters kept at their starting values (pruned weights at zero).

:func:`compact_plan` decides per network, from its mask alone (never from timings, never from the other networks of
a batch: a cell's numbers must not depend on what it is trained with), whether to train it compacted: each hidden
layer narrowed to its live units, padded with inert zero units to the next width of a ladder (8, 16, 32, ...; the
host's width caps it) so that many networks share one compacted shape and train as one stacked batch; the compacted
network is chosen when its parameters are fewer than :data:`COMPACT_BELOW` of the host's (a density-0.01 mask of the
paper's Circle host keeps a handful of live units per layer; at density 0.1 or 0.5 nearly every unit is live and the
full-size product is used). Every hidden layer of a compacted network gets the same ladder width (that of its widest
layer of live units): fewer distinct shapes, larger stacked batches. Padding units have zero weights in and out and
a zero bias: they stay zero and add exact zeros. The compacted network computes the masked host's function with the
same parameters, so its training equals the host's up to the rounding of sums taken over fewer (zero) terms:
``tests/train/test_compaction.py`` holds float64 to 1e-10 relative against the dense path.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from plantseek.families.mlp.network import Architecture, Mask, bias_name, weight_name
from plantseek.train.config import TrainConfig

State = dict[str, torch.Tensor]

#: Train a network compacted when its compacted (padded) parameters are fewer than this share of the host's
#: (weights and biases). Measured on the Circle host (2 -> 100 x 3 -> 4), 32 networks stacked, batch 32, one
#: thread, network-steps/s: full width 100: 10.9k; compacted to width 64 (43 % of the parameters): 23.6k; 48: 43k;
#: 32: 64k; 16: 109k; 8: 123k (``docs/design/engine.md``). Every compacted width of the ladder below the host's is
#: cheaper, so the cut sits above width 64's share; the host itself (width 100) is never "compacted".
COMPACT_BELOW = 0.5
#: The narrowest compacted hidden layer; wider ones double from here (8, 16, 32, ...), capped at the host's width.
LADDER_MIN = 8


@dataclass(frozen=True)
class CompactPlan:
    """A network's compacted architecture and, per layer of units (input, hidden..., output), the host units it
    keeps (index tensors, ascending; input and output layers: all)."""

    arch: Architecture
    keep: tuple[torch.Tensor, ...]


def live_units(arch: Architecture, mask: Mask) -> list[torch.Tensor]:
    """Per layer of units (input, hidden..., output) a boolean vector: the units with a path of kept weights to an
    output (input and output units: all, they are never removed)."""
    live = [torch.ones(arch.widths[-1], dtype=torch.bool)]
    for l in range(arch.n_layers - 1, 0, -1):
        kept = mask[weight_name(l)].to(torch.bool)  # (out, in) of layer l
        live.append(kept[live[-1]].any(dim=0))
    live.append(torch.ones(arch.widths[0], dtype=torch.bool))
    return live[::-1]


def ladder_width(n: int, full: int) -> int:
    """The compacted width of a hidden layer with ``n`` live units in a host layer of ``full`` units."""
    width = LADDER_MIN
    while width < n:
        width *= 2
    return min(width, full)


def n_parameters(widths: tuple[int, ...]) -> int:
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))


def compact_plan(arch: Architecture, mask: Mask | None, config: TrainConfig) -> CompactPlan | None:
    """The network's compacted plan, or None to train it on the full host: dense networks, weight decay (it
    moves inert parameters), and masks whose compacted network is not clearly smaller (:data:`COMPACT_BELOW`)."""
    if mask is None or config.weight_decay != 0 or arch.n_layers < 2:
        return None
    live = live_units(arch, mask)
    widest = max(int(v.sum()) for v in live[1:-1])  # one compacted width for every hidden layer: fewer shapes
    widths = (arch.widths[0], *(ladder_width(widest, w) for w in arch.widths[1:-1]), arch.widths[-1])
    if n_parameters(widths) >= COMPACT_BELOW * n_parameters(arch.widths):
        return None
    keep = tuple(v.nonzero().squeeze(1) for v in live)
    return CompactPlan(Architecture(widths), keep)


def _narrow(t: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor | None, shape: tuple[int, ...]) -> torch.Tensor:
    out = torch.zeros(shape, dtype=t.dtype)
    if cols is None:
        out[: rows.numel()] = t[rows]
    else:
        out[: rows.numel(), : cols.numel()] = t[rows][:, cols]
    return out


def compact(plan: CompactPlan, state: State, mask: Mask) -> tuple[State, Mask]:
    """The compacted network's starting state and mask (padding units: zero weights, zero bias, pruned)."""
    out_state: State = {}
    out_mask: Mask = {}
    widths = plan.arch.widths
    for l in range(plan.arch.n_layers):
        rows, cols = plan.keep[l + 1], plan.keep[l]
        w, b = weight_name(l), bias_name(l)
        out_state[w] = _narrow(state[w], rows, cols, (widths[l + 1], widths[l]))
        out_state[b] = _narrow(state[b], rows, None, (widths[l + 1],))
        out_mask[w] = _narrow(mask[w].to(torch.bool), rows, cols, (widths[l + 1], widths[l]))
        if b in mask:
            out_mask[b] = _narrow(mask[b].to(torch.bool), rows, None, (widths[l + 1],))
    return out_state, out_mask


def expand(plan: CompactPlan, trained: State, start: State, mask: Mask, dtype: torch.dtype) -> State:
    """The full-size trained state: the start (pruned weights zeroed; inert parameters never move) with the
    compacted network's trained parameters written back into the places of its units."""
    out: State = {}
    for l in range(plan.arch.n_layers):
        rows, cols = plan.keep[l + 1], plan.keep[l]
        w, b = weight_name(l), bias_name(l)
        weight = start[w].to(dtype=dtype, device="cpu", copy=True)
        weight.mul_(mask[w].to(dtype))
        weight[rows.unsqueeze(1), cols.unsqueeze(0)] = trained[w][: rows.numel(), : cols.numel()]
        bias = start[b].to(dtype=dtype, device="cpu", copy=True)
        bias[rows] = trained[b][: rows.numel()]
        out[w], out[b] = weight, bias
    return out


def cost_share(plan: CompactPlan | None, arch: Architecture) -> float:
    """The compacted network's parameters as a share of the host's (1.0 on the full host)."""
    return 1.0 if plan is None else n_parameters(plan.arch.widths) / n_parameters(arch.widths)


