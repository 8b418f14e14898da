"""Routing ("Routing the Lottery: Adaptive Subnetworks for Heterogeneous Data"): data from ``clusters`` clusters, each
served by its own planted subnetwork (a *route*); the ticket is the union of the disjoint routes. Per-route recall:
:mod:`plantseek.score.routes`. Construction and measurements: ``docs/routing.md``.

**Data** (regression, MSE): cluster ``c`` drawn with probability proportional to ``imbalance ** c`` (1: balanced); the
input is ``(onehot(c), u)`` with ``u`` uniform on ``[-1, 1]^features`` (``clusters + features`` inputs); the label is
``f_c(u)`` plus Gaussian noise of standard deviation ``noise``. ``f_c`` is a small ReLU network of the cluster's own:
``units`` hidden units per hidden layer, weights drawn once from a fixed generator of the options (the same for every
seed), ``f_c(u) = v_c . h_c``.

**Ticket** (exact): route ``c``'s hidden unit ``j`` is *gated* by its cluster's id through its bias,
``relu(a . u + b + G (id_c - 1))`` with ``G`` = ``GATE_MARGIN`` (1.05) times the bound ``|a|_1 + |b|`` of ``a . u + b``
on the domain: on cluster ``c`` it is ``relu(a . u + b)``, the cluster's own unit; on any other cluster its
pre-activation is ``< 0``, so the route is silent (any margin above 1 is exact). At ``depth >= 4`` each route carries a
gate unit ``g_c = relu(id_c)`` (held with weight 1 while more gated layers follow), and each further hidden layer holds
the route's units gated again, ``relu(h_j + G (g_c - 1))``. The output sums every route's ``v_c . h_c``.

Ticket weights per route: ``units (features + 1)`` in the first layer, ``2 units`` per further hidden layer, one gate
weight per hidden layer but the last, ``units`` read-out weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from plantseek.core.errors import ConfigError
from plantseek.planted.targets import TargetNetwork
from plantseek.planted.task import TASKS, Split, Task, TaskOptions, check_positive_int

MAX_CLUSTERS = 64
#: the gate's margin: G = GATE_MARGIN * (bound of the unit's pre-activation on its cluster)
GATE_MARGIN = 1.05


@dataclass(frozen=True)
class RoutingOptions(TaskOptions):
    clusters: int = 4
    features: int = 4
    units: int = 4
    imbalance: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("clusters", "features", "units"):
            check_positive_int(name, getattr(self, name))
        if not 2 <= self.clusters <= MAX_CLUSTERS:
            raise ConfigError(f"clusters must be an integer from 2 to {MAX_CLUSTERS}, got {self.clusters!r}")
        r = self.imbalance
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 < r <= 1:
            raise ConfigError(f"imbalance must be in (0, 1] (cluster c drawn with weight imbalance**c), got {r!r}")


@dataclass(frozen=True)
class Route:
    """One cluster's function ``f_c(u) = v . relu(A u + b)`` (float64)."""

    a: np.ndarray  # (units, features)
    b: np.ndarray  # (units,)
    v: np.ndarray  # (units,)

    def __call__(self, u: np.ndarray) -> np.ndarray:
        return np.maximum(u @ self.a.T + self.b, 0.0) @ self.v

    def gates(self) -> np.ndarray:
        """``G`` per unit: GATE_MARGIN times the bound ``|a_j|_1 + |b_j|`` of its pre-activation on ``[-1, 1]^d``."""
        return GATE_MARGIN * (np.abs(self.a).sum(axis=1) + np.abs(self.b))


def routes(o: RoutingOptions) -> list[Route]:
    """Every cluster's function, from a generator fixed by the options (the same for every seed and depth)."""
    rng = np.random.default_rng([o.clusters, o.features, o.units, 28])
    return [Route(rng.normal(0.0, np.sqrt(2.0 / o.features), size=(o.units, o.features)),
                  rng.uniform(-0.5, 0.5, size=o.units), rng.normal(0.0, 1.0, size=o.units))
            for _ in range(o.clusters)]


@TASKS.register("routing")
class RoutingTask(Task):
    name = "routing"
    in_features = 8  # clusters + features (an instance's own value is set from its options)
    out_features = 1
    kind = "regression"
    Options = RoutingOptions

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.in_features = self.options.clusters + self.options.features

    def sample(self, n: int, generator: torch.Generator) -> Split:
        o = self.options
        p = torch.tensor([o.imbalance ** c for c in range(o.clusters)], dtype=torch.float64)
        c = torch.multinomial(p / p.sum(), n, replacement=True, generator=generator)
        u = torch.rand(n, o.features, generator=generator, dtype=torch.float64) * 2.0 - 1.0
        x = torch.cat([torch.nn.functional.one_hot(c, o.clusters).double(), u], dim=1)
        return Split(x, self.add_noise(self.clean_labels(x), generator))

    def add_noise(self, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return y + self.options.noise * torch.randn(y.shape, generator=generator, dtype=y.dtype)

    def clean_labels(self, x: torch.Tensor) -> torch.Tensor:
        o = self.options
        cluster, u = x[:, :o.clusters].argmax(dim=1).numpy(), x[:, o.clusters:].numpy()
        y = np.zeros(len(u))
        for c, net in enumerate(routes(o)):
            y[cluster == c] = net(u[cluster == c])
        return torch.from_numpy(y)[:, None]

    def target(self, depth: int) -> TargetNetwork:
        return self._target_and_routes(depth)[0]

    def weight_routes(self, depth: int) -> list[np.ndarray]:
        """Per target layer, the route (cluster) of each weight (-1 where the target has none)."""
        return self._target_and_routes(depth)[1]

    def _target_and_routes(self, depth: int) -> tuple[TargetNetwork, list[np.ndarray]]:
        self.check_depth(depth)
        o = self.options
        C, m, J, hidden = o.clusters, o.features, o.units, depth - 2
        nets = routes(o)
        gate = hidden > 1  # a gate unit g_c per route while further gated layers follow
        width = C * (J + gate)  # per route: J units, then its gate unit (if any)
        unit = lambda c, j: c * (J + gate) + j  # noqa: E731
        weights, biases, owner, flags = [], [], [], []
        w, b, r = np.zeros((width, C + m)), np.zeros(width), np.full((width, C + m), -1)
        for c, net in enumerate(nets):
            rows = [unit(c, j) for j in range(J)]
            w[rows, C:], w[rows, c], b[rows] = net.a, net.gates(), net.b - net.gates()
            if gate:
                w[unit(c, J), c] = 1.0  # g_c = relu(id_c)
        r[w != 0] = np.repeat(np.arange(C), J + gate)[:, None].repeat(C + m, 1)[w != 0]
        weights.append(w), biases.append(b), owner.append(r), flags.append(np.zeros(width, dtype=bool))
        for layer in range(1, hidden):
            gate_next = layer < hidden - 1
            out_width = C * (J + gate_next)
            w, b, r = np.zeros((out_width, width)), np.zeros(out_width), np.full((out_width, width), -1)
            active = np.zeros(out_width, dtype=bool)
            for c, net in enumerate(nets):
                for j in range(J):  # relu(h_j + G (g_c - 1)): h_j on the cluster, 0 elsewhere
                    row = c * (J + gate_next) + j
                    w[row, unit(c, j)], w[row, unit(c, J)], b[row] = 1.0, net.gates()[j], -net.gates()[j]
                if gate_next:
                    row = c * (J + gate_next) + J
                    w[row, unit(c, J)], active[row] = 1.0, True  # hold g_c >= 0
                r[c * (J + gate_next):(c + 1) * (J + gate_next)][w[c * (J + gate_next):(c + 1) * (J + gate_next)]
                                                                  != 0] = c
            weights.append(w), biases.append(b), owner.append(r), flags.append(active)
            gate, width = gate_next, out_width
            unit = lambda c, j, g=gate: c * (J + g) + j  # noqa: E731
        w, r = np.zeros((1, width)), np.full((1, width), -1)
        for c, net in enumerate(nets):
            w[0, [unit(c, j) for j in range(J)]] = net.v
            r[0, [unit(c, j) for j in range(J)]] = c
        weights.append(w), biases.append(np.zeros(1)), owner.append(r), flags.append(np.zeros(1, dtype=bool))
        target = TargetNetwork(weights, biases, always_active=flags,
                               description=f"routing ticket, depth {depth}: {C} gated routes of {J} units")
        return target, owner
