"""The prune workers' template process: ``python -m plantseek.run.isolation.prune_template PARENT_PID SOCKET_FD``.

A fresh interpreter (exec, never a fork of a process that holds an instance), started once per pruning process
(:mod:`.template_client`), that imports torch and the modules a worker needs, discovers the registered pruners,
and then only forks. It never receives instance data: its socket carries fork requests (working folder,
environment, and three descriptors: the worker's request pipe, answer pipe and output file) and wait requests
(the exit status of one of its children, reaped only when asked, so a pid stays valid until then). A forked
worker drops the template's descriptors, starts its own session, dies with the template, reseeds the global
generators, restricts itself while it has one thread (:func:`.prune_worker.restrict`) and becomes a prune worker
exactly as an exec'd one (:func:`.prune_worker.serve`).

Before it imports anything heavy, the template starts its :mod:`.reaper` (in a new PID namespace where the kernel
permits one: root), and registers every worker it forks with it before answering the fork request: whenever the
template ends, killed or not, the reaper kills its workers (and, as the namespace's pid 1, the namespace dies
with it).

Messages are JSON on a ``SOCK_SEQPACKET`` socket: ``{"op": "fork", "cwd": ..., "env": {...}, "sandbox": {...}}``
(the sandbox: :func:`.prune_worker.restrict`) with three descriptors -> ``{"pid": n}``; ``{"op": "wait", "pid":
n, "timeout": seconds or null}`` -> ``{"status": returncode or null}`` (negative for a signal).
``docs/design/run.md``: why a template (the import costs).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time

from plantseek.run.isolation import reaper
from plantseek.run.isolation.reaper import Reaper

PRELOADED = ("torch", "numpy", "plantseek.run.isolation.prune_worker", "plantseek.run.isolation.sandbox",
             "plantseek.families.mlp.network", "plantseek.planted.instance", "plantseek.planted.task",
             "plantseek.prune.contract",
             "plantseek.nets.masks", "plantseek.prune.schedules", "plantseek.train.loop", "plantseek.train.batched",
             "plantseek.run.isolation.metering", "torch.optim")
MAX_REQUEST = 2**20
FIRST_FREE_FD = 4  # 0: requests, 1 and 2: output file, 3: answers
HIGH_FD = 64


def preload() -> None:
    """Import what every worker needs and discover the registered pruners (plug-ins included), once."""
    import importlib

    for name in PRELOADED:
        importlib.import_module(name)
    from plantseek.prune.contract import PRUNERS

    PRUNERS.names()
    warm_up_optimiser()


def warm_up_optimiser() -> None:
    """Build an Adam optimiser once and take one step on a two-entry zero tensor (no random draw, no instance data):
    torch imports its compiler stack (``torch._dynamo``) lazily on the first optimiser, ~1.2 CPU s that every
    training worker would otherwise pay again after the fork."""
    import torch

    p = torch.zeros(2, requires_grad=True)
    opt = torch.optim.Adam([p])
    p.sum().backward()
    opt.step()


def become_worker(sock: socket.socket, fds: list[int], request: dict, template: int) -> None:
    """In a forked child (one thread): drop the template's descriptors, own session, die with the template, restrict
    itself, serve."""
    import random

    from plantseek.run.isolation import prune_worker, sandbox

    sock.detach()  # its descriptor is closed below with every other one; the object must not close a reused fd
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, HIGH_FD) for fd in fds]  # out of the way of 0-3
    for target, fd in zip((0, 3, 1, 2), (high[0], high[1], high[2], high[2])):
        os.dup2(fd, target)
    os.closerange(FIRST_FREE_FD, os.sysconf("SC_OPEN_MAX"))
    os.setsid()
    sandbox.die_with_parent(0 if _STATE.namespaced else template)  # a parent outside its namespace: ppid 0
    os.chdir(str(request["cwd"]))
    os.environ.clear()
    os.environ.update(dict(request["env"]))
    random.seed()  # a fresh interpreter's global generators are seeded from the OS: so are a forked worker's
    if "numpy.random" in sys.modules:
        sys.modules["numpy.random"].seed()
    if "torch" in sys.modules:
        sys.modules["torch"].seed()
    prune_worker.serve(3, prune_worker.restrict(dict(request["sandbox"])))


def run_child(sock: socket.socket, fds: list[int], request: dict, template: int) -> int:
    """The forked child's life as a worker; its exit status (it must never return into the template's loop)."""
    code = 0
    try:
        become_worker(sock, fds, request, template)
    except SystemExit as exc:  # a pruner's sys.exit(n): the worker exits n, as an exec'd one would
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - what an exec'd interpreter would print, then status 1
        import traceback

        traceback.print_exc()
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass
    return code


def fork_worker(sock: socket.socket, request: dict, fds: list[int]) -> dict:
    if len(fds) != 3:
        return {"error": f"a fork request needs 3 descriptors, got {len(fds)}"}
    if _STATE.reaper is not None and not _STATE.reaper.alive:
        os._exit(1)  # no worker without its reaper: the parent sees us gone and starts a new template
    sys.stdout.flush()
    sys.stderr.flush()
    template = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        if _STATE.namespaced:  # ENOMEM: the namespace's pid 1, the reaper, has ended; so does this template
            os._exit(1)
        raise
    if pid == 0:
        os._exit(run_child(sock, fds, request, template))
    for fd in fds:
        os.close(fd)
    if _STATE.reaper is not None:
        _STATE.reaper.register(pid)  # before its parent learns its pid: before it is sent a byte
    return {"pid": pid}


def wait_child(pid: int, timeout: float | None) -> dict:
    """The exit status of child ``pid`` (reaping it), or null if it still runs after ``timeout`` seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            done, status = os.waitpid(pid, 0 if deadline is None else os.WNOHANG)
        except ChildProcessError:
            return {"error": f"no child {pid}"}
        if done:
            return {"status": os.waitstatus_to_exitcode(status)}
        if time.monotonic() >= deadline:
            return {"status": None}
        time.sleep(0.005)


def serve(sock: socket.socket) -> None:
    """Answer fork and wait requests until the parent closes the socket."""
    while True:
        data, fds, _, _ = socket.recv_fds(sock, MAX_REQUEST, 3)
        if not data:
            return
        try:
            request = json.loads(data)
            if request.get("op") == "fork":
                answer = fork_worker(sock, request, fds)
            elif request.get("op") == "wait":
                answer = wait_child(int(request["pid"]), request.get("timeout"))
            else:
                answer = {"error": f"unknown request {request.get('op')!r}"}
        except (ValueError, KeyError, TypeError, OSError) as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        sock.send(json.dumps(answer).encode())


class _STATE:
    reaper: Reaper | None = None
    namespaced = False


def main() -> None:
    from plantseek.run.isolation import sandbox

    parent, fd = int(sys.argv[1]), int(sys.argv[2])
    sandbox.die_with_parent(parent)
    sock = socket.socket(fileno=fd)
    if reaper.available():  # first the namespace (root only), then the reaper, its pid 1; the workers live in it
        _STATE.namespaced = sandbox.enter_pid_namespace()
        _STATE.reaper = reaper.start(dict(os.environ))
    preload()
    sock.send(b'{"ready": true}')
    serve(sock)


if __name__ == "__main__":
    main()
