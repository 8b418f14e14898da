"""Compute counting (plantseek.run.isolation.metering, plantseek.records.compute): hand counts of what known
pruners spend, and the per-sample cost against torch's own FLOP counter."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from plantseek.families.mlp.network import Architecture
from plantseek.planted.instance import plant
from plantseek.planted.task import DataConfig
from plantseek.prune.contract import get_pruner
from plantseek.records.compute import compute_record
from plantseek.run.isolation.metering import Spent, install, measuring
from plantseek.train.config import TrainConfig


def test_forward_flops_is_the_hand_count_and_what_torch_counts():
    arch = Architecture((2, 100, 100, 100, 4))
    assert arch.forward_flops() == 2 * (2 * 100 + 100 * 100 + 100 * 100 + 100 * 4) == 41200
    params = arch.init(torch.Generator().manual_seed(0))
    with FlopCounterMode(display=False) as counter:
        arch.forward(params, torch.zeros(7, 2, dtype=torch.float64))
    assert counter.get_total_flops() == 7 * arch.forward_flops()


@pytest.fixture(scope="module")
def circle():
    """Circle depth 4 width 20, 200 samples (180 for training), with the meters installed."""
    undo = install(Architecture)
    yield plant("circle", depth=4, width=20, seed=0, data=DataConfig(n_samples=200))
    undo()


def spent_by(name, instance, budget=TrainConfig(epochs=2)):
    with measuring(Spent()) as spent:
        get_pruner(name).prune(instance.host(), instance.pruner_data(), 0.3,
                               generator=torch.Generator().manual_seed(1), budget=budget)
    return spent


def test_snip_spends_one_forward_and_backward_pass_of_its_prune_batch(circle):
    s = spent_by("snip", circle)  # prune batch 256 > 180 training samples: all of them
    assert (s.train_sample_passes, s.score_forward_samples, s.score_backward_samples) == (0, 180, 180)


def test_synflow_100_spends_one_sample_forward_and_backward_per_round(circle):
    s = spent_by("synflow-100", circle)
    assert (s.train_sample_passes, s.score_forward_samples, s.score_backward_samples) == (0, 100, 100)


def test_multishot_trains_ten_rounds_of_five_epochs_and_scores_nothing_by_magnitude(circle):
    s = spent_by("magnitude-multishot", circle)
    assert (s.train_sample_passes, s.score_forward_samples, s.score_backward_samples) == (10 * 5 * 180, 0, 0)


def test_edge_popup_spends_its_epochs_of_forward_and_backward_passes(circle):
    s = spent_by("edge-popup", circle)
    assert (s.train_sample_passes, s.score_forward_samples, s.score_backward_samples) == (0, 2 * 180, 2 * 180)


def test_compute_record_in_dense_runs():
    counts = {"train_sample_passes": 900.0, "score_forward_samples": 10.0, "score_backward_samples": 5.0}
    rec = compute_record(counts, 1.5, forward_flops=100, n_train=90, epochs=10)
    assert rec["prune_flops"] == (3 * 900 + 10 + 2 * 5) * 100
    assert rec["dense_run_flops"] == 10 * 90 * 3 * 100
    assert rec["compute_dense_runs"] == pytest.approx((2700 + 20) / 2700)
    assert rec["prune_parent_seconds"] == 1.5
    assert compute_record(None, float("nan"), 100, 90, 10) == {"dense_run_flops": 270000.0}


def test_colt_trains_each_partition_on_its_half_only(circle):
    """COLT hands train_masks one training set per network (a list): 5 rounds x 2 partitions x 2 epochs x 90."""
    s = spent_by("colt", circle)
    assert (s.train_sample_passes, s.score_forward_samples, s.score_backward_samples) == (5 * 2 * 2 * 90, 0, 0)
