"""Seeded random streams. One integer seed fans out into independent, named streams.

Every random draw in plantseek comes from an explicit ``torch.Generator`` made here, never from global state,
so the same seed gives bit-identical instances, data and results on the CPU.
"""

from __future__ import annotations

import hashlib

import torch


def derive_seed(seed: int, *streams: str | int) -> int:
    """A 63-bit seed for the stream named by ``streams`` under ``seed`` (stable across processes)."""
    text = ":".join([str(int(seed)), *map(str, streams)])
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def generator(seed: int, *streams: str | int) -> torch.Generator:
    """A CPU ``torch.Generator`` for the stream named by ``streams`` under ``seed``."""
    g = torch.Generator(device="cpu")
    g.manual_seed(derive_seed(seed, *streams))
    return g
