"""The task interface and the task registry.

A task knows its input/output sizes, how to draw seeded data, its loss and metric, and how to build its target
ticket for a given depth. Built-in tasks are the modules of ``plantseek.tasks`` (the repository's ``tasks/``)
and register themselves with ``@TASKS.register("name")``; third-party tasks are entry points of the group
``plantseek.tasks`` (see :mod:`plantseek.core.plugins`). :data:`TASKS` finds both when looked up.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from plantseek.core.errors import ConfigError
from plantseek.core.limits import MAX_DEPTH, MAX_GAUSSIAN_NOISE, MAX_N_SAMPLES
from plantseek.core.plugins import PluginFamily
from plantseek.core.registry import Registry
from plantseek.families.mlp.network import Architecture
from plantseek.nets.interface import Network
from plantseek.families.mlp import planting
from plantseek.planted.targets import TargetNetwork


@dataclass(frozen=True)
class TaskOptions:
    """Options every task takes. ``noise``: label noise (std of Gaussian noise, or label-flip probability), a
    finite number in [0, ``max_noise``] (a task whose noise is a probability sets ``max_noise = 1.0``)."""

    noise: float = 0.01
    max_noise: ClassVar[float] = MAX_GAUSSIAN_NOISE
    noise_meaning: ClassVar[str] = "the standard deviation of Gaussian label noise"

    def __post_init__(self) -> None:
        x = self.noise
        number = not isinstance(x, bool) and isinstance(x, (int, float))
        if not number or not (math.isfinite(x) and 0 <= x <= self.max_noise):
            raise ConfigError(f"noise must be a number >= 0 and <= {self.max_noise:g} ({self.noise_meaning}), "
                              f"got {x!r}")


def check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be an integer >= 1, got {value!r}")


@dataclass(frozen=True)
class DataConfig:
    """Sizes of the data splits: ``n_samples`` = train + test; validation is drawn in addition."""

    n_samples: int = 10_000
    test_fraction: float = 0.1
    val_fraction: float = 0.1

    def __post_init__(self) -> None:
        n = self.n_samples
        if isinstance(n, bool) or not isinstance(n, int) or not 10 <= n <= MAX_N_SAMPLES:
            raise ConfigError(f"n_samples must be an integer >= 10 and <= {MAX_N_SAMPLES}, got {n!r}")
        for name in ("test_fraction", "val_fraction"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 1:
                raise ConfigError(f"{name} must be in (0, 1), got {v!r}")

    @property
    def n_test(self) -> int:
        return int(round(self.n_samples * self.test_fraction))

    @property
    def n_train(self) -> int:
        return self.n_samples - self.n_test

    @property
    def n_val(self) -> int:
        return int(round(self.n_samples * self.val_fraction))


@dataclass(frozen=True)
class Split:
    x: torch.Tensor  # float64, (n, in_features)
    y: torch.Tensor  # float64 (n, out_features) for regression, int64 (n,) for classification

    def __len__(self) -> int:
        return self.x.shape[0]


@dataclass(frozen=True)
class DataSplits:
    train: Split
    val: Split
    test: Split


class Task:
    """Base class of tasks. Subclasses set the class attributes and implement ``target`` and ``clean_labels``."""

    name: ClassVar[str]
    in_features: ClassVar[int]
    out_features: ClassVar[int]
    kind: ClassVar[str]  # "regression" or "classification"
    min_depth: ClassVar[int] = 3
    #: the host family (:mod:`plantseek.families`) this task plants into, stored with each of its cells
    family: str = "MLP"
    Options: ClassVar[type[TaskOptions]] = TaskOptions

    def __init__(self, **options: Any) -> None:
        fields = {f.name for f in dataclasses.fields(self.Options)}
        unknown = sorted(set(options) - fields)
        if unknown:
            raise ConfigError(
                f"task {self.name!r} has no option(s) {', '.join(unknown)} (options: {', '.join(sorted(fields))})"
            )
        self.options = self.Options(**options)

    # --- to implement -------------------------------------------------------------------------------------
    def target(self, depth: int) -> TargetNetwork:
        raise NotImplementedError

    def clean_labels(self, x: torch.Tensor) -> torch.Tensor:
        """Noise-free labels of inputs ``x`` (float64 outputs, or int64 classes)."""
        raise NotImplementedError

    def add_noise(self, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    # --- the host family (default: the MLP; a convolutional task overrides these three) ---------------------
    def host_architecture(self, depth: int, width: int) -> Network:
        """The host of ``depth`` layers (input and output counted) and hidden width ``width``."""
        return Architecture.mlp(self.in_features, self.out_features, depth, width)

    def check_fits(self, depth: int, width: int) -> None:
        """One-line error where the ticket of ``depth`` does not fit the host of ``depth`` and ``width``."""
        planting.check_fits(self.target(depth), self.host_architecture(depth, width))

    def plant_into(self, target: Any, arch: Network, host: dict[str, torch.Tensor],
                   generator: torch.Generator) -> planting.PlantedHost:
        """Plant ``target`` (from :meth:`target`) into the host parameters ``host`` of ``arch``."""
        return planting.plant_target(target, arch, host, generator)

    def saved_target(self, saved: dict[str, Any], depth: int) -> Any:
        """The planted target from its saved form (``weights``, ``biases`` lists of tensors, ``description``)."""
        return TargetNetwork([w.numpy() for w in saved["weights"]], [b.numpy() for b in saved["biases"]],
                             description=saved["description"])

    def generalisation(self) -> tuple[float, int] | None:
        """``(threshold, eval_every)`` of the time-to-generalise metric (:mod:`plantseek.run.generalise`: the first
        step at which the weakly trained mask's test metric reaches ``threshold``, evaluated every ``eval_every``
        steps), or None (the default: no curve is trained)."""
        return None

    def weight_routes(self, depth: int) -> list | None:
        """Per target weight layer, an integer array of the target weights' routes (a cluster's subnetwork, >= 0; -1
        where the target has no weight), for the per-route recall (:mod:`plantseek.score.routes`); None (the
        default): the task has no routes."""
        return None

    # --- shared -------------------------------------------------------------------------------------------
    @property
    def metric_name(self) -> str:
        return "accuracy" if self.kind == "classification" else "mse"

    @property
    def higher_is_better(self) -> bool:
        return self.kind == "classification"

    def check_depth(self, depth: int) -> None:
        if isinstance(depth, bool) or not isinstance(depth, int) or not self.min_depth <= depth <= MAX_DEPTH:
            raise ConfigError(f"depth must be an integer >= {self.min_depth} and <= {MAX_DEPTH} for task "
                              f"{self.name!r}, got {depth!r}")

    def sample(self, n: int, generator: torch.Generator) -> Split:
        x = torch.rand(n, self.in_features, generator=generator, dtype=torch.float64) * 2.0 - 1.0
        return Split(x, self.add_noise(self.clean_labels(x), generator))

    def make_data(self, config: DataConfig, generator: torch.Generator) -> DataSplits:
        """Train, test and validation splits, drawn in that order from one generator."""
        pool = self.sample(config.n_samples + config.n_val, generator)
        a, b = config.n_train, config.n_samples
        part = lambda s: Split(pool.x[s], pool.y[s])  # noqa: E731
        return DataSplits(train=part(slice(0, a)), test=part(slice(a, b)), val=part(slice(b, None)))

    def loss(self, output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Cross-entropy (classification: class-index labels), BCE with logits (binary classification: one logit
        and floating 0/1 labels of the output's shape), mean squared error (regression)."""
        if self.kind == "classification" and is_binary(output, y):
            return torch.nn.functional.binary_cross_entropy_with_logits(output, y.to(output.dtype))
        if self.kind == "classification":
            return torch.nn.functional.cross_entropy(output, y)
        return torch.nn.functional.mse_loss(output, y.to(output.dtype))

    def metric(self, output: torch.Tensor, y: torch.Tensor) -> float:
        """Accuracy (classification) or mean squared error (regression) of ``output`` against ``y``."""
        if self.kind == "classification" and is_binary(output, y):  # sign agreement: logit > 0 means class 1
            return float(((output > 0).to(torch.float64) == y.to(torch.float64)).to(torch.float64).mean())
        if self.kind == "classification":
            return float((output.argmax(dim=-1) == y).double().mean())
        return float(((output.double() - y.double()) ** 2).mean())


def is_binary(output: torch.Tensor, y: torch.Tensor) -> bool:
    """Binary single-logit classification: one output logit and floating 0/1 labels of shape ``(..., 1)`` (class-index
    labels are integer tensors without the output axis)."""
    return output.shape[-1:] == (1,) and y.is_floating_point() and y.shape[-1:] == (1,)


def is_task_class(obj: object) -> bool:
    return isinstance(obj, type) and issubclass(obj, Task)


def task_family(name: str) -> str:
    """The host family of the registered task ``name`` (:attr:`Task.family`); ``""`` for an unknown task."""
    return TASKS.get(name).family if name in TASKS else ""


TASKS: Registry[type[Task]] = Registry("task", PluginFamily(
    kind="task", package="plantseek.tasks", group="plantseek.tasks", accepts=is_task_class,
    expected="a subclass of plantseek.planted.task.Task"))


def get_task(name: str, **options: Any) -> Task:
    """An instance of the task registered as ``name`` (built-in or plug-in), with its options."""
    return TASKS.get(name)(**options)
