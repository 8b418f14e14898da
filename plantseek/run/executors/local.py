"""The local executors: in this process (``local``), or in spawned worker processes (``processes``). Each runs a
picklable function on picklable items and yields the results as they complete (:class:`Executor`)."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, TypeVar

from plantseek.core.errors import ConfigError

T = TypeVar("T")
R = TypeVar("R")


class Executor:
    """Runs ``fn`` on every item; yields results as they complete (any order)."""

    def __init__(self, jobs: int = 1, scheduler: str | None = None, slurm: object | None = None) -> None:
        self.check_options(scheduler, slurm)
        self.jobs = max(1, int(jobs))

    @classmethod
    def check_options(cls, scheduler: str | None, slurm: object | None = None) -> None:
        """A one-line ConfigError if this executor cannot run here, or with ``scheduler`` (a cluster's address) or
        ``slurm`` (the options of a SLURM array, :class:`plantseek.run.executors.slurm.SlurmOptions`)."""
        if scheduler is not None:
            raise ConfigError(f"--scheduler {scheduler}: only --executor dask connects to a scheduler")
        refuse_slurm_options(slurm)

    def imap(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        raise NotImplementedError


def refuse_slurm_options(slurm: object | None) -> None:
    """The ``--slurm-*`` options belong to ``--executor slurm``: a one-line error for any other executor."""
    if slurm is not None:
        raise ConfigError("the --slurm-* options need --executor slurm")


class LocalExecutor(Executor):
    def imap(self, fn, items):
        for item in items:
            yield fn(item)


class ProcessExecutor(Executor):
    """``jobs`` worker processes (spawned: no state is inherited; each worker uses one torch thread; each is
    killed when this process ends, even by SIGKILL: ``PR_SET_PDEATHSIG``).

    Ctrl-C (SIGINT to the terminal's process group) is this process's alone: the workers start with SIGINT blocked
    and then ignore it (no traceback of theirs); on any exception here, the KeyboardInterrupt included, they are
    killed at once (their prune workers die with them), and the results already yielded stay stored."""

    def imap(self, fn, items):
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(self.jobs, mp_context=ctx, initializer=_init_worker,
                                    initargs=(os.getpid(),)) as pool:
            with _interrupt_deferred():  # the pool's processes are started by the first submits
                futures = [pool.submit(fn, item) for item in items]
            try:
                for future in cf.as_completed(futures):
                    yield future.result()
            except BaseException:
                for f in futures:
                    f.cancel()
                _kill_workers(pool)
                raise


@contextmanager
def _interrupt_deferred() -> Iterator[None]:
    """SIGINT blocked in this thread for the block: processes started in it inherit the blocked signal (a spawned
    interpreter keeps it blocked), and a Ctrl-C meanwhile arrives when the block ends."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _kill_workers(pool: cf.ProcessPoolExecutor) -> None:
    """SIGKILL to every worker process of ``pool`` (what they were running is lost, nothing else)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            process.kill()
        except (OSError, ValueError):
            pass


def _init_worker(parent: int) -> None:
    from plantseek.run.isolation.sandbox import die_with_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    die_with_parent(parent)  # before importing torch (seconds on a loaded machine), not after: a parent killed
    import torch  # meanwhile must not leave this worker running until the import ends

    torch.set_num_threads(1)
