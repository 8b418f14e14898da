"""Grokking tasks ("Grokking Tickets: Lottery Tickets Accelerate Grokking", Minegishi et al.): algorithmic tasks with a
known sparse ReLU solution, scored also by the *time to generalise* (:mod:`plantseek.train.curve`): the first training
step at which the test accuracy of the weakly trained masked network reaches ``threshold``, evaluated every
``eval_every`` steps. Construction and measurements: ``docs/grokking-tickets.md``.

**sparse-parity** (2 classes): ``x`` uniform on ``{-1, +1}^n_bits``; the class is the parity of the number of ``-1``
among ``k`` relevant bits (:func:`relevant_bits`, fixed by ``(n_bits, k)``), flipped with probability ``noise``. With
``b_i = (1 - x_i) / 2`` and ``m = sum_{i in S} b_i`` (0..k) the parity is the triangle wave
``f(m) = sum_{j<k} c_j relu(m - j)``, ``c_0 = 1``, ``c_j = 2 (-1)^j`` (exact at integers). Ticket by depth ``L``:

* L = 3: ``n -> k -> 2``: hinge ``j`` = ``relu(k - 2j - sum_S x_i) = 2 relu(m - j)`` (weights -1, bias ``k - 2j``);
  logits ``(1/2 - f, f - 1/2)``;
* L >= 4: ``n -> k -> k -> ... -> 2``: first the *bit* units ``u_i = relu(1 - x_i) = 2 b_i`` (one weight each, bias 1,
  always active), then hinges ``relu(sum u - 2j) = 2 relu(m - j)`` (they read units of different planted factors, so
  their equal target weights become different host weights: no float32 repeat; at L = 3 the k weights of a hinge all
  read network inputs and do repeat, a leak the equal-magnitude detector finds); at L >= 5 a unit ``g = f(m) >= 0``
  and ``L - 5`` holding units (weight 1) before the logits.

Ticket weights: ``k^2 + 2k`` (L = 3), ``k + k^2 + 2k`` (L = 4), ``2k + k^2 + (L - 5) + 2`` (L >= 5).

**mod-add** (``p`` classes): the one-hot pair ``(a, b)`` (``2p`` inputs), class ``(a + b) mod p``. The data is the whole
table of ``p^2`` pairs, permuted by the instance's seed and split ``train_fraction`` / rest (test; validation = test):
``n_samples`` is not used. Ticket (a *lookup* circuit, exact): one hidden unit per pair,
``relu(alpha x_a + beta x_{p+b} - 3/2)`` with ``alpha, beta = 1 +- e_ab`` (``e_ab`` distinct in ``[-0.2, 0.2]``, so no
two planted weights repeat) is ``1/2`` on its pair and 0 on every other input; output ``c`` sums (weight 2) the units of
the pairs with ``a + b = c mod p``; ``L - 3`` holding layers of ``p`` units (weight 1) before it. Ticket weights:
``3 p^2 + p (L - 3)``; the host needs width ``>= p^2``. A Fourier circuit (the one trained transformers find) needs
products, which a ReLU network computes only approximately: the lookup is the exact sparse solution planted here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from plantseek.core.errors import ConfigError
from plantseek.planted.targets import TargetNetwork
from plantseek.planted.task import TASKS, DataConfig, DataSplits, Split, Task, TaskOptions, check_positive_int

MAX_BITS = 4096
MAX_MODULUS = 64


@dataclass(frozen=True)
class GeneraliseOptions(TaskOptions):
    """Options of the grokking tasks: label noise as a flip probability (default 0), and the time-to-generalise
    metric's ``threshold`` (test accuracy) and ``eval_every`` (training steps between evaluations)."""

    max_noise = 1.0
    noise_meaning = "the probability that a label is replaced by another class"
    noise: float = 0.0
    threshold: float = 0.95
    eval_every: int = 20

    def __post_init__(self) -> None:
        super().__post_init__()
        t = self.threshold
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t <= 1:
            raise ConfigError(f"threshold must be a test accuracy in (0, 1], got {t!r}")
        check_positive_int("eval_every", self.eval_every)


class GeneraliseTask(Task):
    """A classification task whose cells also record the time to generalise (:meth:`generalisation`)."""

    kind = "classification"
    Options = GeneraliseOptions

    def generalisation(self) -> tuple[float, int] | None:
        return (float(self.options.threshold), int(self.options.eval_every))

    def add_noise(self, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """With probability ``noise`` a label becomes one of the other classes (uniformly)."""
        flip = torch.rand(y.shape, generator=generator, dtype=torch.float64) < self.options.noise
        shift = torch.randint(1, self.out_features, y.shape, generator=generator)
        return torch.where(flip, (y + shift) % self.out_features, y)


@dataclass(frozen=True)
class ParityOptions(GeneraliseOptions):
    n_bits: int = 20
    k: int = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("n_bits", self.n_bits)
        check_positive_int("k", self.k)
        if not 2 <= self.k <= self.n_bits <= MAX_BITS:
            raise ConfigError(f"sparse parity needs 2 <= k <= n_bits <= {MAX_BITS}, got k={self.k!r}, "
                              f"n_bits={self.n_bits!r}")


def relevant_bits(n_bits: int, k: int) -> np.ndarray:
    """The ``k`` relevant bits of an ``(n_bits, k)`` parity: a fixed draw (the same for every seed), sorted, so that
    the ticket does not sit on the first inputs."""
    return np.sort(np.random.default_rng([n_bits, k, 28]).choice(n_bits, size=k, replace=False))


def parity_coefficients(k: int) -> np.ndarray:
    """``c_j`` of the triangle wave ``f(m) = sum_j c_j relu(m - j)`` (``f(m) = m mod 2`` at integers 0..k)."""
    return np.array([1.0] + [2.0 * (-1) ** j for j in range(1, k)])


@TASKS.register("sparse-parity")
class SparseParityTask(GeneraliseTask):
    name = "sparse-parity"
    in_features = 20  # n_bits (an instance's own value is set from its options)
    out_features = 2
    Options = ParityOptions

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.in_features = self.options.n_bits

    def sample(self, n: int, generator: torch.Generator) -> Split:
        x = torch.randint(0, 2, (n, self.in_features), generator=generator).double() * 2.0 - 1.0
        return Split(x, self.add_noise(self.clean_labels(x), generator))

    def clean_labels(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.from_numpy(relevant_bits(self.options.n_bits, self.options.k))
        return ((x[:, s] < 0).sum(dim=1) % 2).long()

    def target(self, depth: int) -> TargetNetwork:
        self.check_depth(depth)
        n, k = self.options.n_bits, self.options.k
        rel, c = relevant_bits(n, k), parity_coefficients(k)
        j = np.arange(k, dtype=np.float64)
        read = np.array([-1.0, 1.0])[:, None]  # logits (1/2 - f, f - 1/2) from f
        layers: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        if depth == 3:
            w = np.zeros((k, n))
            w[:, rel] = -1.0
            layers.append((w, k - 2 * j, np.zeros(k, dtype=bool)))
        else:
            w = np.zeros((k, n))
            w[np.arange(k), rel] = -1.0
            layers.append((w, np.ones(k), np.ones(k, dtype=bool)))  # u_i = 1 - x_i >= 0
            layers.append((np.ones((k, k)), -2 * j, j == 0))  # relu(sum u - 2j); j = 0 is sum u >= 0
        if depth <= 4:
            layers.append((read * (c / 2)[None, :], np.array([0.5, -0.5]), np.zeros(2, dtype=bool)))
        else:
            layers.append(((c / 2)[None, :], np.zeros(1), np.zeros(1, dtype=bool)))  # g = f(m)
            layers.extend((np.ones((1, 1)), np.zeros(1), np.ones(1, dtype=bool)) for _ in range(depth - 5))
            layers.append((read, np.array([0.5, -0.5]), np.zeros(2, dtype=bool)))
        return TargetNetwork([w for w, _, _ in layers], [b for _, b, _ in layers],
                             description=f"sparse parity ticket, depth {depth}: {k} of {n} bits, triangle wave",
                             always_active=[a for _, _, a in layers])


@dataclass(frozen=True)
class ModAddOptions(GeneraliseOptions):
    p: int = 7
    train_fraction: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int("p", self.p)
        if not 2 <= self.p <= MAX_MODULUS:
            raise ConfigError(f"p must be an integer from 2 to {MAX_MODULUS}, got {self.p!r}")
        f = self.train_fraction
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f < 1:
            raise ConfigError(f"train_fraction must be in (0, 1), got {f!r}")


def pair_offsets(p: int) -> np.ndarray:
    """``e_ab`` (shape ``(p, p)``): distinct offsets in ``[-0.2, 0.2]`` of the lookup units' two weights."""
    return np.linspace(-0.2, 0.2, p * p).reshape(p, p)


@TASKS.register("mod-add")
class ModAddTask(GeneraliseTask):
    name = "mod-add"
    in_features = 14  # 2p
    out_features = 7  # p
    Options = ModAddOptions

    def __init__(self, **options) -> None:
        super().__init__(**options)
        self.in_features, self.out_features = 2 * self.options.p, self.options.p

    def table(self) -> torch.Tensor:
        """Every pair ``(a, b)`` one-hot, in the order ``a * p + b`` (float64, ``(p^2, 2p)``)."""
        p = self.options.p
        a, b = torch.arange(p).repeat_interleave(p), torch.arange(p).repeat(p)
        x = torch.zeros(p * p, 2 * p, dtype=torch.float64)
        x[torch.arange(p * p), a] = 1.0
        x[torch.arange(p * p), p + b] = 1.0
        return x

    def clean_labels(self, x: torch.Tensor) -> torch.Tensor:
        p = self.options.p
        return (x[:, :p].argmax(dim=1) + x[:, p:].argmax(dim=1)) % p

    def sample(self, n: int, generator: torch.Generator) -> Split:
        x = self.table()[torch.randint(0, self.options.p ** 2, (n,), generator=generator)]
        return Split(x, self.add_noise(self.clean_labels(x), generator))

    def make_data(self, config: DataConfig, generator: torch.Generator) -> DataSplits:
        """The whole table, permuted: the first ``train_fraction`` of it trains, the rest tests (and validates)."""
        x = self.table()[torch.randperm(self.options.p ** 2, generator=generator)]
        y = self.add_noise(self.clean_labels(x), generator)
        cut = max(1, min(len(x) - 1, int(round(self.options.train_fraction * len(x)))))
        test = Split(x[cut:], y[cut:])
        return DataSplits(train=Split(x[:cut], y[:cut]), val=test, test=test)

    def target(self, depth: int) -> TargetNetwork:
        self.check_depth(depth)
        p = self.options.p
        e = pair_offsets(p).reshape(-1)
        a, b = np.repeat(np.arange(p), p), np.tile(np.arange(p), p)
        w0 = np.zeros((p * p, 2 * p))
        w0[np.arange(p * p), a] = 1.0 + e
        w0[np.arange(p * p), p + b] = 1.0 - e
        read = np.zeros((p, p * p))
        read[(a + b) % p, np.arange(p * p)] = 2.0
        layers = [(w0, np.full(p * p, -1.5), np.zeros(p * p, dtype=bool))]
        if depth > 3:
            layers.append((read, np.zeros(p), np.zeros(p, dtype=bool)))
            layers.extend((np.eye(p), np.zeros(p), np.ones(p, dtype=bool)) for _ in range(depth - 4))
            layers.append((np.eye(p), np.zeros(p), np.zeros(p, dtype=bool)))
        else:
            layers.append((read, np.zeros(p), np.zeros(p, dtype=bool)))
        return TargetNetwork([w for w, _, _ in layers], [b for _, b, _ in layers],
                             description=f"mod-add lookup ticket, depth {depth}: {p * p} pair units, p = {p}",
                             always_active=[a for _, _, a in layers])
