"""Where batched training runs and how many networks fit: device resolution, free memory, chunk sizes, cores."""

from __future__ import annotations

import os

import torch

from plantseek.core.errors import ConfigError
from plantseek.families.mlp.network import Architecture
from plantseek.train.config import TrainConfig

DEFAULT_MEMORY_BUDGET = 2 * 1024**3  # bytes for one chunk of networks (before the available-memory cap)


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """``None`` -> CUDA when available, else the CPU; otherwise the named device (checked to exist)."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {name!r} (use 'cpu' or 'cuda')") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available on this machine")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"device {name!r} is not supported (use 'cpu' or 'cuda')")
    return device


def available_memory(device: torch.device) -> int | None:
    """Free memory of ``device`` in bytes, or None when it cannot be read."""
    if device.type == "cuda":
        try:
            free, _total = torch.cuda.mem_get_info(device)
            return int(free)
        except Exception:  # pragma: no cover - depends on the driver
            return None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def bytes_per_network(arch: Architecture, config: TrainConfig, n_samples: int, dtype: torch.dtype,
                      own_data: bool) -> int:
    """Estimated memory one network occupies in the batched engine (parameters, gradients, optimiser state,
    masks, activations of one batch, its share of the data and the permutation)."""
    item = torch.empty((), dtype=dtype).element_size()
    n_params = arch.n_prunable + sum(arch.widths[1:])
    per_param = 6  # param, grad, grad mask, two optimiser buffers, scratch (Adam denominator)
    activations = 3 * config.batch_size * sum(arch.widths)  # activations, their gradients, a temporary
    data = n_samples * (arch.widths[0] + arch.widths[-1]) * item if own_data else 0
    return per_param * n_params * item + activations * item + data + 8 * n_samples


def auto_chunk(arch: Architecture, config: TrainConfig, n_samples: int, dtype: torch.dtype, device: torch.device,
               own_data: bool, budget: int | None = None) -> int:
    """How many networks to stack at once: as many as fit in ``budget`` bytes (default: 2 GiB, capped at half
    the device's available memory)."""
    if budget is None:
        budget = DEFAULT_MEMORY_BUDGET
        free = available_memory(device)
        if free is not None:
            budget = min(budget, free // 2)
    return max(1, int(budget // bytes_per_network(arch, config, n_samples, dtype, own_data)))


def default_threads() -> int:
    """The number of CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
