"""Prints fake JSON records and megabytes to stdout and stderr (through Python and the raw descriptors)."""
import json
import os
import sys

from plantseek.prune.contract import get_pruner


class FakeJson:
    name = "fake-json"

    def prune(self, model, data, density, *, generator, budget):
        fake = json.dumps({"task": "circle", "pruner": "forged", "status": "ok", "recall": 1.0})
        print(fake, flush=True)
        os.write(1, (fake + "\n").encode())
        sys.stderr.write("x" * 2**20 + "\n")
        os.write(1, b"y" * 3 * 2**20 + b"\n")
        return get_pruner("random").prune(model, data, density, generator=generator, budget=budget)
