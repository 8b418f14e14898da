"""Upper bounds on configuration sizes, each with its reason, shared by the configuration dataclasses and the CLI.

Torch-free, so that the command line checks its arguments before importing torch.

- ``MAX_DEPTH = 64``: 13x the paper's depth 5. Deeper hosts are numerically degenerate already (the dense
  He-initialised ReLU host of ``plant --task relu --depth 64 --width 40`` has test MSE 2.8e78), every stage loops
  over layers in Python, and Circle's ticket computes a plain-float ``2**k`` per layer that overflows past depth
  ~1030 (``plant --depth 1000000`` ended in an OverflowError traceback).
- Width: one host's float64 weights, ``width**2 * depth * 8`` bytes, may take at most 1/16 of the memory
  available (``MemAvailable``), because a cell keeps several copies of them (host, planted state, masks, the
  pruner's and weak training's parameters, gradients and Adam's two buffers). ``MAX_WIDTH`` caps it regardless.
- ``MAX_N_SAMPLES = 10**7``: the splits are float64 tensors of ``1.1 * n * (in + out)`` numbers held per
  process; 10**7 samples of the widest built-in task take ~0.6 GB, and weak training visits every one per epoch.
- ``MAX_EPOCHS = 10_000``: weak training is a short, fixed allowance (the paper's: 10 epochs).
- ``MAX_SEED = 2**31 - 1``: seeds are portable 32-bit signed integers (numpy, other frameworks, SQLite rows).
- ``MAX_SEEDS = 10_000`` seeds in one grid; ``MAX_CELLS = 10**6`` cells in one grid (expanding a grid hashes
  every cell's configuration before any work).
- ``MAX_TIMEOUT = 7 days``: a prune call's time limit; longer is a typo (and ``setitimer`` needs a finite value).
  ``MIN_TIMEOUT = 1 ms``: ``setitimer`` counts microseconds, and a shorter value rounds to 0, which turns the timer
  off.
- ``MIN_MEMORY_LIMIT_GB = 0.25`` (a prune worker's resident size, ``WORKER_MEMORY``): a smaller address-space limit
  is no limit a worker can start under, and one that rounds to 0 bytes would turn the limit off; 0 itself asks for
  no limit.
- ``MAX_KNOTS = 10_000``: piecewise-linear knots of a ticket (and the ticket must fit the host's width).
- ``MAX_GAUSSIAN_NOISE = 1000``: the standard deviation of label noise; labels lie in [-1, 1], so beyond this
  no signal is left, and squared errors stay far from float32 overflow. A label-flip probability is <= 1.
"""

from __future__ import annotations

import os

MAX_DEPTH = 64
MAX_WIDTH = 1 << 16
HOST_MEMORY_SHARE = 16
MAX_N_SAMPLES = 10_000_000
MAX_EPOCHS = 10_000
MAX_SEED = 2**31 - 1
MAX_SEEDS = 10_000
MAX_CELLS = 1_000_000
MAX_TIMEOUT = 7 * 24 * 3600.0
#: GB of address space a prune worker may be given (--memory-limit): more than any machine here has
MAX_MEMORY_LIMIT_GB = 4096.0
MIN_MEMORY_LIMIT_GB = 0.25
MIN_TIMEOUT = 0.001
MAX_KNOTS = 10_000
MAX_GAUSSIAN_NOISE = 1000.0
WORKER_MEMORY = 256 * 1024**2  # resident memory of one worker process (python + torch), bytes
MAX_JOBS = 1024
FALLBACK_MEMORY = 8 * 1024**3  # assumed available memory when the system does not say


def available_memory() -> int:
    """Bytes of memory available to new allocations (``MemAvailable``; else physical memory; else 8 GiB)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return FALLBACK_MEMORY


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def host_bytes(width: int, depth: int) -> int:
    """The rule's size of one host's float64 weights: ``width**2 * depth * 8`` bytes."""
    return width * width * depth * 8


def max_width(depth: int, memory: int | None = None) -> int:
    """The widest host of ``depth`` layers whose weights (``host_bytes``) fit 1/16 of ``memory`` bytes
    (default: the memory available now), at most ``MAX_WIDTH``."""
    memory = available_memory() if memory is None else memory
    budget = memory // HOST_MEMORY_SHARE
    lo, hi = 0, MAX_WIDTH
    while lo < hi:  # the largest w with host_bytes(w, depth) <= budget
        mid = (lo + hi + 1) // 2
        if host_bytes(mid, max(depth, 1)) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return lo


def max_jobs(memory: int | None = None) -> int:
    """Worker processes that fit the available memory at ``WORKER_MEMORY`` each (at least 1, at most 1024)."""
    memory = available_memory() if memory is None else memory
    return max(1, min(MAX_JOBS, memory // WORKER_MEMORY))


def max_threads() -> int:
    """Torch threads worth asking for: four per usable core (more only oversubscribes)."""
    return 4 * usable_cores()


def memory_limit_bytes(gb: float, default_gb: float) -> int | None:
    """The address-space limit in bytes for ``gb`` GB: None (no limit) for exactly 0; ``default_gb`` for a value
    that is not a finite number >= 0; at least ``MIN_MEMORY_LIMIT_GB`` otherwise (nothing small turns it off)."""
    if gb == 0:
        return None
    if not (gb > 0 and gb <= MAX_MEMORY_LIMIT_GB):  # NaN, inf, negative
        gb = default_gb
    return int(max(gb, MIN_MEMORY_LIMIT_GB) * 2**30)
