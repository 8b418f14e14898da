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
"""

from __future__ import annotations

#: The engine of cells stored before the version existed; its cell ids do not hash the version.
FIRST_ENGINE = 1
#: The engine this code trains with.
ENGINE = 1
#: Every engine version this code knows (the frame and the page read any of them).
ENGINES = (1,)
