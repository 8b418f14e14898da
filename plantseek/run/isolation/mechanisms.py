"""What isolates prune workers on this machine: probed once per process (:func:`probe`), described for the cells'
provenance (:func:`summary`) and, where a mechanism is missing, said in one warning line per run
(:func:`warn_once`), never silently.

The mechanisms (:mod:`.sandbox`, :mod:`.reaper`): Landlock (files, devices, ``/dev/shm``, ``/etc``; from ABI 4 TCP,
from ABI 6 signals), seccomp (no new process, no memfd; x86-64), capabilities dropped (a harness run as root),
pidfds (the reaper: no worker outlives its run), a PID namespace (root: the kernel kills the workers with the
reaper, and hides every other process). Without a PID namespace the reaper still holds where pidfds exist, and
Landlock ABI >= 6 keeps workers from signalling the harness or the reaper, so only a missing pidfd or, without a
namespace, a Landlock ABI below 6 weakens the run's lifetime guarantee.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from dataclasses import dataclass

from plantseek.run.isolation import reaper, sandbox

WARNED_ENV = "PLANTSEEK_ISOLATION_WARNED"  # set once warned: a run's child processes do not warn again
PROBE_NAMESPACE = "import ctypes, sys; sys.exit(ctypes.CDLL(None, use_errno=True).unshare(0x20000000) != 0)"


@dataclass(frozen=True)
class Mechanisms:
    """What this machine gives a prune worker."""

    landlock: int  # the Landlock ABI (0: none)
    seccomp: bool
    pidfd: bool
    pid_namespace: bool
    root: bool

    def missing(self) -> list[str]:
        """One phrase per missing mechanism: what it is and what a pruner can then do."""
        out = []
        if not self.landlock:
            out.append("no Landlock (Linux >= 5.13): a pruner can read and write every file and device this user "
                       "can (/etc, /dev, /dev/shm, the store)")
        elif self.landlock < 6 and not self.pid_namespace:
            out.append(f"Landlock ABI {self.landlock} < 6 and no PID namespace: a pruner can signal the harness's "
                       "processes")
        if not self.seccomp:
            out.append("no seccomp filter (x86-64 only): a pruner can start processes")
        if not self.pidfd:
            out.append("no pidfds (Linux >= 5.3): a pruner that clears its PR_SET_PDEATHSIG can outlive a killed "
                       "run")
        return out


def _pid_namespace_permitted() -> bool:
    """Whether a new PID namespace may be made here (tried in a throwaway interpreter)."""
    try:
        done = subprocess.run([sys.executable, "-I", "-S", "-c", PROBE_NAMESPACE], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


@functools.lru_cache(maxsize=None)
def probe() -> Mechanisms:
    """This machine's mechanisms (probed once per process)."""
    pidfd = reaper.available()
    return Mechanisms(landlock=sandbox.landlock_abi(), seccomp=sandbox.seccomp_available(), pidfd=pidfd,
                      pid_namespace=pidfd and _pid_namespace_permitted(), root=os.geteuid() == 0)


def summary(memory: str, exec_start: bool = False) -> str:
    """What isolates a prune call here, for the cells' provenance (``exec_start``: workers started as new
    interpreters, which get no PID namespace)."""
    m = probe()
    scope = ", ".join(["files", "devices"] + (["TCP"] if m.landlock >= 4 else []) + (["signals"] if m.landlock >= 6
                                                                                      else []))
    parts = ["worker process", f"Landlock ABI {m.landlock} ({scope})" if m.landlock else "no file-system restriction "
             "(Landlock unavailable on this kernel)"]
    if m.root:
        parts.append("capabilities dropped")
    parts.append(f"memory limit {memory}")
    parts.append("no new processes" if m.seccomp else "new processes not prevented")
    parts.append("reaper" if m.pidfd else "no reaper (no pidfds)")
    if m.pid_namespace and not exec_start:
        parts.append("PID namespace")
    return "; ".join(parts)


def warn_once() -> None:
    """One line on stderr naming every missing mechanism, once per run (its child processes inherit the mark)."""
    if os.environ.get(WARNED_ENV):
        return
    os.environ[WARNED_ENV] = "1"
    missing = probe().missing()
    if missing:
        print(f"plantseek: warning: prune workers are less isolated on this machine: {'; '.join(missing)}",
              file=sys.stderr, flush=True)
