"""The SLURM executor (``evaluate --executor slurm``): the interface of :mod:`plantseek.run.executors.local` (run a
picklable function on picklable items, yield the results as they complete) as a SLURM job array, through submitit.

* The items are cut into chunks of :attr:`SlurmOptions.chunk` (a chunk of bundles of cells); each chunk is one
  array task, which runs its items on :attr:`SlurmOptions.cpus_per_task` worker processes (one: in the task's own
  process, with one torch thread) and returns their results together. Each prune call in a task starts its own
  prune workers, as on this machine.
* This process submits the array, waits, and yields each finished task's results; it alone writes the store. An
  array task that fails, is cancelled, runs out of time or loses its node does not stop the others: their results
  are yielded, then a one-line :class:`PlantseekError` names the tasks lost (the next run of the same command runs
  their cells; stored cells are skipped, none is run or stored twice).
* ``cluster``: ``slurm`` (``sbatch`` must be on PATH), or submitit's ``local`` (each array task a subprocess of this
  machine) and ``debug`` (each task in this process, when its result is read) for tests and dry runs.

submitit is imported only here, and only when the executor runs or checks its options.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence, TypeVar

from plantseek.core.errors import ConfigError, PlantseekError

T = TypeVar("T")
R = TypeVar("R")

CLUSTERS = ("slurm", "local", "debug")
LOCAL_RESULT_WAIT_SECONDS = 1
POLL_SECONDS = {"slurm": 15.0, "local": 0.5, "debug": 0.0}  # how often the parent asks whether tasks ended


@dataclass(frozen=True)
class SlurmOptions:
    """How the array is submitted (``evaluate --slurm-*``)."""

    cluster: str = "slurm"  # slurm, or submitit's local / debug executor (this machine; for tests)
    partition: str | None = None  # SLURM partition (sbatch --partition); None: the cluster's default
    time_min: int = 60  # time limit of each array task, in minutes (sbatch --time)
    cpus_per_task: int = 1  # CPUs of each array task: its worker processes (sbatch --cpus-per-task)
    mem_gb: float | None = None  # memory of each array task (sbatch --mem); None: the partition's default
    parallelism: int | None = None  # array tasks running at once (sbatch --array=...%N); None: submitit's 256
    chunk: int = 1  # bundles of cells per array task
    log_folder: str = "results/slurm"  # submitit's folder: each task's pickled input, result and logs
    job_name: str = "plantseek"

    def __post_init__(self) -> None:
        if self.cluster not in CLUSTERS:
            raise ConfigError(f"--slurm-cluster {self.cluster!r}: one of {', '.join(CLUSTERS)}")
        for name, value in (("--slurm-time", self.time_min), ("--slurm-cpus-per-task", self.cpus_per_task),
                            ("--slurm-chunk", self.chunk), ("--slurm-parallelism", self.parallelism or 1)):
            if value < 1:
                raise ConfigError(f"{name} {value}: must be at least 1")
        if self.mem_gb is not None and not self.mem_gb > 0:
            raise ConfigError(f"--slurm-mem {self.mem_gb}: must be a positive number of GB")

    def parameters(self) -> dict[str, Any]:
        """submitit's ``update_parameters`` for this cluster (None: not set)."""
        common = {"name": self.job_name, "timeout_min": self.time_min, "cpus_per_task": self.cpus_per_task,
                  "nodes": 1, "tasks_per_node": 1}
        if self.cluster != "slurm":
            return common
        return {**common, "mem_gb": self.mem_gb, "slurm_partition": self.partition,
                "slurm_array_parallelism": self.parallelism}


def require_submitit() -> Any:
    """The ``submitit`` module, or a one-line error saying how to install it."""
    try:
        import submitit
    except ImportError:
        raise ConfigError("--executor slurm needs the 'submitit' package: pip install 'plantseek[cluster]'") from None
    return submitit


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    """``items`` in consecutive chunks of ``size`` (the last one shorter), in order."""
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def run_chunk(fn: Callable[[T], R], chunk: Sequence[T], cpus: int) -> list[R]:
    """One array task: ``fn`` on every item of ``chunk``, on ``cpus`` worker processes (the processes executor) or,
    with one CPU, here with one torch thread (as the other executors' workers); the results in completion order."""
    from plantseek.run.executors.local import LocalExecutor, ProcessExecutor

    if cpus > 1:
        return list(ProcessExecutor(min(cpus, len(chunk))).imap(fn, chunk))
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return list(LocalExecutor().imap(fn, chunk))
    finally:
        torch.set_num_threads(threads)  # the debug cluster runs tasks in the parent process


class SlurmExecutor:
    """Runs ``fn`` on every item as a SLURM job array (:class:`SlurmOptions`); yields results as tasks end."""

    def __init__(self, jobs: int = 1, scheduler: str | None = None, slurm: SlurmOptions | None = None) -> None:
        self.options = slurm or SlurmOptions()
        self.check_options(scheduler, self.options)
        self.jobs = max(1, int(jobs))

    @classmethod
    def check_options(cls, scheduler: str | None, slurm: SlurmOptions | None = None) -> None:
        """submitit is installed; no ``--scheduler``; ``sbatch`` is on PATH unless a local cluster is asked for."""
        if scheduler is not None:
            raise ConfigError(f"--scheduler {scheduler}: only --executor dask connects to a scheduler")
        require_submitit()
        options = slurm or SlurmOptions()
        if options.cluster == "slurm" and shutil.which("sbatch") is None:
            raise ConfigError("--executor slurm: no 'sbatch' on PATH (not a SLURM login node?); "
                              "--slurm-cluster local or debug runs the array tasks on this machine")

    def submit(self, fn: Callable[[T], R], items: Sequence[T]) -> list[Any]:
        """Submit one array task per chunk of items; its jobs, in chunk order."""
        submitit = require_submitit()
        executor = submitit.AutoExecutor(folder=Path(self.options.log_folder), cluster=self.options.cluster)
        executor.update_parameters(**self.options.parameters())
        work = chunks(items, self.options.chunk)
        jobs = list(executor.map_array(run_chunk, [fn] * len(work), work, [self.options.cpus_per_task] * len(work)))
        if self.options.cluster == "local":
            for job in jobs:  # submitit waits 15 s for a lost task's result to appear on a slow shared file system;
                job._results_timeout_s = LOCAL_RESULT_WAIT_SECONDS  # a local one has it at once, or never
        return jobs

    def imap(self, fn: Callable[[T], R], items: Iterable[T], on_tick: Callable[[str, int], None] | None = None
             ) -> Iterator[R]:
        """Each array task's results as it ends; the tasks' progress ticks do not reach this process (``on_tick``
        is not called: the caller counts a finished task's work when its result arrives, as with dask)."""
        work = list(items)
        if not work:
            return
        submitit = require_submitit()
        jobs = self.submit(fn, work)
        lost: list[str] = []
        try:
            for job in submitit.helpers.as_completed(jobs, poll_frequency=POLL_SECONDS[self.options.cluster]):
                try:
                    results = job.result()
                except Exception as exc:  # failed, cancelled, timed out, node lost: its cells are not stored
                    lost.append(f"{job.job_id}: {_first_line(exc)}")
                    continue
                yield from results
                _forget(job)  # its results are stored now: its pickles go, its logs stay
        except BaseException:
            for job in jobs:  # this process stops (Ctrl-C, an error): the tasks still queued or running stop too
                if not job.done():
                    job.cancel(check=False)
            raise
        if lost:
            raise PlantseekError(f"{len(lost)} of {len(jobs)} SLURM array tasks ended without results ("
                                 f"{'; '.join(lost[:3])}{'; ...' if len(lost) > 3 else ''}); their cells are not "
                                 f"stored: run the same command again to run them (logs: {self.options.log_folder})")


def _forget(job: Any) -> None:
    """Delete a finished task's pickled input and result (its logs stay): a grid's masks are not kept twice."""
    for path in (job.paths.result_pickle, job.paths.submitted_pickle):
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:160]
