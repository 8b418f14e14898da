"""Clears its own PR_SET_PDEATHSIG (so that its parent's death no longer kills it), names its thread
``orphan-ready`` (for the test to see it got this far), ignores every signal it can and sleeps forever."""
import ctypes
import signal
import time

PR_SET_PDEATHSIG, PR_SET_NAME = 1, 15


class Orphan:
    name = "orphan"

    def prune(self, model, data, density, *, generator, budget):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) != 0:
            raise RuntimeError("could not clear PR_SET_PDEATHSIG")
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_IGN)
        libc.prctl(PR_SET_NAME, ctypes.c_char_p(b"orphan-ready"), 0, 0, 0)
        while True:
            time.sleep(0.05)
