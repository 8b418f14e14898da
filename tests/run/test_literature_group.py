"""The literature methods (issue 28) run end to end through the harness (plant, prune in workers, train, score,
record) on an MLP, a conv and an attention host: every cell of a narrowed literature-default is ok, with exactly the
requested density."""

from __future__ import annotations

import pytest

from plantseek.run.bundle import run_group
from plantseek.run.grid import expand, group_cells
from plantseek.run.suites import SUITES


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # as in the grid's worker processes


def test_literature_default_narrowed_runs_every_method_on_every_host_kind():
    suite = SUITES.get("literature-default").with_overrides(tasks=["circle", "bars", "recall"], densities=["0.1"],
                                                            seeds=[0], n_samples=200)
    cells = expand(suite)
    results = [r for group in group_cells(cells) for r in run_group(group)]
    failed = [(c.task, c.pruner, r.error) for c, r in results if r.status != "ok"]
    assert not failed
    ran = {(c.task, c.pruner) for c, _ in results}
    literature = {"colt", "worm", "ks-lottery", "frozen-edge-popup"}
    assert {(t, p) for t in ("circle", "bars", "recall") for p in literature} <= ran
    assert ("circle", "layer-pruning") in ran and ("bars", "layer-pruning") not in ran
    assert all(r.achieved_density == pytest.approx(0.1, abs=0.01) for _, r in results)
