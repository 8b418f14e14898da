"""The Dask executor (``evaluate --executor dask``): the interface of :mod:`plantseek.run.executors.local` (run a
picklable function on picklable items, yield the results as they complete) on a ``distributed`` cluster.

* Without an address: a ``distributed.LocalCluster`` of ``jobs`` single-threaded worker processes; with
  ``--scheduler ADDRESS``: a running cluster. Dask is imported only here, and only when the executor runs.
* Workers only compute; this process alone writes the results store.
* A task on a lost worker is rerun on another (up to ``ALLOWED_FAILURES`` lost workers per task); each result is
  yielded once.
* In a worker, each task runs with one torch thread and with glibc's allocator as outside Dask
  (:func:`call_in_worker`, :func:`restore_allocator`); its prune calls start their own template process.

``docs/design/run.md``: the allocator measurement behind :func:`restore_allocator`, and the cluster details.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from typing import Any, Callable, Iterable, Iterator, TypeVar

from plantseek.core.errors import ConfigError, PlantseekError
from plantseek.run.executors.local import refuse_slurm_options

T = TypeVar("T")
R = TypeVar("R")

ALLOWED_FAILURES = 3  # lost workers a task may be running on before the scheduler gives up on it (dask's default)
CONNECT_SECONDS = 10.0  # how long connecting to --scheduler may take before it counts as unreachable
MAX_ADDRESS = 300


def require_distributed() -> Any:
    """The ``distributed`` module, or a one-line error saying how to install it."""
    try:
        import distributed
    except ImportError:
        raise ConfigError("--executor dask needs the 'distributed' package: pip install 'plantseek[cluster]'") \
            from None
    return distributed


def check_address(address: str) -> str:
    """A scheduler address as ``dask worker`` takes it (``tcp://host:8786``, ``host:8786``): one line, no spaces."""
    if not address or len(address) > MAX_ADDRESS or any(ch.isspace() or ch == "\0" for ch in address):
        raise ConfigError(f"--scheduler {address[:60]!r}: not a scheduler address (like tcp://host:8786)")
    return address


# glibc's mallopt parameters and the values restored: the mmap threshold at its dynamic maximum on 64-bit
# (DEFAULT_MMAP_THRESHOLD_MAX, where the default dynamic threshold settles) and a trim threshold that returns freed
# memory to the system only in large amounts
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_BYTES = 32 * 2**20
TRIM_THRESHOLD_BYTES = 128 * 2**20
DASK_ALLOCATOR_VARIABLE = "MALLOC_TRIM_THRESHOLD_"


def restore_allocator() -> bool:
    """Undo Dask's ``MALLOC_TRIM_THRESHOLD_`` in this process (see the module docstring): drop the variable from the
    environment (children no longer inherit it) and, where the C library is glibc, set the mmap and trim thresholds
    with ``mallopt``. Returns whether ``mallopt`` was applied (False: nothing to undo, or not glibc)."""
    if os.environ.pop(DASK_ALLOCATOR_VARIABLE, None) is None:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD,
                                                                                  TRIM_THRESHOLD_BYTES))


def call_in_worker(fn: Callable[[T], R], item: T) -> R:
    """Run one task in a Dask worker: with one torch thread (set in the thread that runs it: OpenMP's thread count
    is per thread), as the ``processes`` executor's workers, and with glibc's allocator as outside Dask
    (:func:`restore_allocator`). A worker must run one task at a time (one thread): a
    cell group uses a core, and the worker's prune template is started by, and dies with, its one task thread."""
    import torch
    from distributed import get_worker

    worker = get_worker()
    if worker.state.nthreads != 1:
        raise ConfigError(f"Dask worker {worker.address} runs {worker.state.nthreads} threads; plantseek needs one "
                          "thread per worker process (dask worker --nthreads 1)")
    torch.set_num_threads(1)
    restore_allocator()
    return fn(item)


class DaskExecutor:
    """Runs ``fn`` on every item on a Dask cluster; yields results as they complete (any order), each once."""

    def __init__(self, jobs: int = 1, scheduler: str | None = None, slurm: object | None = None) -> None:
        self.check_options(scheduler, slurm)
        self.jobs = max(1, int(jobs))
        self.scheduler = scheduler

    @classmethod
    def check_options(cls, scheduler: str | None, slurm: object | None = None) -> None:
        """Distributed is installed, ``scheduler`` (if given) looks like an address, no ``--slurm-*`` option."""
        refuse_slurm_options(slurm)
        require_distributed()
        if scheduler is not None:
            check_address(scheduler)

    def imap(self, fn: Callable[[T], R], items: Iterable[T], on_tick: Callable[[str, int], None] | None = None
             ) -> Iterator[R]:
        """As the local executors' ``imap``; the workers' progress ticks do not reach this process (``on_tick`` is
        not called: the caller counts a finished task's work when its result arrives)."""
        work = list(items)
        if not work:
            return
        distributed = require_distributed()
        with self._cluster(distributed) as cluster, self._client(distributed, cluster) as client:
            futures = client.map(call_in_worker, [fn] * len(work), work, pure=False)
            try:
                yield from _each_once(distributed, futures)
            finally:
                client.cancel(futures)

    def _cluster(self, distributed):
        """A LocalCluster of ``jobs`` single-threaded worker processes (its HTTP endpoints on a free port), or nothing
        when connecting to one."""
        import contextlib

        import dask

        if self.scheduler is not None:
            return contextlib.nullcontext(None)
        with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}):
            return distributed.LocalCluster(n_workers=self.jobs, threads_per_worker=1, processes=True,
                                            dashboard_address=":0", silence_logs=logging.ERROR)

    def _client(self, distributed, cluster):
        if cluster is not None:
            return distributed.Client(cluster)
        try:
            return distributed.Client(self.scheduler, timeout=CONNECT_SECONDS)
        except (OSError, TimeoutError, ValueError) as exc:
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise ConfigError(f"--scheduler {self.scheduler}: cannot reach a Dask scheduler ({reason})") from None


def _each_once(distributed, futures) -> Iterator[Any]:
    """Each future's result once, as they complete; a task that lost too many workers is a one-line error."""
    seen: set[str] = set()
    for future in distributed.as_completed(futures):
        if future.key in seen:
            continue
        seen.add(future.key)
        try:
            yield future.result()
        except distributed.KilledWorker as exc:
            raise PlantseekError(f"a task was running on {ALLOWED_FAILURES + 1} Dask workers that all died; "
                                 f"giving up ({str(exc).splitlines()[0][:200]})") from None
