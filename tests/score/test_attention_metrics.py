"""Per-projection and per-head recovery metrics of attention hosts (plantseek.families.attention.metrics), by hand."""

from __future__ import annotations

import pytest
import torch

from plantseek.families.mlp.network import Architecture
from plantseek.families.attention.network import TransformerArchitecture
from plantseek.families.attention.metrics import architecture_recovery

ARCH = TransformerArchitecture(vocab=3, seq_len=2, d_model=4, head_dim=2, mlp_width=2, n_blocks=1, out_features=2)


def empty():
    return {n: torch.zeros(s, dtype=torch.bool) for n, s in ARCH.prunable_shapes().items()}


def test_recall_per_projection_and_head_by_hand():
    ticket, mask = empty(), empty()
    ticket["blocks.0.q.weight"][2, 0] = ticket["blocks.0.k.weight"][3, 1] = True  # head 1 (rows 2, 3)
    ticket["blocks.0.v.weight"][0, 2] = ticket["blocks.0.o.weight"][1, 0] = True  # head 0 (row / column 0)
    ticket["readout.weight"][0, 1] = True
    mask["blocks.0.q.weight"][2, 0] = mask["blocks.0.k.weight"][3, 1] = True  # head 1 whole
    mask["blocks.0.v.weight"][0, 2] = True  # half of head 0
    mask["blocks.0.up.weight"][1, 1] = True
    got = architecture_recovery(mask, ticket, ARCH)
    assert got["per_projection"]["recall"] == {"q": 1.0, "k": 1.0, "v": 1.0, "o": 0.0, "up": None, "down": None,
                                               "readout": 0.0}
    assert got["per_projection"]["density"]["q"] == pytest.approx(1 / 16)
    assert got["per_projection"]["density"]["up"] == pytest.approx(1 / 8)
    assert got["per_head"] == {"heads": [[0, 0], [0, 1]], "recall": [0.5, 1.0]}
    assert got["ticket_heads_recovered"] == 0.5


def test_nothing_added_on_other_architectures():
    arch = Architecture((2, 3, 1))
    mask = {n: torch.ones(s, dtype=torch.bool) for n, s in arch.prunable_shapes().items()}
    assert architecture_recovery(mask, mask, arch) == {}
