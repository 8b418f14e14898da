"""The lottery-ticket literature's methods (issue 28): COLT, WORM, KS-Lottery, layer pruning at initialisation and
partially frozen edge-popup, each against hand-checked expectations, plus exact kept counts on the MLP, conv and
attention hosts."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.stats import ks_2samp

from plantseek import plant
from plantseek.baselines.colt import Colt, overlap_scores, partitions
from plantseek.baselines.frozen_edge_popup import FrozenEdgePopup, frozen_sets
from plantseek.baselines.ks_lottery import ks_ranks, ks_rows
from plantseek.baselines.layer_pruning import LayerPruning, layer_plan
from plantseek.baselines.worm import static_weights, train_epoch, worm_stop
from plantseek.core.errors import ConfigError, PrunerError
from plantseek.families.mlp.network import Architecture
from plantseek.nets.masks import kept_count, layer_counts, mask_count, select_top, validate_pruned_mask
from plantseek.planted.task import DataConfig
from plantseek.prune.contract import get_pruner, protocol_of, tags_of
from plantseek.train.config import TrainConfig

METHODS = ("colt", "worm", "ks-lottery", "layer-pruning", "frozen-edge-popup")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def circle():
    return plant("circle", depth=5, width=20, seed=0, data=DataConfig(n_samples=400))


def bits(mask: dict[str, torch.Tensor]) -> list[int]:
    return [i for i, b in enumerate(torch.cat([m.reshape(-1) for m in mask.values()]).tolist()) if b]


# --- COLT ---------------------------------------------------------------------------------------------------------

def test_colt_keeps_the_overlap_of_two_hand_masks():
    a = {"w": torch.tensor([6.0, 5, 4, 3, 2, 1])}  # ranks 0..5
    b = {"w": torch.tensor([1.0, 6, 5, 2, 4, 3])}  # ranks: 1, 2, 4, 5, 3, 0 -> entries 1, 2, 4, 5, 3, 0
    everything = {"w": torch.ones(6, dtype=torch.bool)}
    scores = overlap_scores([a, b], everything)
    # top-3 of a = {0, 1, 2}, of b = {1, 2, 4}: overlap {1, 2}; top-5: {0..4} & {1, 2, 4, 5, 3} = {1, 2, 3, 4}
    assert bits(select_top(scores, 2 / 6)) == [1, 2]
    assert bits(select_top(scores, 4 / 6)) == [1, 2, 3, 4]
    assert bits(select_top(scores, 3 / 6)) == [1, 2, 3]  # worst ranks 4 (entries 3, 4) tie: position
    # a pruned entry is no candidate and does not count in the ranks: without entry 1, a's top-2 = {0, 2},
    # b's = {2, 4}: overlap {2}
    allowed = {"w": torch.tensor([True, False, True, True, True, True])}
    assert bits(select_top(overlap_scores([a, b], allowed), 1 / 6, allowed=allowed)) == [2]


def test_colt_partitions_are_disjoint_halves():
    parts = partitions(11, 2, gen(0))
    assert [len(p) for p in parts] == [5, 5] and not set(parts[0].tolist()) & set(parts[1].tolist())


def test_colt_rounds_never_revive_and_end_at_the_exact_count(circle):
    colt = Colt()
    ds = [circle.ticket_density, 0.1]
    masks = colt.prune_batch(circle.host(), circle.pruner_data(), ds, generators=[gen(1), gen(2)],
                             budget=TrainConfig(epochs=1))
    for k, d in enumerate(ds):
        rounds = colt.history[k]
        assert len(rounds) == 5 and rounds[-1] is masks[k]
        assert [mask_count(m) for m in rounds] == [kept_count(d ** (r / 5), circle.arch.n_prunable)
                                                  for r in range(1, 6)]
        for earlier, later in zip(rounds, rounds[1:]):
            assert all(bool((later[n] & ~earlier[n]).sum() == 0) for n in later)
    again = Colt().prune_batch(circle.host(), circle.pruner_data(), ds, generators=[gen(1), gen(2)],
                               budget=TrainConfig(epochs=1))
    assert all(torch.equal(masks[k][n], again[k][n]) for k in range(2) for n in masks[k])


# --- WORM ---------------------------------------------------------------------------------------------------------

def test_worm_stops_on_a_hand_sequence_of_masks():
    m = [{"w": torch.tensor(v, dtype=torch.bool)} for v in (
        [1, 1, 0, 0], [1, 0, 1, 0], [1, 0, 1, 0], [1, 0, 1, 0], [0, 1, 0, 1], [0, 1, 0, 1], [0, 1, 0, 1])]
    # distances: 2/4, 0, 0, 1, 0, 0: window 2, threshold 0.1 -> the queue (d1, d2) = (0, 0) first: epoch 3
    assert worm_stop(m, 0.1, 2) == 3
    assert worm_stop(m, 0.1, 3) is None  # never three small distances in a row
    assert worm_stop(m[3:], 0.1, 2) == 3  # from epoch 3 on: distances 1, 0, 0
    assert torch.equal(static_weights(m[0], m[1])["w"], torch.tensor([False, False, False, True]))


def test_worm_truncated_weights_do_not_move():
    arch = Architecture((2, 6, 3))
    state = {n: p.clone().float().requires_grad_(True) for n, p in arch.init(gen(0)).items()}
    start = {n: p.detach().clone() for n, p in state.items()}
    static = {n: torch.rand(s, generator=gen(i)) < 0.5 for i, (n, s) in enumerate(arch.prunable_shapes().items())}
    x, y = torch.rand(64, 2, generator=gen(3)), torch.randint(0, 3, (64,), generator=gen(4))
    optimizer = torch.optim.Adam(list(state.values()), lr=0.05)
    for _ in range(3):
        train_epoch(arch, state, static, optimizer, x, y, torch.nn.functional.cross_entropy, 8, gen(5))
    for n, m in static.items():
        assert torch.equal(state[n].detach()[m], start[n][m])  # frozen bit for bit (Adam's moments included)
        assert bool((state[n].detach()[~m] != start[n][~m]).any())  # the others trained (a dead unit's do not)


def test_worm_records_its_truncation_and_keeps_the_exact_count(circle):
    worm = get_pruner("worm")
    mask = worm.prune(circle.host(), circle.pruner_data(), 0.1, generator=gen(0), budget=TrainConfig(epochs=4))
    assert mask_count(mask) == kept_count(0.1, circle.arch.n_prunable)
    assert worm.frozen[0][0] == 0 and worm.frozen[0][1] == 0  # nothing truncated before two masks exist
    assert all(f > 0 for f in worm.frozen[0][2:]) and len(worm.frozen[0]) == 4


# --- KS-Lottery ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("before, after", [
    ([0.0, 1.0, 2.0, 3.0], [0.5, 1.5, 2.5, 3.5]),
    ([0.0, 0.0, 1.0, 1.0], [0.0, 1.0, 1.0, 1.0]),  # ties within and between the samples
    ([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]),
    ([0.0, 1.0, 2.0], [5.0, 6.0, 7.0]),
])
def test_ks_statistic_equals_scipys(before, after):
    d = ks_rows(torch.tensor([before]), torch.tensor([after]))
    assert float(d[0]) == pytest.approx(ks_2samp(before, after).statistic, abs=1e-12)


def test_ks_statistic_equals_scipys_on_random_rows():
    b, a = torch.randn(20, 7, generator=gen(0)), torch.randn(20, 7, generator=gen(1)) * 2
    a[3] = b[3]  # an unchanged row
    d = ks_rows(b, a)
    expected = [ks_2samp(b[i].numpy(), a[i].numpy()).statistic for i in range(20)]
    assert d.tolist() == pytest.approx(expected, abs=1e-12) and float(d[3]) == 0.0


def test_ks_lottery_keeps_whole_rows_by_shift_then_the_largest_change():
    before = {"w": torch.tensor([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [0.0, 1.0, 2.0]])}
    after = {"w": torch.tensor([[0.1, 1.0, 2.0],     # D = 1/3, |change| 0.1 at entry 0
                                [5.0, 6.0, 7.0],     # D = 1 (shifted beyond every value)
                                [0.0, 1.5, 2.0]])}   # D = 1/3, |change| 0.5 at entry 1
    ranks = ks_ranks(before, after)
    # 4 kept: row 1 whole, then the rows of D = 1/3 by |change|: entry (2, 1) before (0, 0)
    assert bits(select_top(ranks, 4 / 9)) == [3, 4, 5, 7]
    assert bits(select_top(ranks, 5 / 9)) == [0, 3, 4, 5, 7]


def test_ks_lottery_end_to_end_keeps_the_exact_count(circle):
    for pb in (False, True):
        budget = TrainConfig(epochs=1, prunable_biases=pb)
        mask = get_pruner("ks-lottery").prune(circle.host(), circle.pruner_data(), 0.05, generator=gen(0),
                                              budget=budget)
        validate_pruned_mask(mask, circle.arch, 0.05, pb)


# --- layer pruning at initialisation ------------------------------------------------------------------------------

def hand_sensitivity(widths):
    return {f"layers.{l}.weight": torch.ones(widths[l + 1], widths[l]) for l in range(len(widths) - 1)}


def test_layer_plan_collapses_the_least_sensitive_layer_to_its_best_units():
    widths = (1, 4, 4, 4, 1)  # 3 hidden layers; 4 + 16 + 16 + 4 = 40 weights
    s = hand_sensitivity(widths)
    s["layers.1.weight"] *= 0.1  # hidden layer 2 (output of weight 1) is the least sensitive
    s["layers.2.weight"][:, 3] = 5.0  # its unit 3 has large outgoing sensitivity, unit 0 the next (below)
    s["layers.1.weight"][0, 0] = 0.3
    collapsed, allowed = layer_plan(s, widths, 0.5, 2, 40)  # floor(3 x 0.5) = 1 layer at most
    assert collapsed == [2]
    assert allowed["layers.1.weight"].sum(dim=1).tolist() == [4, 0, 0, 4]  # units 0 and 3 keep their inputs
    assert allowed["layers.2.weight"].sum(dim=0).tolist() == [4, 0, 0, 4]
    assert bool(allowed["layers.0.weight"].all() and allowed["layers.3.weight"].all())
    # at density 0.1, floor(3 x 0.9) = 2 layers may go (never all three): layer 2, then layer 1 (mean 1 < layer 3's 2)
    assert layer_plan(s, widths, 0.1, 2, 40)[0] == [1, 2]
    # a collapse that would leave fewer weights than the budget is not made: collapsing layer 2 leaves 24 weights,
    # enough at density 0.6 (24 kept), not at 0.65 (26 kept)
    assert layer_plan(s, widths, 0.6, 2, 40)[0] == [2]
    assert layer_plan(s, widths, 0.65, 2, 40)[0] == []


def test_layer_pruning_on_the_mlp_keeps_the_exact_count_and_only_bottleneck_units(circle):
    pruner = LayerPruning()
    masks = pruner.prune_batch(circle.host(), circle.pruner_data(), [0.01, 0.5], generators=[gen(0), gen(1)],
                               budget=TrainConfig(epochs=1))
    for k, d in enumerate([0.01, 0.5]):
        assert mask_count(masks[k]) == kept_count(d, circle.arch.n_prunable)
        for h in pruner.collapsed[k]:
            units = masks[k][f"layers.{h - 1}.weight"].any(dim=1) | masks[k][f"layers.{h}.weight"].any(dim=0)
            assert int(units.sum()) <= 2 * circle.arch.widths[0]
    assert pruner.collapsed[0] == sorted(pruner.collapsed[0]) and len(pruner.collapsed[0]) == 2  # 3 hidden layers


def test_layer_pruning_fails_with_one_line_on_a_conv_host():
    from plantseek.families.conv.network import ConvArchitecture, ConvLayer
    from plantseek.nets.interface import NetworkModule

    arch = ConvArchitecture(1, 8, (ConvLayer(6, kernel=3, pool=2), ConvLayer(6, kernel=3)), 3)
    host = NetworkModule(arch, arch.init(gen(0)))
    with pytest.raises(PrunerError, match="^layer-pruning applies to the MLP hosts only .*ConvArchitecture$"):
        get_pruner("layer-pruning").prune(host, None, 0.1, generator=gen(0), budget=TrainConfig(epochs=1))


# --- partially frozen edge-popup ----------------------------------------------------------------------------------

def test_frozen_sets_by_hand():
    shapes = {"a": (10, 10), "b": (4, 5)}
    counts = {"a": 10, "b": 2}
    sets = frozen_sets(shapes, counts, 0.1, 0.5, gen(0))
    lock_a, prune_a = sets["a"]
    assert int(lock_a.sum()) == 5 and int(prune_a.sum()) == 45  # 50 frozen: floor(0.1 x 50) locked
    lock_b, prune_b = sets["b"]
    assert int(lock_b.sum()) == 1 and int(prune_b.sum()) == 9  # floor(0.1 x 10) = 1 locked of 10 frozen
    assert not bool((lock_a & prune_a).any())
    # the free entries must hold the rest: 10 frozen of 20, 15 to keep -> at least 5 locked (floor(0.3 x 10) = 3)
    tight = frozen_sets({"c": (4, 5)}, {"c": 15}, 0.3, 0.5, gen(0))["c"]
    assert int(tight[0].sum()) == 5 and int(tight[1].sum()) == 5


def test_frozen_weights_stay_frozen_and_counts_are_exact(circle):
    pruner = FrozenEdgePopup()
    ds = [0.1, 0.5]
    masks = pruner.prune_batch(circle.host(), circle.pruner_data(), ds, generators=[gen(0), gen(1)],
                               budget=TrainConfig(epochs=1))
    sizes = {n: math.prod(s) for n, s in circle.arch.prunable_shapes().items()}
    for k, d in enumerate(ds):
        validate_pruned_mask(masks[k], circle.arch, d)
        counts = layer_counts(d, sizes)
        for n, (lock, prune) in pruner.frozen[k].items():
            assert bool((masks[k][n] | ~lock).all()), "a locked weight was dropped"
            assert not bool((masks[k][n] & prune).any()), "a pruned weight was chosen"
            assert int(masks[k][n].sum()) == counts[n]
            assert int((lock | prune).sum()) == math.floor(0.5 * sizes[n] + 0.5)


def test_frozen_share_zero_is_edge_popup(circle):
    budget = TrainConfig(epochs=1)
    plain = get_pruner("edge-popup").prune(circle.host(), circle.pruner_data(), 0.1, generator=gen(3), budget=budget)
    none = FrozenEdgePopup(frozen_share=0.0).prune(circle.host(), circle.pruner_data(), 0.1, generator=gen(3),
                                                    budget=budget)
    assert all(torch.equal(plain[n], none[n]) for n in plain)
    with pytest.raises(ConfigError, match="frozen_share"):
        FrozenEdgePopup(frozen_share=1.5)


# --- registration and the other hosts -----------------------------------------------------------------------------

def test_the_five_are_registered_tagged_and_in_the_literature_suites_only():
    from plantseek.run.suites import SUITES

    protocols = {"colt": "multi-shot", "worm": "single-shot", "ks-lottery": "single-shot",
                 "layer-pruning": "single-shot", "frozen-edge-popup": "strong"}
    for name in METHODS:
        pruner = get_pruner(name)
        assert "ticket-literature" in tags_of(pruner) and protocol_of(pruner) == protocols[name]
    default = SUITES.get("literature-default")
    parts = {s.name: s for s in default.parts()}
    assert set(parts["literature-default-mlp"].pruner_names()) == {*METHODS, "magnitude-multishot", "edge-popup"}
    for other in ("literature-default-conv", "literature-default-attention"):
        assert set(parts[other].pruner_names()) == {*METHODS, "magnitude-multishot", "edge-popup"} - {"layer-pruning"}
    assert all(len(s.seeds) >= 10 for s in SUITES.get("literature-paper").parts())
    for name in ("default", "methods-paper", "conv-default", "attention-default", "paper-strong"):
        assert not set(SUITES.get(name).pruner_names()) & set(METHODS), name


@pytest.mark.parametrize("task, options", [
    ("bars", {"depth": 4, "width": 12, "image_size": 12}),
    ("recall", {"depth": 3, "width": 32}),
])
def test_the_four_host_agnostic_methods_keep_exact_counts_on_conv_and_attention_hosts(task, options):
    torch.set_num_threads(1)
    inst = plant(task, seed=0, data=DataConfig(n_samples=200), **options)
    for name in ("colt", "worm", "ks-lottery", "frozen-edge-popup"):
        pruner = get_pruner(name)
        if name == "colt":
            pruner.rounds = 2  # type: ignore[attr-defined]
        for pb in (False, True):
            mask = pruner.prune(inst.host(), inst.pruner_data(), 0.1, generator=gen(0),
                                budget=TrainConfig(epochs=1, prunable_biases=pb))
            validate_pruned_mask(mask, inst.arch, 0.1, pb)
