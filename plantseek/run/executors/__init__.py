"""Where bundles of cells run, behind one small interface (:class:`Executor`: ``imap`` runs a picklable function
on picklable items and yields the results as they complete): in this process or in local worker processes
(:mod:`.local`), on a Dask cluster (:mod:`.dask`, which imports Dask only when it runs), or as a SLURM job array
through submitit (:mod:`.slurm`, likewise). :func:`make_executor` picks one by name."""

from __future__ import annotations

from plantseek.core.registry import Registry
from plantseek.run.executors.dask import DaskExecutor
from plantseek.run.executors.local import Executor, LocalExecutor, ProcessExecutor
from plantseek.run.executors.slurm import SlurmExecutor, SlurmOptions

AnyExecutor = Executor | DaskExecutor | SlurmExecutor
EXECUTORS: Registry[type[Executor] | type[DaskExecutor] | type[SlurmExecutor]] = Registry("executor")
EXECUTORS.register("local", LocalExecutor)
EXECUTORS.register("processes", ProcessExecutor)
EXECUTORS.register("dask", DaskExecutor)
EXECUTORS.register("slurm", SlurmExecutor)


def executor_name(jobs: int, name: str | None = None) -> str:
    """The executor to use: ``name``, else processes when ``jobs`` > 1, else local."""
    return name if name is not None else ("processes" if jobs > 1 else "local")


def check_executor(jobs: int, name: str | None, scheduler: str | None, slurm: SlurmOptions | None = None) -> None:
    """Before any work: the executor exists, can run here, and takes ``scheduler`` and ``slurm`` if given."""
    EXECUTORS.get(executor_name(jobs, name)).check_options(scheduler, slurm)


def make_executor(jobs: int = 1, name: str | None = None, scheduler: str | None = None,
                  slurm: SlurmOptions | None = None) -> AnyExecutor:
    return EXECUTORS.get(executor_name(jobs, name))(jobs, scheduler, slurm)
