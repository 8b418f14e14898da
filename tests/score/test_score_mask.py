"""plantseek.score_mask, the public scoring of one mask, and the clean top-level namespace."""

from __future__ import annotations

import pytest
import torch

import plantseek
from plantseek.core.errors import MaskError


@pytest.fixture(scope="module")
def instance():
    return plantseek.plant("circle", depth=4, width=20, seed=1)


def test_the_ticket_scores_itself(instance):
    s = plantseek.score_mask(instance, instance.ticket)
    assert s["recall"] == 1.0 and s["precision"] == 1.0 and s["contains_ticket"]
    assert s["strong_metric"] == s["ticket_metric"]
    assert s["metric_name"] == instance.task.metric_name and s["split"] == "test"


def test_recall_and_precision_by_hand(instance):
    names = instance.arch.weight_names()
    ticket_total = sum(int(instance.ticket[n].sum()) for n in names)
    mask = {n: instance.ticket[n].clone() for n in names}
    first = names[0]
    kept = mask[first].nonzero()[0]
    mask[first][tuple(kept)] = False  # drop one ticket weight
    free = (~instance.ticket[first]).nonzero()[:3]
    for idx in free:  # add three non-ticket weights
        mask[first][tuple(idx)] = True
    s = plantseek.score_mask(instance, mask)
    assert s["recall"] == pytest.approx((ticket_total - 1) / ticket_total)
    assert s["precision"] == pytest.approx((ticket_total - 1) / (ticket_total + 2))
    assert not s["contains_ticket"]


def test_malformed_masks_get_one_line(instance):
    with pytest.raises(MaskError, match="missing prunable parameter"):
        plantseek.score_mask(instance, {})
    bad = {n: instance.ticket[n].float() for n in instance.arch.weight_names()}
    with pytest.raises(MaskError):
        plantseek.score_mask(instance, bad)
    wrong = {n: torch.ones(2, 2, dtype=torch.bool) for n in instance.arch.weight_names()}
    with pytest.raises(MaskError, match="shape"):
        plantseek.score_mask(instance, wrong)


def test_top_level_namespace_is_the_public_api():
    public = [n for n in dir(plantseek) if not n.startswith("_")]
    assert public == sorted(n for n in plantseek.__all__ if not n.startswith("_"))
    for leaked in ("Any", "Path", "importlib", "map_checkout_plugins"):
        assert not hasattr(plantseek, leaked), leaked
    for name in public:
        assert getattr(plantseek, name) is not None
