"""Ends its own process with os._exit(0)."""
import os


class Exits:
    name = "exits"

    def prune(self, model, data, density, *, generator, budget):
        os._exit(0)
