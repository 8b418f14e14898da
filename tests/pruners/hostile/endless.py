"""Ignores SIGALRM, catches every exception (a time-limit error too) and loops forever."""
import signal


class Endless:
    name = "endless"

    def prune(self, model, data, density, *, generator, budget):
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        while True:
            try:
                sum(range(1000))
            except BaseException:  # noqa: BLE001
                pass
