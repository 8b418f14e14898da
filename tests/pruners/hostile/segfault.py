"""Sends itself SIGSEGV."""
import os
import signal


class Segfault:
    name = "segfault"

    def prune(self, model, data, density, *, generator, budget):
        os.kill(os.getpid(), signal.SIGSEGV)
