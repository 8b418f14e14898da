"""Kills the process that started it (the harness's template process), or, where that lies outside its PID
namespace (``getppid()`` is 0 there), the namespace's first process (the reaper that kills the workers)."""
import os
import signal


class KillParent:
    name = "kill-parent"

    def prune(self, model, data, density, *, generator, budget):
        os.kill(os.getppid() or 1, signal.SIGKILL)
        raise RuntimeError("parent killed")
