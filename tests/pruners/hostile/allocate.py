"""Allocates 20 GB."""
import torch


class Allocate:
    name = "allocate"

    def prune(self, model, data, density, *, generator, budget):
        block = torch.ones(5 * 2**30, dtype=torch.float32)
        raise RuntimeError(f"allocated {block.numel()}")
