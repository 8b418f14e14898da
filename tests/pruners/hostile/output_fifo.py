"""Makes ``output.txt`` a FIFO (a harness opening it would block for ever), then exits 1."""
import os


class OutputFifo:
    name = "output-fifo"

    def prune(self, model, data, density, *, generator, budget):
        for name in ("output.txt", "output"):
            try:
                os.mkfifo(name)
            except OSError:
                pass
        print("fifo in place", flush=True)
        os._exit(1)
