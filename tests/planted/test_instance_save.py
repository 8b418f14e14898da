"""PlantedInstance.save writes atomically (plantseek.core.files): a failed save leaves the old file and no
temporary file behind."""

from __future__ import annotations

import pytest
import torch

import plantseek
from plantseek.planted.instance import PlantedInstance
from plantseek.planted.task import DataConfig


def test_save_round_trips_and_a_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    inst = plantseek.plant("circle", depth=4, width=20, seed=0, data=DataConfig(n_samples=200))
    path = tmp_path / "sub" / "inst.pt"
    inst.save(path)
    before = path.read_bytes()
    back = PlantedInstance.load(path)
    assert all(torch.equal(back.ticket[n], inst.ticket[n]) for n in inst.ticket)

    def broken(obj, f):  # f: the open temporary file the save writes through
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        inst.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["inst.pt"]
