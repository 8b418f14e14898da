"""Prune workers, parent side: start a fresh worker process, talk to it, kill it.

:class:`PruneWorker` starts a worker that holds nothing of this process: forked from this process's template
process (:mod:`plantseek.run.isolation.prune_template`: a fresh interpreter that has imported torch and the worker's
modules and never receives instance data), or, with ``PLANTSEEK_PRUNE_START=exec``, as a new interpreter
``python -m plantseek.run.isolation.prune_worker`` (the same worker, ~1.6 CPU s slower). Either way it holds no open
file of ours, has its own session and process group, the environment without the leaderboard key's variables,
``HOME`` set to a fresh temporary folder of its own, and stdout and stderr on an unnamed file opened here
(:mod:`.worker_channel`; nothing it prints reaches ours, and nothing of its folder is read back). It
restricts itself first (:func:`plantseek.run.isolation.prune_worker.restrict`: its folder, files and limits come
with its start), then is sent :class:`WorkerSetup`, only what the pruner contract promises.

Every request has a wall-clock limit kept here: past it, the worker's process group is killed with SIGKILL. A
worker that dies, is killed or answers garbage raises :class:`WorkerFailure` with a one-line reason
(``worker killed by SIGSEGV``, ``exceeded the time limit of 60 s``, ``worker exited with status 0 before
answering``), followed by the last line it printed (read through our own descriptor of its output file). Each
request's CPU seconds (:meth:`PruneWorker.cpu_seconds`) are read from the kernel's accounting of the worker.
Every worker is registered with a reaper (:mod:`.reaper`) before it is sent a byte: the template's, or this
process's own for exec'd workers. Whenever the process that started it ends, killed or not, the reaper kills it,
whatever the pruner did to its own ``PR_SET_PDEATHSIG``; the template dies with this process
(``PR_SET_PDEATHSIG``, set by our code in the template, out of any pruner's reach).
"""

from __future__ import annotations

import json
import os
import pickle
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import IO, Any

import torch

from plantseek.core.limits import memory_limit_bytes
from plantseek.run.isolation import mechanisms
from plantseek.run.isolation.reaper import Reaper
from plantseek.run.isolation.reaper import start as start_reaper
from plantseek.run.isolation.template_client import ForkedWorker, TemplateDied, worker_environment
from plantseek.run.isolation.worker_channel import CpuClock, last_output_line, output_file

MEMORY_ENV = "PLANTSEEK_PRUNE_MEMORY_GB"
START_ENV = "PLANTSEEK_PRUNE_START"
WORKER_STARTS = ("template", "exec")
DEFAULT_MEMORY_GB = 4.0
STARTUP_SECONDS = 300.0  # starting the interpreter and importing torch, on a loaded machine
MAX_MESSAGE = 256 * 2**20  # the longest answer accepted from a worker


@dataclass(frozen=True)
class WorkerLimits:
    """Limits of one prune worker: address space (None: none) and the largest file it may write."""

    memory_bytes: int | None = int(DEFAULT_MEMORY_GB * 2**30)
    file_bytes: int = 2**30

    @classmethod
    def from_environment(cls) -> "WorkerLimits":
        """The memory limit from ``PLANTSEEK_PRUNE_MEMORY_GB`` (GB; 0: none), else the default."""
        text = os.environ.get(MEMORY_ENV, "")
        try:
            gb = float(text) if text else DEFAULT_MEMORY_GB
        except ValueError:
            gb = DEFAULT_MEMORY_GB
        return cls(memory_bytes=memory_limit_bytes(gb, DEFAULT_MEMORY_GB))

    def memory_text(self) -> str:
        return f"{self.memory_bytes / 2**30:.1f} GB" if self.memory_bytes else "none"


@dataclass(frozen=True)
class WorkerSetup:
    """Everything a worker receives: the contract's arguments (no instance, ticket, test split, scorer, store)."""

    arch: Any
    initial_state: dict[str, torch.Tensor]
    x: torch.Tensor  # training split, as stored (the worker makes float32 copies per call)
    y: torch.Tensor
    kind: str  # the task's loss kind: "regression" or "classification"
    threads: int
    memory_bytes: int | None
    file_bytes: int
    workdir: str
    files: tuple[str, ...]  # file-referenced pruners (the worker may read these files)


class WorkerFailure(Exception):
    """The worker did not answer: it died, was killed, exceeded a limit or answered garbage (one line)."""


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class PruneWorker:
    """One worker process for the calls of one pruner (or one joint run of registered pruners) on one instance."""

    def __init__(self, setup: dict[str, Any], limits: WorkerLimits, files: tuple[str, ...] = ()) -> None:
        mechanisms.warn_once()  # a missing isolation mechanism: said once per run
        self.workdir = tempfile.mkdtemp(prefix="plantseek-prune-")
        self.output = output_file()  # unnamed: read back through this descriptor only, never by a path
        self.limits = limits
        self.sandbox = ""
        self.described: dict[str, Any] = {}  # the pruner's description, once loaded
        reply_read, reply_write = os.pipe()
        sandbox = {"workdir": self.workdir, "files": list(files), "memory_bytes": limits.memory_bytes,
                   "file_bytes": limits.file_bytes}
        try:
            self.process = start_worker(self.output, reply_write, sandbox)
        except BaseException:
            os.close(reply_read)
            self.output.close()
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise
        finally:
            os.close(reply_write)
        self.replies = reply_read
        self.cpu = CpuClock(self.process.pid)  # opened before the worker has loaded any pruner
        self.alive = True
        full = WorkerSetup(threads=torch.get_num_threads(), memory_bytes=limits.memory_bytes,
                           file_bytes=limits.file_bytes, workdir=self.workdir, files=files, **setup)
        try:
            self.sandbox = str(self.request(full, STARTUP_SECONDS, "starting the worker").get("ready"))
        except BaseException:
            self.close()
            raise

    def request(self, message: Any, limit: float | None, what: str) -> dict[str, Any]:
        """Send one request and wait (at most ``limit`` seconds) for its answer, a JSON object."""
        if not self.alive:
            raise WorkerFailure("worker is not running")
        body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self.process.stdin.write(struct.pack("<Q", len(body)) + body)
            self.process.stdin.flush()
        except OSError:
            raise WorkerFailure(self.death()) from None
        deadline = None if not limit else time.monotonic() + limit
        header = self._read(8, deadline, limit, what)
        (size,) = struct.unpack("<Q", header)
        if size > MAX_MESSAGE:
            raise WorkerFailure(self.garbage(f"an answer of {size} bytes"))
        try:
            reply = json.loads(self._read(size, deadline, limit, what))
        except ValueError:
            raise WorkerFailure(self.garbage("an answer that is not JSON")) from None
        if not isinstance(reply, dict):
            raise WorkerFailure(self.garbage(f"a {type(reply).__name__}, not an object"))
        return reply

    def _read(self, n: int, deadline: float | None, limit: float | None, what: str) -> bytes:
        chunks, got = [], 0
        while got < n:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self.replies], [], [], wait)
            if not ready:
                self.kill()
                raise WorkerFailure(f"{what} exceeded the time limit of {limit:g} s")
            chunk = os.read(self.replies, min(n - got, 2**20))
            if not chunk:
                raise WorkerFailure(self.death())
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def death(self) -> str:
        """Why the worker stopped answering (it closed its end: it exited, or is about to)."""
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.with_output("worker closed its answer channel")
        self.kill()
        if code < 0:
            return self.with_output(f"worker killed by {signal_name(-code)}")
        return self.with_output(f"worker exited with status {code} before answering")

    def garbage(self, what: str) -> str:
        self.kill()
        return self.with_output(f"worker answered garbage ({what})")

    def with_output(self, reason: str) -> str:
        """The reason, with the last line the worker printed (if any), sanitised."""
        line = last_output_line(self.output)
        return f"{reason} (last output: {line})" if line else reason

    def cpu_seconds(self) -> float:
        """The worker's CPU seconds so far (user + system, the kernel's count); NaN once it is gone."""
        return self.cpu.seconds()

    def kill(self) -> None:
        """SIGKILL to the worker's process group, then reap it."""
        if self.alive:
            self.alive = False
            for kill in (os.killpg, os.kill):  # the group; the worker itself if it had no group of its own yet
                try:
                    kill(self.process.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            self.process.wait()

    def close(self) -> None:
        """Kill the worker and remove its folder."""
        self.kill()
        for stream in (self.process.stdin,):
            try:
                stream.close()
            except OSError:
                pass
        os.close(self.replies)
        self.cpu.close()
        self.output.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "PruneWorker":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class _Reaper:
    """This process's reaper for the workers it starts itself (``PLANTSEEK_PRUNE_START=exec``)."""

    current: Reaper | None = None


def exec_reaper() -> Reaper | None:
    """This process's reaper (:mod:`.reaper`), started on first use (None where pidfds are unavailable)."""
    current = _Reaper.current
    if current is None or current.owner != os.getpid() or not current.alive:
        current = _Reaper.current = start_reaper(worker_environment())
    return current


def exec_worker(output: IO[bytes], reply_write: int, sandbox: dict) -> subprocess.Popen:
    """A worker as a new interpreter (``PLANTSEEK_PRUNE_START=exec``): ~1.6 CPU s of imports per worker. Registered
    with this process's reaper before it is sent a byte."""
    reaper = exec_reaper()
    process = subprocess.Popen(
        [sys.executable, "-m", "plantseek.run.isolation.prune_worker", str(os.getpid()), str(reply_write),
         json.dumps(sandbox)],
        stdin=subprocess.PIPE, stdout=output, stderr=subprocess.STDOUT, pass_fds=(reply_write,),
        start_new_session=True, cwd=os.getcwd(), env=worker_environment(sandbox["workdir"]))
    if reaper is not None:
        try:
            reaper.register(process.pid)
        except OSError:
            process.kill()
            process.wait()
            raise WorkerFailure("the prune workers' reaper process is gone") from None
    return process


def start_worker(output: IO[bytes], reply_write: int, sandbox: dict) -> Any:
    """A new worker process (a :class:`subprocess.Popen` or a :class:`ForkedWorker`), as ``PLANTSEEK_PRUNE_START``
    says: ``template`` (default: forked from this process's template process) or ``exec``; restricted as
    ``sandbox`` says (:func:`plantseek.run.isolation.prune_worker.restrict`)."""
    how = os.environ.get(START_ENV, "template") or "template"
    if how not in WORKER_STARTS:
        raise WorkerFailure(f"${START_ENV}={how!r}: not one of {', '.join(WORKER_STARTS)}")
    if how == "exec":
        return exec_worker(output, reply_write, sandbox)
    try:
        return ForkedWorker.start(output, reply_write, STARTUP_SECONDS, sandbox)
    except TemplateDied as exc:
        raise WorkerFailure(str(exc)) from None


def isolation_summary(limits: WorkerLimits | None = None) -> str:
    """What isolates a prune call on this machine, for the cells' provenance (:func:`.mechanisms.summary`)."""
    limits = limits or WorkerLimits.from_environment()
    return mechanisms.summary(limits.memory_text(), os.environ.get(START_ENV) == "exec")
