"""Stop a call that runs too long (a hanging pruner) with a one-line error.

Uses SIGALRM, so it works in the main thread of a process (the harness runs every group in the main thread
of its process, also under ``--jobs``). Python code is interrupted at once; a single native call that never
returns cannot be interrupted this way.
"""

from __future__ import annotations

import contextlib
import signal
import threading

from plantseek.core.errors import TimeLimitError


@contextlib.contextmanager
def time_limit(seconds: float | None, what: str):
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _expire(signum, frame):
        raise TimeLimitError(f"{what} exceeded the time limit of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
