"""Sends itself SIGKILL."""
import os
import signal


class KillsItself:
    name = "kills-itself"

    def prune(self, model, data, density, *, generator, budget):
        os.kill(os.getpid(), signal.SIGKILL)
