"""Cells under the paper protocol prune biases (ranked with the weights): the grid gives their pruners a budget with
``prunable_biases``; the harness validates bias entries exactly, resolves densities over weights and biases, and
trains the masked biases as a plain Adam loop written here does. Calibrated cells are untouched."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

import plantseek
from plantseek.core import seeding
from plantseek.planted.task import DataConfig
from plantseek.nets.masks import kept_count, parameter_density, prunable_parameter_shapes, unpack_mask
from plantseek.run.grid import expand
from plantseek.run.bundle import run_group
from plantseek.train.compact import compact_plan
from plantseek.run.recheck import mismatch
from plantseek.records.cells import CellConfig
from plantseek.run.suites import SUITES
from plantseek.score.evaluation import model_metric
from plantseek.store.rows import json_default
from plantseek.train.config import TrainConfig

TRAIN = TrainConfig(epochs=1, adam_kernel="single-tensor")
PAPER_BUDGET = TrainConfig(epochs=1, prunable_biases=True)
BASE = dict(task="relu", depth=4, width=20, seed=0, train=TRAIN, n_samples=600, training_protocol="paper")


def test_paper_suites_make_biases_prunable_and_calibrated_cells_are_unchanged():
    for name in ("paper-singleshot", "paper-multishot", "paper-strong"):
        assert {c.budget.prunable_biases for c in expand(SUITES.get(name).with_overrides(seeds=[0]))} == {True}
    default = expand(SUITES.get("default"))
    assert {c.budget for c in default} == {TrainConfig()}  # the budget field at its default: ids unchanged
    paper = expand(SUITES.get("default").with_overrides(training_protocol="paper"))
    for c, p in zip(default, paper):  # a paper cell differs from its calibrated twin in exactly these two fields
        assert dataclasses.replace(p, training_protocol="calibrated", budget=c.budget) == c
        assert p.budget == TrainConfig(prunable_biases=True) and p.identity()["budget"] == {"prunable_biases": True}
        assert p.cell_id != c.cell_id


def plain_adam_with_bias_mask(inst, mask, config, generator):
    """Plain torch.optim.Adam from the host's initial weights, weights AND biases multiplied by their masks."""
    params = []
    for l in range(inst.arch.n_layers):
        w, b = (inst.initial_state[f"layers.{l}.{k}"].float().clone().requires_grad_(True) for k in ("weight", "bias"))
        params.append((w, b, mask[f"layers.{l}.weight"].float(), mask[f"layers.{l}.bias"].float()))

    def forward(x):
        for i, (w, b, mw, mb) in enumerate(params):
            x = torch.nn.functional.linear(x, w * mw, b * mb)
            x = torch.relu(x) if i < len(params) - 1 else x
        return x

    optimizer = torch.optim.Adam([p for w, b, _, _ in params for p in (w, b)], lr=config.lr)
    x, y = inst.data.train.x.float(), inst.data.train.y.float()
    for _ in range(config.epochs):
        perm = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), config.batch_size):
            idx = perm[start: start + config.batch_size]
            loss = torch.nn.functional.mse_loss(forward(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return params


def test_a_paper_cell_prunes_biases_counts_them_and_trains_them_as_plain_adam():
    cells = [CellConfig(**BASE, pruner="magnitude", density=d, budget=PAPER_BUDGET) for d in ("0.1", "ticket")]
    (config, result), (_, ticket_cell) = run_group(cells)
    assert result.status == "ok" and ticket_cell.status == "ok", (result.error, ticket_cell.error)
    inst = plantseek.plant("relu", depth=4, width=20, seed=0, data=DataConfig(n_samples=600))
    shapes = prunable_parameter_shapes(inst.arch, True)
    total = sum(s[0] * (s[1] if len(s) > 1 else 1) for s in shapes.values())
    assert total == inst.arch.n_prunable + sum(s[0] for s in inst.arch.bias_shapes().values())
    mask = unpack_mask(result.mask, shapes)
    assert sum(int(m.sum()) for m in mask.values()) == kept_count(0.1, total)
    assert result.achieved_density == kept_count(0.1, total) / total
    assert result.metrics["weight_density"] == parameter_density(mask, inst.arch.weight_shapes())
    assert any(not m.all() for n, m in mask.items() if n.endswith("bias"))  # magnitude pruned some biases
    # "ticket": as many weights and biases as the planted ticket keeps
    assert ticket_cell.density == parameter_density(inst.ticket, shapes)
    # weak training = plain Adam with masked weights and biases, written independently
    params = plain_adam_with_bias_mask(inst, mask, TRAIN, seeding.generator(0, "train"))
    state = {f"layers.{l}.{k}": t.detach() for l, (w, b, _, _) in enumerate(params) for k, t in (("weight", w),
                                                                                                  ("bias", b))}
    model = plantseek.families.mlp.network.build_model(inst.arch, state, torch.float32)
    assert result.weak_metric == pytest.approx(model_metric(inst, model, mask), rel=1e-4)
    # the ticket-density cell trains compacted to its live units (plantseek.train.compact): plain Adam all the same
    ticket_mask = unpack_mask(ticket_cell.mask, shapes)
    assert compact_plan(inst.arch, ticket_mask, TRAIN) is not None
    params = plain_adam_with_bias_mask(inst, ticket_mask, TRAIN, seeding.generator(0, "train"))
    state = {f"layers.{l}.{k}": t.detach() for l, (w, b, _, _) in enumerate(params) for k, t in (("weight", w),
                                                                                                  ("bias", b))}
    model = plantseek.families.mlp.network.build_model(inst.arch, state, torch.float32)
    assert ticket_cell.weak_metric == pytest.approx(model_metric(inst, model, ticket_mask), rel=1e-4)
    # verify/recheck recomputes the stored densities and metrics of such a cell (biases counted)
    row = {"mask": result.mask, "achieved_density": result.achieved_density, "strong_metric": result.strong_metric,
           "metrics_json": json.dumps(result.metrics, default=json_default)}
    assert mismatch(row, inst, config) == "" and mismatch(row, inst) == ""
    tampered = {**row, "achieved_density": result.metrics["weight_density"]}
    assert "achieved_density" in mismatch(tampered, inst, config)


def test_a_weights_only_mask_fails_a_paper_cell_in_one_line(tmp_path):
    path = tmp_path / "weights_only.py"
    path.write_text(
        "import torch\n"
        "class WeightsOnly:\n"
        "    name = 'weights-only'\n"
        "    def prune(self, model, data, density, *, generator, budget):\n"
        "        from plantseek.nets.masks import select_top\n"
        "        return select_top({n: p.detach().abs() for n, p in model.prunable().items()}, density)\n")
    ref = f"{path}:WeightsOnly"
    [(_, paper)] = run_group([CellConfig(**BASE, pruner=ref, density="0.1", budget=PAPER_BUDGET)])
    assert paper.status == "failed" and "missing prunable parameter(s) layers.0.bias" in paper.error
    assert "\n" not in paper.error
