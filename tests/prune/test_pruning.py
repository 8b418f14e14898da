"""The shared pruning machinery: single-shot selection, the iterative and the multi-shot schedules."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from plantseek.train import loop as training
from plantseek.core.errors import ConfigError, PrunerError
from plantseek.planted.instance import PrunerData
from plantseek.nets.masks import kept_count, layer_counts, mask_count, select_top
from plantseek.families.mlp.network import Architecture, build_model, he_init
from plantseek.prune.schedules import Iterative, MultiShot, ScorePruner, derive_generator, prune_jointly, score_batch
from plantseek.prune.variants import local_variant, multishot_variant
from plantseek.train.config import TrainConfig
from plantseek.train.loop import train_model


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


ARCH = Architecture((2, 6, 5, 3))


def tiny_model(seed: int = 0):
    return build_model(ARCH, he_init(ARCH, gen(seed)))


def tiny_data(n: int = 64, seed: int = 1) -> PrunerData:
    g = gen(seed)
    x = torch.rand(n, 2, generator=g) * 2 - 1
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    return PrunerData(x, y, torch.nn.functional.cross_entropy, "classification")


def nested(a: dict, b: dict) -> bool:
    """Every weight kept by ``b`` is kept by ``a``."""
    return all(bool((b[n] & ~a[n]).sum() == 0) for n in a)


@dataclass
class AbsScore(ScorePruner):
    """|θ| on the masked network (a test score that records what it was asked to score)."""

    name: str = "abs"
    description: str = "test score"

    def __post_init__(self):
        super().__post_init__()
        self.calls = []

    def score(self, model, data, *, generator, budget, mask):
        self.calls.append((model, None if mask is None else {n: m.clone() for n, m in mask.items()}))
        return {n: p.detach().abs() for n, p in model.prunable().items()}


@dataclass
class FixedScore(ScorePruner):
    name: str = "fixed"
    description: str = "fixed scores"
    values: dict | None = None

    def score(self, model, data, *, generator, budget, mask):
        return self.values


def test_single_shot_selects_top_globally_and_locally():
    model = tiny_model()
    scores = {n: torch.rand(p.shape, generator=gen(3)) for n, p in model.prunable().items()}
    k = kept_count(0.3, ARCH.n_prunable)
    mask = FixedScore(values=scores).prune(model, tiny_data(), 0.3, generator=gen(0), budget=TrainConfig())
    # independent expectation: the k largest scores overall (distinct random scores, no ties)
    threshold = torch.cat([s.reshape(-1) for s in scores.values()]).sort(descending=True).values[k - 1]
    assert all(torch.equal(mask[n], scores[n] >= threshold) for n in scores)
    assert mask_count(mask) == k
    local = FixedScore(values=scores, scope="local").prune(model, tiny_data(), 0.3, generator=gen(0),
                                                             budget=TrainConfig())
    counts = layer_counts(0.3, {n: s.numel() for n, s in scores.items()})
    for n, s in scores.items():
        t = s.reshape(-1).sort(descending=True).values[counts[n] - 1]
        assert torch.equal(local[n], s >= t)


def test_bad_scores_and_scopes_are_one_line_errors():
    model = tiny_model()
    bad = FixedScore(values={"layers.0.weight": torch.zeros(6, 2)})
    with pytest.raises(PrunerError, match="layers.1.weight"):
        bad.prune(model, tiny_data(), 0.5, generator=gen(0), budget=TrainConfig())
    with pytest.raises(ConfigError, match="scope"):
        AbsScore(scope="per-neuron")
    with pytest.raises(ConfigError, match="globally"):
        MultiShot(AbsScore(scope="local"))
    with pytest.raises(ConfigError, match="globally"):
        Iterative(AbsScore(scope="local"))
    with pytest.raises(ConfigError, match="one generator per density"):
        MultiShot(AbsScore()).prune_batch(model, tiny_data(), [0.5, 0.2], generators=[gen(0)],
                                          budget=TrainConfig())
    with pytest.raises(ConfigError, match="density"):
        AbsScore().prune(model, tiny_data(), 0.0, generator=gen(0), budget=TrainConfig())


def test_derive_generator_is_deterministic():
    a = derive_generator(gen(5))
    b = derive_generator(gen(5))
    c = derive_generator(gen(6))
    ra, rb, rc = (torch.rand(4, generator=g) for g in (a, b, c))
    assert torch.equal(ra, rb) and not torch.equal(ra, rc)


def test_score_batch_draws_documented_subset():
    data = tiny_data(n=40)
    x, y = score_batch(data, gen(9), 16)
    idx = torch.randperm(40, generator=gen(9))[:16]
    assert torch.equal(x, data.x[idx]) and torch.equal(y, data.y[idx])
    x, _ = score_batch(data, gen(9), 1000)
    assert x.shape[0] == 40


def test_iterative_schedule_nests_and_follows_exponential_densities():
    model = tiny_model()
    scorer = AbsScore()
    pruner = Iterative(scorer, rounds=7)
    density = 0.2
    mask = pruner.prune(model, tiny_data(), density, generator=gen(0), budget=TrainConfig())
    assert len(pruner.history) == 7
    prev = None
    for k, m in enumerate(pruner.history, start=1):
        assert mask_count(m) == kept_count(density ** (k / 7), ARCH.n_prunable)
        if prev is not None:
            assert nested(prev, m)
        prev = m
    assert all(torch.equal(mask[n], prev[n]) for n in mask)
    assert mask_count(mask) == kept_count(density, ARCH.n_prunable)
    # every round after the first scores the masked network (the previous round's mask)
    assert scorer.calls[0][1] is None
    for (_, asked), m in zip(scorer.calls[1:], pruner.history[:-1]):
        assert all(torch.equal(asked[n], m[n]) for n in m)


def test_iterative_density_one_keeps_everything():
    mask = Iterative(AbsScore(), rounds=5).prune(tiny_model(), tiny_data(), 1.0, generator=gen(0),
                                                  budget=TrainConfig())
    assert mask_count(mask) == ARCH.n_prunable


class RecordingTrain:
    """Wraps ``training.train_masks``: records the arguments and results of every call."""

    def __init__(self, inner):
        self.inner = inner
        self.calls = []

    def __call__(self, arch, initial_state, masks, x, y, loss_fn, config, generators, dtype=torch.float32):
        record = {
            "initial": {k: v.clone() for k, v in initial_state.items()},
            "masks": [{n: m.clone() for n, m in mask.items()} for mask in masks],
            "config": config,
            "gen_states": [g.get_state() for g in generators],
        }
        models = self.inner(arch, initial_state, masks, x, y, loss_fn, config, generators, dtype=dtype)
        record["models"] = models
        self.calls.append(record)
        return models


def test_multishot_trains_from_initial_weights_scores_trained_net_and_never_revives(monkeypatch):
    rec = RecordingTrain(training.train_masks)
    monkeypatch.setattr(training, "train_masks", rec)
    model = tiny_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    data = tiny_data()
    budget = TrainConfig(epochs=10, lr=3e-3, batch_size=16)
    density, rounds = 0.15, 4
    pruner = MultiShot(AbsScore(), rounds=rounds, epochs_per_round=2)
    mask = pruner.prune(model, data, density, generator=gen(0), budget=budget)

    assert len(rec.calls) == rounds
    history = pruner.history[0]
    assert len(history) == rounds
    full = {n: torch.ones(p.shape, dtype=torch.bool) for n, p in model.prunable().items()}
    for r, call in enumerate(rec.calls, start=1):
        # rewind: every round starts from exactly the initial weights (the model itself is untouched)
        assert all(torch.equal(call["initial"][k], before[k]) for k in before)
        # each round trains with the current mask, for epochs_per_round epochs of the budget's optimiser
        current = full if r == 1 else history[r - 2]
        assert all(torch.equal(call["masks"][0][n], current[n]) for n in current)
        assert call["config"] == budget.replace(epochs=2)
        # an independent replay: fresh network at the initial weights, fresh optimiser, same data order
        g = torch.Generator()
        g.set_state(call["gen_states"][0])
        replay = train_model(build_model(ARCH, before), current, data.x, data.y, data.loss, call["config"], g)
        trained = call["models"][0]
        assert all(torch.equal(p, q) for p, q in zip(replay.parameters(), trained.parameters()))
        # the score is taken on the trained network; survivors only; density**(r/R)
        scores = {n: p.detach().abs() for n, p in trained.prunable().items()}
        expected = select_top(scores, density ** (r / rounds), allowed=current)
        assert all(torch.equal(history[r - 1][n], expected[n]) for n in expected)
        assert nested(current, history[r - 1])
        assert mask_count(history[r - 1]) == kept_count(density ** (r / rounds), ARCH.n_prunable)
    assert all(torch.equal(mask[n], history[-1][n]) for n in mask)
    assert mask_count(mask) == kept_count(density, ARCH.n_prunable)
    assert all(torch.equal(model.state_dict()[k], before[k]) for k in before)


def test_multishot_prune_equals_prune_batch_and_batches_one_train_call_per_round(monkeypatch):
    model, data, budget = tiny_model(), tiny_data(), TrainConfig(batch_size=16)
    pruner = MultiShot(AbsScore(), rounds=3, epochs_per_round=1)
    single = pruner.prune(model, data, 0.2, generator=gen(4), budget=budget)
    batch = pruner.prune_batch(model, data, [0.2], generators=[gen(4)], budget=budget)
    assert len(batch) == 1 and all(torch.equal(single[n], batch[0][n]) for n in single)

    rec = RecordingTrain(training.train_masks)
    monkeypatch.setattr(training, "train_masks", rec)
    densities = [0.4, 0.1, 1.0]
    masks = pruner.prune_batch(model, data, densities, generators=[gen(1), gen(2), gen(3)], budget=budget)
    assert len(rec.calls) == 3  # one call per round for all networks (density 1 needs no training)
    assert all(len(c["masks"]) == 2 for c in rec.calls)
    for d, m, hist in zip(densities, masks, pruner.history):
        assert mask_count(m) == kept_count(d, ARCH.n_prunable)
        for a, b in zip(hist, hist[1:]):
            assert nested(a, b)


@dataclass
class CrashingScore(AbsScore):
    """|θ|, but raises when asked to score for the ``crash_at``-th time."""

    name: str = "crashing"
    crash_at: int = 2

    def score(self, model, data, *, generator, budget, mask):
        if len(self.calls) + 1 == self.crash_at:
            raise RuntimeError("score exploded")
        return super().score(model, data, generator=generator, budget=budget, mask=mask)


def test_prune_jointly_equals_separate_runs_in_one_train_call_per_round(monkeypatch):
    model, budget = tiny_model(), TrainConfig(batch_size=16)
    densities = [0.4, 0.1, 1.0]

    def pruners():
        return [MultiShot(AbsScore(), rounds=3, epochs_per_round=1),
                MultiShot(FixedScore(values={n: torch.rand(s, generator=gen(7))
                                              for n, s in ARCH.weight_shapes().items()}), rounds=3,
                          epochs_per_round=1)]

    separate = [p.prune_batch(model, tiny_data(), densities, generators=[gen(1), gen(2), gen(3)], budget=budget)
                for p in pruners()]
    rec = RecordingTrain(training.train_masks)
    monkeypatch.setattr(training, "train_masks", rec)
    joint = prune_jointly([p.run_rounds(model, tiny_data(), densities, generators=[gen(1), gen(2), gen(3)],
                                        budget=budget) for p in pruners()])
    assert len(rec.calls) == 3 and all(len(c["masks"]) == 4 for c in rec.calls)  # both pruners, every round
    for alone, together in zip(separate, joint):
        assert len(alone) == len(together) == 3
        assert all(torch.equal(a[n], b[n]) for a, b in zip(alone, together) for n in a)


def test_prune_jointly_a_crashing_schedule_fails_alone():
    model, budget = tiny_model(), TrainConfig(batch_size=16)
    ok_pruner = MultiShot(AbsScore(), rounds=3, epochs_per_round=1)
    alone = ok_pruner.prune_batch(model, tiny_data(), [0.3], generators=[gen(5)], budget=budget)
    crashing = MultiShot(CrashingScore(crash_at=2), rounds=3, epochs_per_round=1)
    outcome = prune_jointly([crashing.run_rounds(model, tiny_data(), [0.3], generators=[gen(6)], budget=budget),
                             ok_pruner.run_rounds(model, tiny_data(), [0.3], generators=[gen(5)], budget=budget)])
    assert isinstance(outcome[0], RuntimeError) and "score exploded" in str(outcome[0])
    assert all(torch.equal(alone[0][n], outcome[1][0][n]) for n in alone[0])
    with pytest.raises(RuntimeError, match="score exploded"):  # alone, the error propagates as before
        MultiShot(CrashingScore(crash_at=2), rounds=3, epochs_per_round=1).prune_batch(
            model, tiny_data(), [0.3], generators=[gen(6)], budget=budget)


def test_variant_factories():
    local = local_variant(AbsScore, "abs-local")()
    assert local.name == "abs-local" and local.scope == "local" and local.protocol == "single-shot"
    multi = multishot_variant(AbsScore, "abs-multishot")()
    assert multi.name == "abs-multishot" and multi.protocol == "multi-shot"
    assert (multi.rounds, multi.epochs_per_round) == (10, 5)
    assert callable(getattr(multi, "prune_batch"))
    assert not hasattr(AbsScore(), "prune_batch")


def test_multishot_revival_scores_pruned_weights_at_their_initial_values_and_may_bring_them_back(monkeypatch):
    """The reference code's multi-shot (the ``*-multishot-revival`` variants): every round scores the trained
    network with its pruned weights at their initial values, every weight a candidate; replayed independently."""
    rec = RecordingTrain(training.train_masks)
    monkeypatch.setattr(training, "train_masks", rec)
    model, data = tiny_model(), tiny_data()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    budget = TrainConfig(epochs=10, lr=0.1, batch_size=16)  # weights move far enough for a revival at this seed
    density, rounds = 0.15, 4
    scorer = AbsScore()
    pruner = MultiShot(scorer, rounds=rounds, epochs_per_round=2, revive=True)
    mask = pruner.prune(model, data, density, generator=gen(0), budget=budget)
    history = pruner.history[0]
    full = {n: torch.ones(p.shape, dtype=torch.bool) for n, p in model.prunable().items()}
    revived = 0
    for r, (call, (scored, _)) in enumerate(zip(rec.calls, scorer.calls), start=1):
        current = full if r == 1 else history[r - 2]
        trained = dict(call["models"][0].named_parameters())
        expected_net = {n: torch.where(current[n], trained[n].detach(), before[n]) for n in current}
        got = dict(scored.named_parameters())
        assert all(torch.equal(got[n].detach(), expected_net[n]) for n in current)  # pruned: initial values
        expected = select_top({n: v.abs() for n, v in expected_net.items()}, density ** (r / rounds))  # no allowed
        assert all(torch.equal(history[r - 1][n], expected[n]) for n in expected)
        revived += sum(int((history[r - 1][n] & ~current[n]).sum()) for n in current)
    assert revived > 0  # this seed brings pruned weights back: what the variant exists to measure
    assert mask_count(mask) == kept_count(density, ARCH.n_prunable)
    assert all(torch.equal(model.state_dict()[k], before[k]) for k in before)


def test_revival_variants_are_registered_for_the_reproduction_only():
    from plantseek.prune.contract import get_pruner, tags_of
    from plantseek.prune.variants import REPRO_VARIANT_TAG
    from plantseek.run.grid import expand
    from plantseek.run.suites import SUITES

    for name in ("magnitude-multishot-revival", "snip-multishot-revival"):
        pruner = get_pruner(name)
        assert pruner.revive and tags_of(pruner) == frozenset({REPRO_VARIANT_TAG})
    assert not get_pruner("magnitude-multishot").revive
    published = {c.pruner for c in expand(SUITES.get("published"))}
    assert not any(p.endswith("-revival") for p in published)
