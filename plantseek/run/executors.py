"""Where groups of cells run: in this process, or in local worker processes. Behind one small interface so a
cluster backend can be added as one more class and one registry line."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from typing import Callable, Iterable, Iterator, TypeVar

from plantseek.core.registry import Registry

T = TypeVar("T")
R = TypeVar("R")

EXECUTORS: Registry[type["Executor"]] = Registry("executor")


class Executor:
    """Runs ``fn`` on every item; yields results as they complete (any order)."""

    def __init__(self, jobs: int = 1) -> None:
        self.jobs = max(1, int(jobs))

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
    import torch

    from plantseek.run.sandbox import die_with_parent

    die_with_parent(parent)
    torch.set_num_threads(1)


def make_executor(jobs: int = 1, name: str | None = None) -> Executor:
    return EXECUTORS.get(name or ("processes" if jobs > 1 else "local"))(jobs)
