"""Where groups of cells run: in this process, in local worker processes, or on a Dask cluster
(:mod:`plantseek.run.dask_executor`, which imports Dask only when it runs). Behind one small interface: ``imap``
runs a picklable function on picklable items and yields the results as they complete."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from typing import Callable, Iterable, Iterator, TypeVar

from plantseek.core.errors import ConfigError
from plantseek.core.registry import Registry
from plantseek.run.dask_executor import DaskExecutor

T = TypeVar("T")
R = TypeVar("R")

EXECUTORS: Registry[type["Executor"]] = Registry("executor")


class Executor:
    """Runs ``fn`` on every item; yields results as they complete (any order)."""

    def __init__(self, jobs: int = 1, scheduler: str | None = None) -> None:
        self.check_options(scheduler)
        self.jobs = max(1, int(jobs))

    @classmethod
    def check_options(cls, scheduler: str | None) -> None:
        """A one-line ConfigError if this executor cannot run here, or with ``scheduler`` (a cluster's address)."""
        if scheduler is not None:
            raise ConfigError(f"--scheduler {scheduler}: only --executor dask connects to a scheduler")

    def imap(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        raise NotImplementedError


@EXECUTORS.register("local")
class LocalExecutor(Executor):
    def imap(self, fn, items):
        for item in items:
            yield fn(item)


@EXECUTORS.register("processes")
class ProcessExecutor(Executor):
    """``jobs`` worker processes (spawned: no state is inherited; each worker uses one torch thread; each is
    killed when this process ends, even by SIGKILL: ``PR_SET_PDEATHSIG``)."""

    def imap(self, fn, items):
        ctx = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(self.jobs, mp_context=ctx, initializer=_init_worker,
                                    initargs=(os.getpid(),)) as pool:
            futures = [pool.submit(fn, item) for item in items]
            try:
                for future in cf.as_completed(futures):
                    yield future.result()
            except BaseException:
                for f in futures:
                    f.cancel()
                raise


def _init_worker(parent: int) -> None:
    from plantseek.run.sandbox import die_with_parent

    die_with_parent(parent)  # before importing torch (seconds on a loaded machine), not after: a parent killed
    import torch  # meanwhile must not leave this worker running until the import ends

    torch.set_num_threads(1)


EXECUTORS.register("dask", DaskExecutor)


def executor_name(jobs: int, name: str | None = None) -> str:
    """The executor to use: ``name``, else processes when ``jobs`` > 1, else local."""
    return name or ("processes" if jobs > 1 else "local")


def check_executor(jobs: int, name: str | None, scheduler: str | None) -> None:
    """Before any work: the executor exists, can run here, and takes ``scheduler`` if one is given."""
    EXECUTORS.get(executor_name(jobs, name)).check_options(scheduler)


def make_executor(jobs: int = 1, name: str | None = None, scheduler: str | None = None) -> Executor:
    return EXECUTORS.get(executor_name(jobs, name))(jobs, scheduler)
