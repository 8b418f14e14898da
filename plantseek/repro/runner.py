"""Running a reproduction: every grid of a scale expanded into the suites' own cells, run by the ordinary grid
runner (``plantseek.run.grid.run_cells``: a results store, finished cells skipped, instances shared across grids),
and the stored cells split back into one frame per grid for the checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import pandas as pd

from plantseek.repro.scales import Scale
from plantseek.run.grid import expand, run_cells
from plantseek.records.cells import CellConfig
from plantseek.run.suites import Suite


@dataclass(frozen=True)
class Coverage:
    """How many of a grid's cells the store holds: finished (ok), failed, missing."""

    grid: str
    description: str
    cells: int
    ok: int
    failed: int

    @property
    def missing(self) -> int:
        return self.cells - self.ok - self.failed


def grid_cells(scale: Scale) -> dict[str, list[CellConfig]]:
    """The cells of every grid of ``scale``, by grid name."""
    return {name: expand(suite) for name, suite in scale.suites().items()}


def unique_cells(by_grid: Mapping[str, list[CellConfig]]) -> list[CellConfig]:
    """Every cell once (grids overlap: e.g. the default-noise grid and the synflow-100 grid share instances)."""
    seen: dict[str, CellConfig] = {}
    for cells in by_grid.values():
        for cell in cells:
            seen.setdefault(cell.cell_id, cell)
    return list(seen.values())


def run_scale(scale: Scale, store, *, jobs: int = 1,
              on_result: Callable[[CellConfig, object], None] | None = None,
              on_work: Callable[[object], None] | None = None) -> int:
    """Run the cells of ``scale`` that ``store`` has not finished; the number of cells run (``on_work``: the
    progress of :func:`plantseek.run.grid.run_cells`)."""
    done = store.finished_ids()
    todo = [c for c in unique_cells(grid_cells(scale)) if c.cell_id not in done]
    run_cells(todo, store=store, jobs=jobs, on_result=on_result, on_work=on_work)
    return len(todo)


def grid_views(frame: pd.DataFrame, by_grid: Mapping[str, list[CellConfig]]) -> dict[str, pd.DataFrame]:
    """The successful stored cells of each grid (sanity ablations are not part of any grid)."""
    ok = frame[frame["status"].astype(str).eq("ok")]
    return {name: ok[ok["cell_id"].isin({c.cell_id for c in cells})].reset_index(drop=True)
            for name, cells in by_grid.items()}


def describe(suite: Suite) -> str:
    """What a grid's suite runs, in one line (tasks, host, noise, pruners, densities, seeds, training)."""
    noise = dict(suite.task_options).get("noise")
    seeds = suite.seeds
    seed_text = f"seeds {seeds[0]}–{seeds[-1]}" if seeds == tuple(range(seeds[0], seeds[-1] + 1)) and len(seeds) > 1 \
        else "seed(s) " + ", ".join(map(str, seeds))
    parts = [", ".join(suite.tasks), f"depth {suite.depth}, width {suite.width}",
             "default noise" if noise is None else f"noise {noise:g}", ", ".join(suite.pruner_names()),
             "densities " + ", ".join(suite.densities), seed_text,
             f"{suite.training_protocol} training, epochs {suite.train.epochs}"]
    if suite.n_samples != 10_000:
        parts.append(f"{suite.n_samples} samples")
    return " · ".join(parts)


def coverage(frame: pd.DataFrame, scale: Scale, by_grid: Mapping[str, list[CellConfig]]) -> list[Coverage]:
    """Per grid of ``scale``: what it runs, cells expected, finished, failed."""
    status = dict(zip(frame["cell_id"], frame["status"].astype(str)))
    out = []
    for name, suite in scale.suites().items():
        states = [status.get(c.cell_id) for c in by_grid[name]]
        out.append(Coverage(name, describe(suite), len(states), states.count("ok"),
                            sum(s is not None and s != "ok" for s in states)))
    return out
