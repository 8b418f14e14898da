"""The local executors: in this process (``local``), or in spawned worker processes (``processes``). Each runs a
picklable function on picklable items and yields the results as they complete (:class:`Executor`), and passes the
progress ticks of the work (:mod:`plantseek.core.progress`) to ``on_tick`` in this process as they happen."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import queue
import signal
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, TypeVar

from plantseek.core.errors import ConfigError
from plantseek.core.progress import QueueSink, Sink, install, reporting

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

    def imap(self, fn: Callable[[T], R], items: Iterable[T], on_tick: Sink | None = None) -> Iterator[R]:
        raise NotImplementedError


def refuse_slurm_options(slurm: object | None) -> None:
    """The ``--slurm-*`` options belong to ``--executor slurm``: a one-line error for any other executor."""
    if slurm is not None:
        raise ConfigError("the --slurm-* options need --executor slurm")


class LocalExecutor(Executor):
    def imap(self, fn, items, on_tick=None):
        for item in items:
            with reporting(on_tick):
                result = fn(item)
            yield result


class ProcessExecutor(Executor):
    """``jobs`` worker processes (spawned: no state is inherited; each worker uses one torch thread; each is
    killed when this process ends, even by SIGKILL: ``PR_SET_PDEATHSIG``).

    Ctrl-C (SIGINT to the terminal's process group) is this process's alone: the workers start with SIGINT blocked
    and then ignore it (no traceback of theirs); on any exception here, the KeyboardInterrupt included, they are
    killed at once (their prune workers die with them), and the results already yielded stay stored.

    Progress: the workers put their ticks on a queue, which this process drains (into ``on_tick``) while it waits
    for results, every :data:`TICK_POLL_SECONDS` at most."""

    def imap(self, fn, items, on_tick=None):
        ctx = multiprocessing.get_context("spawn")
        ticks = ctx.Queue() if on_tick is not None else None
        with cf.ProcessPoolExecutor(self.jobs, mp_context=ctx, initializer=_init_worker,
                                    initargs=(os.getpid(), ticks)) as pool:
            with _interrupt_deferred():  # the pool's processes are started by the first submits
                futures = [pool.submit(fn, item) for item in items]
            try:
                pending = set(futures)
                while pending:
                    finished, pending = cf.wait(pending, timeout=TICK_POLL_SECONDS if ticks is not None else None,
                                                return_when=cf.FIRST_COMPLETED)
                    _drain(ticks, on_tick)
                    for future in finished:
                        yield future.result()
            except BaseException:
                for f in futures:
                    f.cancel()
                _kill_workers(pool)
                raise
            finally:
                if ticks is not None:
                    ticks.cancel_join_thread()
                    ticks.close()


TICK_POLL_SECONDS = 0.25


def _drain(ticks, on_tick: Sink | None) -> None:
    """Pass every tick waiting on the queue to ``on_tick``."""
    if ticks is None or on_tick is None:
        return
    while True:
        try:
            kind, n = ticks.get_nowait()
        except queue.Empty:
            return
        on_tick(kind, n)


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


def _init_worker(parent: int, ticks=None) -> None:
    from plantseek.run.isolation.sandbox import die_with_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    install(QueueSink(ticks) if ticks is not None else None)
    die_with_parent(parent)  # before importing torch (seconds on a loaded machine), not after: a parent killed
    import torch  # meanwhile must not leave this worker running until the import ends

    torch.set_num_threads(1)
