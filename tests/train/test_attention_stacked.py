"""The stacked engine (plantseek.train.stacked) on a transformer host equals the per-network path."""

from __future__ import annotations

import torch

from plantseek import plant
from plantseek.planted.task import DataConfig
from plantseek.nets.masks import select_top
from plantseek.train.config import TrainConfig
from plantseek.train.loop import train_masks
from plantseek.train.stacked import train_masks_stacked


def test_stacked_training_of_transformers_equals_one_at_a_time():
    inst = plant("recall", depth=4, width=24, seed=0, head_dim=4, data=DataConfig(n_samples=80))
    arch, train = inst.arch, inst.data.train
    masks = [select_top({n: torch.rand(s, generator=torch.Generator().manual_seed(i))
                         for n, s in arch.prunable_shapes().items()}, d) for i, d in enumerate((0.1, 0.5, 1.0))]
    config = TrainConfig(epochs=2, batch_size=16)
    gens = lambda: [torch.Generator().manual_seed(7 + i) for i in range(3)]  # noqa: E731
    common = (arch, inst.initial_state, masks, train.x, train.y, inst.task.loss, config)
    one = train_masks(*common, gens(), dtype=torch.float64, engine="loop")
    many = train_masks_stacked(*common, gens(), dtype=torch.float64)
    for a, pb, m in zip(one, many, masks):
        pa = dict(a.named_parameters())
        assert not torch.equal(pa["blocks.0.q.weight"], inst.initial_state["blocks.0.q.weight"])  # it trained
        for n in pa:
            torch.testing.assert_close(pa[n], pb[n], rtol=1e-9, atol=1e-9)
        assert bool((pb["blocks.1.up.weight"][~m["blocks.1.up.weight"]] == 0).all())
