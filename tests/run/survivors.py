"""Finding the processes of a test run that outlive it: every process whose environment carries a marker
variable the test set (reads /proc; no psutil)."""

import os
import time
from pathlib import Path


def processes_with(marker: str) -> list[int]:
    """Live processes whose environment carries the marker (reads /proc; no psutil)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                environ = (entry / "environ").read_bytes()
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if marker.encode() in environ and state != "Z":
                found.append(int(entry.name))
    return found


def no_survivors(marker: str, within: float = 10.0) -> list[int]:
    deadline = time.monotonic() + within
    while (alive := processes_with(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive


def named(marker: str, name: str) -> list[int]:
    """Live processes with the marker one of whose threads is called ``name`` (``/proc/<pid>/task/*/comm``)."""
    found = []
    for pid in processes_with(marker):
        try:
            names = {(t / "comm").read_text().strip() for t in Path(f"/proc/{pid}/task").iterdir()}
        except OSError:
            continue
        if name in names:
            found.append(pid)
    return found


def wait_for(marker: str, name: str, count: int, within: float = 300.0) -> list[int]:
    """Wait until ``count`` processes with the marker have a thread called ``name``; those found at the end."""
    deadline = time.monotonic() + within
    while len(found := named(marker, name)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return found
