"""Everything downstream on a transformer host: a group of recall cells (plant, prune in workers, train, score,
record) gives ok rows with recovery metrics per projection and per head; attention-default runs every registered
pruner (slow)."""

from __future__ import annotations

import pytest

from plantseek.run.grid import expand
from plantseek.run.bundle import run_group
from plantseek.run.suites import SUITES


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # as in the grid's worker processes


def test_an_attention_group_records_ok_cells_with_head_metrics():
    suite = SUITES.get("attention-default").with_overrides(pruners=["random"], densities=["ticket", "1.0"],
                                                           n_samples=100)
    results = run_group(expand(suite))
    assert [r.status for _, r in results] == ["ok"] * 2, [r.error for _, r in results]
    at_ticket, dense = results[0][1], results[1][1]
    assert at_ticket.ticket_metric == 1.0 and at_ticket.metric_name == "accuracy"
    assert dense.metrics["per_head"] == {"heads": [[0, dense.metrics["per_head"]["heads"][0][1]]], "recall": [1.0]}
    assert dense.metrics["ticket_heads_recovered"] == 1.0
    assert set(dense.metrics["per_projection"]["recall"].values()) == {1.0}
    assert len(at_ticket.metrics["per_layer"]["recall"]) == 7  # q, k, v, o, up, down, read-out


@pytest.mark.slow
def test_attention_default_runs_every_registered_pruner_without_a_failed_cell():
    results = run_group(expand(SUITES.get("attention-default")))
    failed = [(c.pruner, c.density, r.error) for c, r in results if r.status != "ok"]
    assert not failed and len(results) == SUITES.get("attention-default").n_cells
