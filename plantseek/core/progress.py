"""Progress ticks: units of work reported where they happen, to whoever owns the progress bar.

The work of a grid is counted in units that move while a cell group runs: ``plant`` (an instance planted),
``prune`` (a prune call answered) and ``train`` (one network trained for one epoch). The code doing the work calls
:func:`tick`; it is a no-op unless a sink is installed in this process (:func:`reporting`, or :func:`install` in a
worker process, whose sink forwards the ticks to the parent). Ticks are a side channel only: a sink that fails is
ignored, and nothing a tick does can change a result.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Callable, Iterator

Sink = Callable[[str, int], None]
KINDS = ("plant", "prune", "train")

_sink: Sink | None = None
_owner: int | None = None  # the process that installed the sink: a forked child does not report through it


def tick(kind: str, n: int = 1) -> None:
    """Report ``n`` more units of ``kind`` done (to the installed sink, if any; never raises)."""
    if _sink is None or n <= 0 or os.getpid() != _owner:
        return
    try:
        _sink(kind, n)
    except Exception:  # noqa: BLE001 -- progress must never fail the work it reports on
        pass


def install(sink: Sink | None) -> None:
    """Make ``sink`` this process's receiver of ticks (None: none); for a worker process's initializer."""
    global _sink, _owner
    _sink, _owner = sink, (os.getpid() if sink is not None else None)


@contextmanager
def reporting(sink: Sink | None) -> Iterator[None]:
    """Ticks of the block go to ``sink`` (the previous sink is restored after it)."""
    global _sink, _owner
    old_sink, old_owner = _sink, _owner
    install(sink)
    try:
        yield
    finally:
        _sink, _owner = old_sink, old_owner


class QueueSink:
    """A picklable sink putting ``(kind, n)`` on a multiprocessing queue (the parent drains it)."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def __call__(self, kind: str, n: int) -> None:
        self.queue.put_nowait((kind, n))
