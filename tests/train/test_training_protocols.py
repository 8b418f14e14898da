"""The weak-training protocols (plantseek.train.training_protocols): ``paper`` is plain Adam on the masked initial
network, checked against a training loop written here independently; the protocol is part of a cell's identity."""

import torch

import plantseek
from plantseek.core import seeding
from plantseek.planted.task import DataConfig
from plantseek.nets.masks import unpack_mask
from plantseek.run.grid import expand, group_cells
from plantseek.run.bundle import run_group
from plantseek.records.cells import CellConfig
from plantseek.run.suites import SUITES
from plantseek.score.evaluation import model_metric
from plantseek.train.config import TrainConfig
from plantseek.train.loop import train_masks
from plantseek.train.training_protocols import TRAINING_PROTOCOLS

CONFIG = TrainConfig(epochs=2, adam_kernel="single-tensor")


def plain_adam(inst, mask, config, generator):
    """Masked MLP in float32 trained with torch.optim.Adam from the host's initial weights, nothing else."""
    layers = []
    for l in range(inst.arch.n_layers):
        w = inst.initial_state[f"layers.{l}.weight"].float().clone().requires_grad_(True)
        b = inst.initial_state[f"layers.{l}.bias"].float().clone().requires_grad_(True)
        layers.append((w, b, mask[f"layers.{l}.weight"].float()))

    def forward(x):
        for i, (w, b, m) in enumerate(layers):
            x = torch.nn.functional.linear(x, w * m, b)
            x = torch.relu(x) if i < len(layers) - 1 else x
        return x

    optimizer = torch.optim.Adam([p for w, b, _ in layers for p in (w, b)], lr=config.lr)
    x, y = inst.data.train.x.float(), inst.data.train.y
    for _ in range(config.epochs):
        perm = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), config.batch_size):
            idx = perm[start: start + config.batch_size]
            loss = torch.nn.functional.cross_entropy(forward(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return forward(inst.data.test.x.float())


def test_paper_protocol_is_plain_adam_on_the_masked_initial_network():
    inst = plantseek.plant("circle", depth=4, width=20, seed=0, data=DataConfig(n_samples=600))
    g = torch.Generator().manual_seed(5)
    mask = {n: torch.rand(s, generator=g) < 0.5 for n, s in inst.arch.weight_shapes().items()}
    train = inst.data.train
    start = TRAINING_PROTOCOLS.get("paper")(inst.initial_state, mask, train.x, train.y, "classification", inst.arch)
    [model] = train_masks(inst.arch, [start], [mask], train.x, train.y, inst.task.loss, CONFIG,
                          [seeding.generator(0, "train")])
    ours = model(inst.data.test.x.float(), mask)
    theirs = plain_adam(inst, mask, CONFIG, seeding.generator(0, "train"))
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_the_grid_trains_paper_cells_from_the_paper_start():
    cell = CellConfig(task="circle", depth=4, width=20, seed=0, pruner="random", density="0.5", train=CONFIG,
                      n_samples=600, training_protocol="paper")
    [(config, result)] = run_group([cell])
    inst = plantseek.plant("circle", depth=4, width=20, seed=0, data=DataConfig(n_samples=600))
    mask = unpack_mask(result.mask, inst.arch.weight_shapes())
    train = inst.data.train
    [model] = train_masks(inst.arch, [inst.initial_state], [mask], train.x, train.y, inst.task.loss, CONFIG,
                          [seeding.generator(0, "train")])
    assert result.status == "ok" and result.weak_metric == model_metric(inst, model, mask)


def test_the_protocol_is_part_of_the_cell_identity_and_of_the_group():
    base = dict(task="circle", depth=5, width=100, seed=0, pruner="random", density="0.1")
    calibrated, paper = CellConfig(**base), CellConfig(**base, training_protocol="paper")
    assert "training_protocol" not in calibrated.identity()  # the default: earlier cell ids stay valid
    assert paper.identity()["training_protocol"] == "paper" and paper.cell_id != calibrated.cell_id
    assert len(group_cells([calibrated, paper])) == 2  # one group trains under one protocol
    assert {c.training_protocol for c in expand(SUITES.get("paper-singleshot").with_overrides(seeds=[0]))} \
        == {"paper"}
    assert {c.training_protocol for c in expand(SUITES.get("default"))} == {"calibrated"}
