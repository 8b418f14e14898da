"""Training configurations (typed, frozen, validated). Plain data: importing this module needs no torch."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from plantseek.core.errors import ConfigError
from plantseek.core.limits import MAX_EPOCHS

ADAM_KERNELS = ("fused", "single-tensor")
#: where weak training starts (plantseek.train.training_protocols); the default protocol of a cell
TRAINING_PROTOCOLS = ("calibrated", "paper")
DEFAULT_TRAINING_PROTOCOL = "calibrated"
#: whether each training protocol's cells prune biases (ranked with the weights, as the paper's runs did with
#: ``--prune-bias``); :func:`pruning_budget` sets the budget's ``prunable_biases`` from it
PROTOCOL_PRUNES_BIASES = {"calibrated": False, "paper": True}


@dataclass(frozen=True)
class TrainConfig:
    """A training allowance: also the ``budget`` handed to pruners that train."""

    epochs: int = field(default=10, metadata={
        "help": "weak-training epochs (default: the suite's; 10)", "range": (0, MAX_EPOCHS)})
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: str = "adam"  # "adam" or "sgd"
    momentum: float = 0.9  # sgd only
    weight_decay: float = 0.0
    schedule: str = "constant"  # "constant" or "cosine" (per epoch)
    adam_kernel: str = field(default="fused", metadata={  # adam only
        "help": "Adam implementation for weak training and pruners' training (default fused; single-tensor is "
                "torch.optim.Adam's default, as in the paper's code)", "choices": ADAM_KERNELS})
    #: Pruning scope, read by pruners from their ``budget`` (meaningless in a weak-training configuration): True =
    #: the biases are prunable parameters, scored and ranked together with the weights; a mask then carries every
    #: bias entry and ``density`` counts weights and biases (``plantseek.nets.masks.prunable_parameter_shapes``).
    prunable_biases: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or not 0 <= self.epochs <= MAX_EPOCHS:
            raise ConfigError(f"epochs must be an integer >= 0 and <= {MAX_EPOCHS}, got {self.epochs!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError(f"batch_size must be an integer >= 1, got {self.batch_size!r}")
        for name in ("lr", "momentum", "weight_decay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ConfigError(f"{name} must be a finite number, got {value!r}")
        if not self.lr > 0:
            raise ConfigError(f"lr must be > 0, got {self.lr!r}")
        if self.optimizer not in ("adam", "sgd"):
            raise ConfigError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if self.schedule not in ("constant", "cosine"):
            raise ConfigError(f"schedule must be 'constant' or 'cosine', got {self.schedule!r}")
        if not isinstance(self.prunable_biases, bool):
            raise ConfigError(f"prunable_biases must be True or False, got {self.prunable_biases!r}")
        if self.adam_kernel not in ADAM_KERNELS:
            raise ConfigError(f"adam_kernel must be one of {', '.join(map(repr, ADAM_KERNELS))}, "
                              f"got {self.adam_kernel!r}")

    @property
    def fused_adam(self) -> bool:
        """Whether training runs torch's fused Adam kernel (over a padded flat buffer)."""
        return self.optimizer == "adam" and self.adam_kernel == "fused"

    def replace(self, **changes) -> "TrainConfig":
        return replace(self, **changes)


def pruning_budget(budget: TrainConfig, training_protocol: str) -> TrainConfig:
    """``budget`` with the pruning scope of ``training_protocol`` (``paper``: biases prunable; ``calibrated``: weights
    only); how a grid's cells get the paper's bias handling under ``--protocol paper``."""
    return budget.replace(prunable_biases=PROTOCOL_PRUNES_BIASES[training_protocol])


def biases_prunable(budget: object) -> bool:
    """Whether a pruner's ``budget`` makes the biases prunable (False for a budget without the field)."""
    return getattr(budget, "prunable_biases", False) is True


def epoch_lr(config: TrainConfig, epoch: int) -> float:
    """The learning rate of ``epoch`` (0-based) under ``config``'s schedule (constant, or cosine per epoch)."""
    if config.schedule == "cosine":
        return config.lr * 0.5 * (1 + math.cos(math.pi * epoch / max(1, config.epochs)))
    return config.lr
