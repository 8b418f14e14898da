"""Writes a file into the results folder and into the working directory of evaluate."""
import os


class ResultsWriter:
    name = "results-writer"

    def prune(self, model, data, density, *, generator, budget):
        with open(os.path.join(os.environ["HOSTILE_RESULTS"], "forged.csv"), "w") as f:
            f.write("forged")
        raise RuntimeError("results folder written")
