"""The paper's edge-popup readout (a softmax after every output), stored beside every strong metric for the
reproduction's paper-readout variant."""

from __future__ import annotations

import json

import pytest
import torch

from plantseek.score.evaluation import paper_readout, raw_outputs


def test_a_softmax_after_every_output_by_hand():
    z = torch.tensor([[0.0, 1.0, 2.0], [5.0, 5.0, 5.0]], dtype=torch.float64)
    e = torch.exp(torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64))
    assert torch.allclose(paper_readout(z, "regression"), torch.stack([e / e.sum(), torch.full((3,), 1 / 3,
                                                                                               dtype=torch.float64)]))
    one = torch.tensor([[-3.0], [0.2]], dtype=torch.float64)
    assert torch.equal(paper_readout(one, "regression"), torch.ones(2, 1, dtype=torch.float64))  # one output: 1
    assert torch.equal(paper_readout(z, "classification"), z)  # classes from the raw logits


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from plantseek.cli import main

    path = tmp_path_factory.mktemp("readout") / "s.db"
    assert main(["evaluate", "--suite", "smoke", "--store", str(path), "--no-progress", "--jobs", "1"]) == 0
    return path


def test_every_cell_stores_it_and_it_is_what_the_paper_model_scores(store):
    import sqlite3

    from plantseek.records.cells import CellConfig
    from plantseek.run.group import instance_for
    from plantseek.run.recheck import _unpacked

    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT config_json, metrics_json, mask FROM cells WHERE status = 'ok'").fetchall()
    assert rows
    for config_json, metrics_json, blob in rows:
        config = CellConfig.from_dict(json.loads(config_json))
        stored = json.loads(metrics_json)["strong_metric_paper_readout"]
        instance = instance_for(config)
        mask = _unpacked(blob, instance)
        z = raw_outputs(instance, mask, instance.data.test.x)
        task = instance.task
        y = instance.data.test.y
        if task.kind == "regression":  # one output: the model always says 1
            assert stored == pytest.approx(float(((1 - y.double()) ** 2).mean()), rel=1e-12)
        else:
            assert stored == pytest.approx(float((z.argmax(-1) == y).double().mean()), rel=1e-12)


def test_verify_recomputes_it(store, capsys):
    from plantseek.cli import main

    assert main(["verify", "--store", str(store)]) == 0
