"""The training engine's version: part of every cell's identity (:meth:`plantseek.records.cells.CellConfig.identity`).

A cell's numbers are a function of its identity on a given kind of CPU: bit for bit the same whatever else is trained
with it (the bundle, ``--max-batch``), whatever ``--jobs``, executor or resume order. They need not equal another
engine's. A change to the engine that changes any trained network's bytes bumps :data:`ENGINE`, and with it every
cell id, so that a store's cells of an older engine are re-run, never mixed with the new ones.

Engines:

- **1**: every network trained on its full-size host, batched networks bit-identical to the per-network path
  (:func:`plantseek.train.loop.train_model`). Every cell stored before the engine version existed (schema version
  5 and older) is an engine-1 cell, and engine-1 cell ids leave the version out of the hash (so those stored ids
  stay valid).
- **2**: as 1, but a sparse MLP whose live units make a network of less than half the host's parameters
  trains as that compacted network (:mod:`plantseek.train.compact`): equal to engine 1 up to float rounding, not
  bit for bit.
- **3**: as 2, but the networks of every other host (convolutional, attention) are trained stacked, K at once
  (:mod:`plantseek.train.stacked`), each held to one batch-independent reference: equal to the per-network path up to
  float rounding. MLP networks train exactly as under engine 2, so an MLP cell's engine stays 2
  (:func:`cell_engine`): its id, its bytes and its place on the leaderboard do not change.

A cell's engine (:func:`cell_engine`) is the version of the engine that last changed how its host family trains: it
is what the cell id hashes and what the store records per cell.

``PLANTSEEK_ENGINE`` (an environment variable, for benchmarks side by side with the previous engine) selects another
known engine in the processes that see it: :func:`active_engine` is what trains and what cell ids hash, so the ids
of cells trained that way stay truthful. Set it for every process of a run (a remote Dask cluster included) or not
at all.
"""

from __future__ import annotations

import os

from plantseek.core.errors import ConfigError

#: The engine of cells stored before the version existed; its cell ids do not hash the version.
FIRST_ENGINE = 1
#: The engine this code trains with.
ENGINE = 3
#: Every engine version this code can train with.
ENGINES = (1, 2, 3)
#: Per engine, the host families (:attr:`plantseek.planted.task.Task.family`) it trains exactly as an earlier engine
#: did, and that engine: their cells keep that engine's version (ids, bytes, settings).
UNCHANGED: dict[int, dict[str, int]] = {3: {"MLP": 2}}
#: The environment variable that selects another engine of :data:`ENGINES`.
ENGINE_VARIABLE = "PLANTSEEK_ENGINE"


def active_engine() -> int:
    """The engine this process trains with: :data:`ENGINE`, or the one ``PLANTSEEK_ENGINE`` names."""
    text = os.environ.get(ENGINE_VARIABLE, "").strip()
    if not text:
        return ENGINE
    if not text.isdigit() or int(text) not in ENGINES:
        raise ConfigError(f"{ENGINE_VARIABLE}={text!r} is not a known training engine "
                          f"({', '.join(map(str, ENGINES))})")
    return int(text)


def compacts(engine: int) -> bool:
    """Whether ``engine`` trains sparse MLPs compacted to their live units."""
    return engine >= 2


def stacks(engine: int) -> bool:
    """Whether ``engine`` trains the networks of hosts other than the MLP stacked (:mod:`plantseek.train.stacked`)."""
    return engine >= 3


def cell_engine(engine: int, family: str) -> int:
    """The engine version of a cell of host family ``family`` trained by ``engine``: ``engine``, or the earlier
    version that trains that family the same way (:data:`UNCHANGED`)."""
    return UNCHANGED.get(engine, {}).get(family, engine)
