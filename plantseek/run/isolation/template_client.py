"""Starting prune workers, parent side: this process's template process (:mod:`.prune_template`) and the handle
of a worker it forked.

:func:`template` gives this process's template, starting it on first use (a fresh interpreter: exec, in its own
session, with the environment :func:`worker_environment` gives, stdin/stdout/stderr on ``/dev/null``; it dies
with this process). A child process of ours (a pool worker) starts its own. :class:`ForkedWorker` is what
:class:`plantseek.run.isolation.workers.PruneWorker` holds of a worker: its pid, its request pipe, and ``wait``
(the exit status, which only the template, the worker's parent, can reap: asked over the socket).
"""

from __future__ import annotations

import atexit
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from typing import IO

from plantseek.run.isolation.worker_channel import scrubbed_environment

MAX_ANSWER = 2**16
ANSWER_SLACK = 60.0  # seconds the template may take beyond a wait's own limit to answer, on a loaded machine


class TemplateDied(Exception):
    """The template process is gone (or answered garbage)."""


def worker_environment(home: str | None = None) -> dict[str, str]:
    """This process's environment without secrets, ``HOME`` = ``home`` (the worker's folder; default: the temporary
    folder): :func:`plantseek.run.isolation.worker_channel.scrubbed_environment`."""
    env = scrubbed_environment(os.environ, home or tempfile.gettempdir())
    # A BLAS library first loaded after the restriction (scipy's own OpenBLAS, imported by a pruner or by planting
    # code) cannot start its thread pool in the sandbox and aborts the worker: it gets one thread, as torch does.
    env["OPENBLAS_NUM_THREADS"] = "1"
    return env


class Template:
    """This process's template process and the socket to it (one request at a time)."""

    def __init__(self, startup_seconds: float) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.owner = os.getpid()
        self.lock = threading.Lock()
        with theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "plantseek.run.isolation.prune_template", str(self.owner), str(theirs.fileno())],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),), start_new_session=True, env=worker_environment())
        self.sock = mine
        self.sock.settimeout(startup_seconds)  # the first answer comes after the imports
        self.ready = False

    def call(self, request: dict, fds: tuple[int, ...] = (), timeout: float | None = None) -> dict:
        with self.lock:
            try:
                if not self.ready:
                    self._answer()
                    self.ready = True
                self.sock.settimeout(None if timeout is None else timeout + ANSWER_SLACK)
                socket.send_fds(self.sock, [json.dumps(request).encode()], list(fds))
                answer = self._answer()
            except (OSError, ValueError, EOFError) as exc:  # EOFError: it ended before answering
                self.close()
                raise TemplateDied(f"the prune workers' template process failed ({type(exc).__name__})") from None
        if "error" in answer:
            raise TemplateDied(f"the prune workers' template process: {answer['error']}")
        return answer

    def _answer(self) -> dict:
        data = self.sock.recv(MAX_ANSWER)
        if not data:
            raise EOFError
        answer = json.loads(data)
        if not isinstance(answer, dict):
            raise ValueError("not an object")
        return answer

    @property
    def alive(self) -> bool:
        return self.sock.fileno() >= 0 and self.process.poll() is None

    def close(self) -> None:
        self.sock.close()
        try:
            self.process.kill()
        except OSError:
            pass
        self.process.wait()


_TEMPLATE: Template | None = None


def template(startup_seconds: float) -> Template:
    """This process's template, started if there is none (or it died, or it is our parent's)."""
    global _TEMPLATE
    current = _TEMPLATE
    if current is None or current.owner != os.getpid() or not current.alive:
        if current is not None and current.owner == os.getpid():
            current.close()
        current = _TEMPLATE = Template(startup_seconds)
        atexit.register(shutdown)  # stopped and reaped at exit (else it would die with us, unreaped)
    return current


def shutdown() -> None:
    """Stop this process's template (its workers die with it); the next worker starts a new one."""
    global _TEMPLATE
    if _TEMPLATE is not None and _TEMPLATE.owner == os.getpid():
        _TEMPLATE.close()
    _TEMPLATE = None


class ForkedWorker:
    """A worker forked by the template: what :class:`subprocess.Popen` would give (pid, stdin, wait)."""

    def __init__(self, tmpl: Template, pid: int, stdin: IO[bytes]) -> None:
        self.template, self.pid, self.stdin = tmpl, pid, stdin
        self.returncode: int | None = None

    @classmethod
    def start(cls, output: IO[bytes], reply_write: int, startup_seconds: float, sandbox: dict
              ) -> "ForkedWorker":
        """Fork a worker whose stdin is a new pipe, whose answers go to ``reply_write`` and output to ``output``,
        restricted as ``sandbox`` says (:func:`plantseek.run.isolation.prune_worker.restrict`; its ``HOME``: the
        sandbox's ``workdir``)."""
        tmpl = template(startup_seconds)
        request_read, request_write = os.pipe()
        try:
            answer = tmpl.call({"op": "fork", "cwd": os.getcwd(), "env": worker_environment(sandbox["workdir"]),
                                "sandbox": sandbox}, (request_read, reply_write, output.fileno()), 0.0)
        except BaseException:
            os.close(request_write)
            raise
        finally:
            os.close(request_read)
        return cls(tmpl, int(answer["pid"]), os.fdopen(request_write, "wb"))

    def wait(self, timeout: float | None = None) -> int:
        """The worker's returncode (negative: killed by that signal); TimeoutExpired if it still runs."""
        if self.returncode is None:
            try:
                answer = self.template.call({"op": "wait", "pid": self.pid, "timeout": timeout})
            except TemplateDied:
                self.returncode = -9  # the template is gone, and its children died with it
                return self.returncode
            if answer.get("status") is None:
                raise subprocess.TimeoutExpired(f"prune worker {self.pid}", timeout)
            self.returncode = int(answer["status"])
        return self.returncode
