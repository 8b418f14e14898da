"""The reaper: a small process of ours that kills prune workers when the process that started them ends, however
it ends (``kill -9`` included): ``python -m plantseek.run.isolation.reaper SOCKET_FD``.

A worker's own ``PR_SET_PDEATHSIG`` is no guarantee: a pruner can clear it. So every process that starts workers
(the template process, or a harness process with ``PLANTSEEK_PRUNE_START=exec``) starts a reaper first
(:func:`start`) and registers each worker with it right after starting it, before the worker has read a byte of
its setup (:meth:`Reaper.register`: a *pidfd*, which names that process and no other, even once its pid is
reused). The reaper holds the other end of a socket that only its starter holds; when the starter ends, the kernel
closes it, the reaper reads end-of-file, sends SIGKILL to every registered worker still alive and exits.

The reaper runs outside every sandbox; a worker cannot signal it (Landlock ABI >= 6 refuses signals out of the
sandbox) and does not share its session or process group (no terminal's Ctrl-C reaches it). The template
process starts it inside a new PID namespace where it may (:func:`plantseek.run.isolation.sandbox.enter_pid_namespace`:
root), so that it is that namespace's first process (pid 1) and the workers are forked into it: when the reaper
exits, the kernel kills every process of the namespace, registered or not, and no signal from inside the namespace
can kill pid 1. Without pidfds (Linux < 5.3) it cannot register workers; :mod:`.mechanisms` warns.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys

MAX_FDS = 64  # descriptors accepted per message


def serve(sock: socket.socket) -> None:
    """Watch the registered workers until ``sock`` ends, then kill those still alive (and, as a namespace's first
    process, every other process of the namespace)."""
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGQUIT, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    watched: set[int] = set()
    while True:
        for fd, _ in poller.poll():
            if fd != sock.fileno():  # a registered worker ended: forget it
                poller.unregister(fd)
                watched.discard(fd)
                os.close(fd)
                continue
            try:
                data, fds, _, _ = socket.recv_fds(sock, 16, MAX_FDS)
            except OSError:
                data, fds = b"", []
            for pidfd in fds:
                watched.add(pidfd)
                poller.register(pidfd, select.POLLIN)
            if not data:
                kill_all(watched)
                return


def kill_all(pidfds: set[int]) -> None:
    """SIGKILL to every registered process still alive; as pid 1 of a namespace, to every process in it too."""
    for pidfd in pidfds:
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        except OSError:
            pass  # it ended meanwhile
    if os.getpid() == 1:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass


class Reaper:
    """The starter's end of its reaper: :meth:`register` workers; the reaper acts when this process ends."""

    def __init__(self, sock: socket.socket, process: subprocess.Popen) -> None:
        self.sock, self.process, self.owner = sock, process, os.getpid()

    def register(self, pid: int) -> None:
        """Hand the reaper a pidfd of ``pid``, a child of this process not yet reaped (so the pid is still its)."""
        pidfd = os.pidfd_open(pid)
        try:
            socket.send_fds(self.sock, [b"w"], [pidfd])
        finally:
            os.close(pidfd)

    @property
    def alive(self) -> bool:
        return self.sock.fileno() >= 0 and self.process.poll() is None

    def close(self) -> None:
        """End the reaper (it kills what is still registered, then exits) and reap it."""
        self.sock.close()
        self.process.wait()


def available() -> bool:
    """Whether this kernel gives pidfds (Linux >= 5.3)."""
    if not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False
    return True


def start(env: dict[str, str] | None = None) -> Reaper | None:
    """A new reaper for this process's workers (a child of this process, in its own session, with no descriptor of
    ours but its socket, with the environment ``env``); None where pidfds are unavailable."""
    if not available():
        return None
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with theirs:
        process = subprocess.Popen([sys.executable, "-m", "plantseek.run.isolation.reaper", str(theirs.fileno())],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   pass_fds=(theirs.fileno(),), start_new_session=True, env=env)
    return Reaper(mine, process)


def main() -> None:
    serve(socket.socket(fileno=int(sys.argv[1])))


if __name__ == "__main__":
    main()
