"""What the parent holds of a prune worker that the pruner inside it cannot shape.

* :func:`output_file`: the worker's stdout and stderr go to an *unnamed* file (``O_TMPFILE``) the parent opens
  before the worker starts; :func:`last_output_line` reads its tail through that same descriptor (``pread``,
  at most :data:`TAIL_BYTES`). Nothing is ever opened by a path in the worker's folder, so a pruner that
  replaces a file there (a symbolic or hard link to the leaderboard key or to ``/proc/self/environ``, a FIFO)
  changes nothing the parent reads.
* :class:`CpuClock`: the worker's CPU seconds (user + system, with those of children it reaped), from
  ``/proc/<pid>/stat`` opened when the worker starts, before it loads any pruner, and read again through that
  descriptor: measured by the kernel, outside the pruner's reach (the worker cannot fork).
* :func:`scrubbed_environment`: the environment a worker (or the template it is forked from) gets: without the
  leaderboard key's variables and any other secret-looking ``PLANTSEEK_*`` variable, without ``XDG_CONFIG_HOME``
  or any variable naming the key's file or folder, and with ``HOME`` set to a folder of the worker's own.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import IO, Mapping

from plantseek.core.reasons import sanitise_reason

TAIL_BYTES = 400  # how much of the worker's output end is read for its last line
SECRET_ENV = ("PLANTSEEK_KEY", "PLANTSEEK_KEY_FILE", "XDG_CONFIG_HOME")
SECRET_WORDS = ("KEY", "SECRET", "TOKEN", "PASSWORD", "CREDENTIAL")


def output_file() -> IO[bytes]:
    """A new unnamed file (no path in any folder) for a worker's stdout and stderr."""
    return tempfile.TemporaryFile(prefix="plantseek-output-")


def last_output_line(out: IO[bytes]) -> str:
    """The last non-empty line of the worker's output, sanitised, read through the parent's descriptor."""
    try:
        fd = out.fileno()
        size = os.fstat(fd).st_size
        tail = os.pread(fd, TAIL_BYTES, max(0, size - TAIL_BYTES))
    except (OSError, ValueError):
        return ""
    lines = [ln for ln in (sanitise_reason(ln, 200) for ln in tail.decode("utf-8", "replace").splitlines()) if ln]
    return lines[-1] if lines else ""


class CpuClock:
    """CPU seconds of one worker process, read from its ``/proc/<pid>/stat`` through a descriptor opened at once
    (call it right after the worker starts, before it runs a pruner)."""

    def __init__(self, pid: int) -> None:
        try:
            self.fd: int | None = os.open(f"/proc/{int(pid)}/stat", os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            self.fd = None
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def seconds(self) -> float:
        """utime + stime + cutime + cstime in seconds; NaN once the process is gone (or unreadable)."""
        if self.fd is None:
            return math.nan
        try:
            text = os.pread(self.fd, 4096, 0).decode("ascii", "replace")
            fields = text[text.rindex(")") + 2:].split()  # after the command name, which may hold anything
            return sum(int(fields[i]) for i in (11, 12, 13, 14)) / self.tick  # fields 14-17 of proc(5)
        except (OSError, ValueError, IndexError):
            return math.nan

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def key_locations(environ: Mapping[str, str]) -> list[str]:
    """The leaderboard key's file and folder as ``environ`` names them (``$PLANTSEEK_KEY_FILE`` and the default)."""
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".config")
    paths = [Path(base) / "plantseek" / "leaderboard.key"]
    if environ.get("PLANTSEEK_KEY_FILE"):
        paths.append(Path(environ["PLANTSEEK_KEY_FILE"]).expanduser())
    out = set()
    for p in paths:
        for q in (p, p.parent) if p.parent.name == "plantseek" else (p,):  # never a shared folder (the cwd)
            out.add(str(q))
            try:
                out.add(str(q.resolve()))
            except OSError:
                pass
    return sorted(out)


def is_secret(name: str, value: str, locations: list[str]) -> bool:
    return (name in SECRET_ENV or (name.startswith("PLANTSEEK_") and any(w in name for w in SECRET_WORDS))
            or any(loc in value for loc in locations))


def scrubbed_environment(environ: Mapping[str, str], home: str) -> dict[str, str]:
    """``environ`` without secrets (:func:`is_secret`), ``HOME`` set to ``home``."""
    locations = key_locations(environ)
    env = {k: v for k, v in environ.items() if not is_secret(k, v, locations)}
    env["HOME"] = home
    return env
