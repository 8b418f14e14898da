"""Reconstruction-optimal MLP hosts: the dense host computes the ticket's function, its other weights look random.

A plantseek host normally keeps random weights outside the ticket, so the dense host computes something else than
the ticket, and a post-training pruner that reconstructs the dense network's activations is asked the wrong
question. :func:`make_reconstruction_optimal` rewrites the non-ticket parameters of a planted MLP host (after
:func:`plantseek.families.mlp.planting.plant_target`) so that the dense host equals the masked host (the ticket)
*everywhere*, not only on the data:

* the non-ticket units of each hidden layer are grouped in pairs (a triple where the count is odd); inside a group
  the incoming rows (weights and bias) are parallel, ``row_i = mu_i * row_0`` with ``mu_i > 0`` chosen so that each
  row has the norm of a fresh draw, hence ``h_i = mu_i * h_0`` (ReLU is positively homogeneous); in every *ticket*
  row of the next layer the group's outgoing weights satisfy ``sum_i mu_i * v_i = 0`` (all but the last drawn, the
  last solved), so the group adds nothing to any ticket unit;
* non-ticket weights between ticket units (and from the inputs into ticket units) are zero: any other value would
  change the ticket units' function; in the output layer (every row a ticket row, often few rows) each group's
  entries in a row are zero with the ticket columns' share of zeros, so a unit's outgoing norm does not mark it;
* a ticket unit whose bias the ticket prunes (route (b) of the planting) gets a zero host bias, and the same
  share of the layer's non-ticket groups does too (so a zero bias marks no ticket unit; a layer whose ticket units
  all take route (b), e.g. Circle's and ReLU's first, becomes bias-free);
* every other non-ticket weight and bias is a fresh draw of the host's initialisation times ``alpha`` (the
  difficulty knob: ``alpha = 1`` draws them exactly like the initialisation, which the host-matched ticket weights
  also follow, so magnitude does not tell them apart; small ``alpha`` makes the ticket the largest weights; at most
  1, ``MAX_ALPHA``).

The non-ticket units still compute (random features of the data), so at the ticket's per-row count the ticket is the
zero-error optimum of each ticket row's layer-wise reconstruction ``min ||X w - X w_dense||`` (``X`` = the dense
host's activations of the layer's input), and it is the unique one wherever no other support of that size
reproduces the row (generic: a paired column is parallel to its partner, never to a ticket unit).
``docs/reconstruction-hosts.md`` states the caveats (the zero entries, the parallel rows).
"""

from __future__ import annotations

import math

import torch

from plantseek.core.errors import ConfigError
from plantseek.families.mlp.network import Architecture, bias_name, weight_name
from plantseek.planted.matching import PlantedHost

#: the relative precision at which the dense host must equal the masked host (float64; checked at planting)
DENSE_EQUALS_TICKET_TOL = 1e-9
#: largest difficulty knob accepted: the initialisation's own spread, the hardest for magnitude (above it the
#: cancelling groups' rounding, relative to the tiny planted output scales, grows past DENSE_EQUALS_TICKET_TOL:
#: 6e-9 measured at alpha = 2, and magnitude becomes anti-informative, another easy case)
MAX_ALPHA = 1.0


def check_alpha(alpha: object) -> None:
    ok = not isinstance(alpha, bool) and isinstance(alpha, (int, float)) and math.isfinite(alpha)
    if not ok or not 0 < alpha <= MAX_ALPHA:  # type: ignore[operator]
        raise ConfigError(f"alpha must be a number > 0 and <= {MAX_ALPHA:g} (the non-ticket weights' spread "
                          f"relative to the host initialisation), got {alpha!r}")


def unit_groups(units: torch.Tensor) -> list[list[int]]:
    """The non-ticket units ``units`` (in the order given) in groups of two, the last of three where the count is odd;
    a single unit is its own group (it cannot cancel: its outgoing weights into ticket units are zero)."""
    idx = units.tolist()
    if len(idx) < 2:
        return [idx] if idx else []
    groups = [idx[i: i + 2] for i in range(0, len(idx) - len(idx) % 2, 2)]
    if len(idx) % 2:
        groups[-1].append(idx[-1])
    return groups


def make_reconstruction_optimal(planted: PlantedHost, arch: Architecture, generator: torch.Generator,
                                alpha: float = 1.0) -> PlantedHost:
    """A copy of ``planted`` whose dense host computes the ticket's function (see the module docstring); randomness
    from ``generator``. The ticket, scales, placement and target are unchanged."""
    check_alpha(alpha)
    state = {k: v.clone() for k, v in planted.state.items()}
    last = arch.n_layers - 1
    bias_std = 1.0
    groups: list[list[int]] = []  # non-ticket units of the layer feeding the current one
    mus: dict[int, float] = {}  # their factors mu (row_i = mu_i * row_0 of the group)
    for l in range(arch.n_layers):
        n_out, n_in = arch.widths[l + 1], arch.widths[l]
        std = math.sqrt(2.0 / n_in)
        bias_std *= std
        W, b = state[weight_name(l)], state[bias_name(l)]
        M, Mb = planted.ticket[weight_name(l)], planted.ticket[bias_name(l)]
        out_ticket = torch.ones(n_out, dtype=torch.bool)
        if l < last:
            out_ticket = torch.zeros(n_out, dtype=torch.bool)
            out_ticket[planted.placement[l]] = True
        in_ticket = torch.ones(n_in, dtype=torch.bool)
        if l > 0:
            in_ticket = torch.zeros(n_in, dtype=torch.bool)
            in_ticket[planted.placement[l - 1]] = True
        fresh = torch.randn(n_out, n_in, generator=generator, dtype=torch.float64) * (alpha * std)
        fresh_b = torch.randn(n_out, generator=generator, dtype=torch.float64) * (alpha * bias_std)
        W.copy_(torch.where(M, W, fresh))
        W[out_ticket[:, None] & in_ticket[None, :] & ~M] = 0.0
        b.copy_(torch.where(out_ticket, torch.where(Mb, b, torch.zeros_like(b)), fresh_b))
        rows = torch.nonzero(out_ticket).flatten()
        if l == last:  # every row a ticket row: the groups' columns get the ticket columns' share of zeros
            sub = W[rows][:, in_ticket]
            share = float((sub == 0).double().mean()) if sub.numel() else 0.0
            zero = torch.rand(len(rows), len(groups), generator=generator, dtype=torch.float64) < share
        for g, group in enumerate(groups):  # the incoming group cancels in every ticket row: sum_i mu_i v_i = 0
            if len(group) == 1:
                W[rows, group[0]] = 0.0
                continue
            head = sum(mus[a] * W[rows, a] for a in group[:-1])
            W[rows, group[-1]] = -head / mus[group[-1]]
            if l == last:
                W[rows[zero[:, g]][:, None], torch.tensor(group)[None, :]] = 0.0
        if l == last:
            break
        free = torch.nonzero(~out_ticket).flatten()
        free = free[torch.randperm(len(free), generator=generator)]
        groups, mus = unit_groups(free), {}
        zero_bias_groups(groups, b, out_ticket & ~Mb, out_ticket, generator)
        for group in groups:  # parallel incoming rows (and biases) inside each group
            lead = torch.cat([W[group[0]], b[group[0]: group[0] + 1]])
            mus[group[0]] = 1.0
            for a in group[1:]:
                mu = float(torch.cat([W[a], b[a: a + 1]]).norm() / lead.norm())
                mus[a] = mu
                W[a], b[a] = mu * W[group[0]], mu * b[group[0]]
    out = PlantedHost(state, planted.ticket, planted.scales, planted.placement, planted.neuron_scales, planted.target)
    check_dense_equals_ticket(out, arch)
    return out


def zero_bias_groups(groups: list[list[int]], b: torch.Tensor, zeroed: torch.Tensor, ticket_units: torch.Tensor,
                     generator: torch.Generator) -> None:
    """Zero the biases of a random share of the groups (in place), the share of the layer's ticket units whose bias
    is zero (``zeroed``: route (b) units, pruned by the ticket, zero in this host), so that a zero bias does not mark
    a ticket unit (where every ticket unit of the layer has one, the whole layer is bias-free)."""
    n_ticket = int(ticket_units.sum())
    if not groups or n_ticket == 0 or not bool(zeroed.any()):
        return
    share = int(zeroed.sum()) / n_ticket
    units = sum(len(g) for g in groups)
    order = torch.randperm(len(groups), generator=generator).tolist()
    done = 0
    for i in order:
        if done >= round(share * units):
            break
        b[groups[i]] = 0.0
        done += len(groups[i])


def dense_ticket_deviation(state: dict[str, torch.Tensor], ticket: dict[str, torch.Tensor], arch: Architecture,
                           x: torch.Tensor) -> float:
    """The largest deviation between the dense host ``state`` and the host masked by ``ticket`` on the inputs ``x``
    (float64), relative to the largest output magnitude (at least the smallest normal float)."""
    dense = arch.forward(state, x.to(torch.float64))
    masked = arch.forward(state, x.to(torch.float64), ticket)
    size = max(float(masked.abs().max()), float(dense.abs().max()), torch.finfo(torch.float64).tiny)
    return float((dense - masked).abs().max()) / size


def check_dense_equals_ticket(planted: PlantedHost, arch: Architecture, n: int = 4096) -> float:
    """Raises RuntimeError where the dense host differs from the ticket by more than ``DENSE_EQUALS_TICKET_TOL`` on
    ``n`` fixed uniform points of ``[-1, 1]^d`` (the construction makes them equal everywhere)."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, arch.widths[0], generator=g, dtype=torch.float64) * 2.0 - 1.0
    deviation = dense_ticket_deviation(planted.state, planted.ticket, arch, x)
    if deviation > DENSE_EQUALS_TICKET_TOL:
        raise RuntimeError(f"the reconstruction-optimal host differs from its ticket (relative deviation "
                           f"{deviation:.2g})")
    return deviation
