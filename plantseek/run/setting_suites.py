"""The suites of the newer grids: the lottery-ticket literature's methods (issue 28), post-training pruning
(docs/post-training.md), found-in-random and multiple tickets (docs/found-in-random.md, docs/multiple-tickets.md),
grokking, routing and transfer (docs/grokking-tickets.md, routing.md, transfer.md). Registered in
:data:`plantseek.run.suites.SUITES` when :mod:`plantseek.run.suites` is imported; none is in the published composite
until the end-of-round regeneration adds it to ``PUBLISHED_MEMBERS``."""

from __future__ import annotations

from typing import Any

from plantseek.run.suite_types import (LITERATURE_TAGS, PAPER_TASKS, CompositeSuite, PrunerSelector, Suite, TaskSetting,
                                  _register)
from plantseek.train.config import TrainConfig

# --- the lottery-ticket literature's methods (issue 28; docs/ticket-literature-methods.md) -------------------------
#: the methods (tag ticket-literature) with IMP and edge-popup as references; layer-pruning (tag mlp-only) runs on the
#: MLP hosts only
LITERATURE_REFERENCES = ("magnitude-multishot", "edge-popup")
LITERATURE_MLP = PrunerSelector(tags=LITERATURE_TAGS, include=LITERATURE_REFERENCES)
LITERATURE_OTHER_HOSTS = PrunerSelector(tags=LITERATURE_TAGS, exclude_tags=frozenset({"mlp-only"}),
                                        include=LITERATURE_REFERENCES)


def _literature_parts(kind: str, mlp: dict[str, Any], seeds: tuple[int, ...],
                      densities: tuple[str, ...]) -> tuple[Suite, ...]:
    """The MLP, conv and attention members of ``literature-{kind}``: Circle, ReLU, Helix with ``mlp``'s host, and
    conv-default's bars and attention-default's recall hosts (2 epochs of budget and training)."""
    small = {"train": TrainConfig(epochs=2), "budget": TrainConfig(epochs=2), "n_samples": 1000}
    return (
        Suite(f"literature-{kind}-mlp", "the literature methods on the MLP tasks", PAPER_TASKS, LITERATURE_MLP,
              densities, seeds, **mlp),
        Suite(f"literature-{kind}-conv", "the literature methods on bars (conv-default's host)", ("bars",),
              LITERATURE_OTHER_HOSTS, densities, seeds, depth=4, width=12, task_options={"image_size": 12}, **small),
        Suite(f"literature-{kind}-attention", "the literature methods on recall (attention-default's host)",
              ("recall",), LITERATURE_OTHER_HOSTS, densities, seeds, depth=3, width=32, **small),
    )


_register(CompositeSuite(
    "literature-default", "the lottery-ticket literature's methods (COLT, WORM, KS-Lottery, layer pruning, partially "
    "frozen edge-popup; tag ticket-literature) with magnitude-multishot and edge-popup as references: Circle, ReLU, "
    "Helix (depth 5, width 50, 2,000 samples), 4 densities, 2 seeds; bars and recall (conv-default's and "
    "attention-default's hosts, without layer-pruning), 1 seed",
    (*_literature_parts("default", {"width": 50, "n_samples": 2000}, (0, 1), ("ticket", "0.01", "0.1", "0.5"))[:1],
     *_literature_parts("default", {}, (0,), ("ticket", "0.01", "0.1", "0.5"))[1:]),
))
_register(CompositeSuite(
    "literature-paper", "literature-default's methods at the paper's host (Circle, ReLU, Helix at depth 5, width 100, "
    "10,000 samples: methods-paper's host) and on bars and recall, densities ticket, 0.01, 0.1, 0.5, 10 seeds",
    _literature_parts("paper", {}, tuple(range(10)), ("ticket", "0.01", "0.1", "0.5")),
))
#: the post-training grids' pruners: every post-training pruner and random as the chance baseline
POSTTRAINING_PRUNERS = PrunerSelector(("post-training",), include=("random",))
_register(Suite(
    "posttraining-default", "post-training pruning (train the dense host, prune with 128 calibration samples of the "
    "training split, score without retraining): every post-training pruner and random on Circle, ReLU, Helix (depth "
    "5, width 32), densities ticket, 0.1 and 0.5, 2 instance seeds x 5 calibration seeds",
    PAPER_TASKS, POSTTRAINING_PRUNERS, ("ticket", "0.1", "0.5"), (0, 1), depth=5, width=32,
    calibration_size=128, calibration_seeds=tuple(range(5)),
))


def _posttraining_host(part: str, task: str, setting: TaskSetting, epochs: int) -> Suite:
    return Suite(f"posttraining-hosts-{part}", f"post-training pruners on {task} ({epochs} training epochs)", (task,),
                 POSTTRAINING_PRUNERS, ("ticket", "0.1"), (0, 1), depth=setting.depth, width=setting.width,
                 task_options=setting.task_options or {}, n_samples=setting.n_samples,
                 train=TrainConfig(epochs=epochs), calibration_size=128, calibration_seeds=(0, 1, 2))


#: conv-default's bars and attention-default's recall hosts (1,000 samples) trained before pruning: recall's host
#: needs 40 epochs to learn the task (dense accuracy 0.29 after 10 epochs, chance 0.25; 0.73 after 40)
_register(CompositeSuite(
    "posttraining-hosts", "post-training pruning on the conv and attention hosts: every post-training pruner and "
    "random on bars (depth 4, width 12, 12x12 images, 10 training epochs) and recall (one block, width 32, 40 "
    "training epochs), 1,000 samples, 128 calibration samples, densities ticket and 0.1, 2 instance seeds x 3 "
    "calibration seeds",
    (_posttraining_host("conv", "bars", TaskSetting(4, 12, {"image_size": 12}, 1000), 10),
     _posttraining_host("attention", "recall", TaskSetting(3, 32, None, 1000), 40)),
))
_register(Suite(
    "posttraining-paper", "post-training pruning at the paper's host (depth 5, width 100, 10 weak-training epochs) "
    "with 256 calibration samples: every post-training pruner and random on Circle, ReLU, Helix, densities ticket, "
    "0.01, 0.1 and 0.5, 10 instance seeds x 5 calibration seeds",
    PAPER_TASKS, POSTTRAINING_PRUNERS, ("ticket", "0.01", "0.1", "0.5"), tuple(range(10)),
    calibration_size=256, calibration_seeds=tuple(range(5)),
))
#: the reconstruction-optimal hosts (tasks/reconstruct.py, docs/reconstruction-hosts.md): the dense host computes the
#: ticket's function exactly, so the ticket is the optimum of the layer-wise reconstruction post-training methods solve
RECONSTRUCT_TASKS = ("circle-reconstruct", "helix-reconstruct", "relu-reconstruct")


def _reconstruct_member(alpha: float, seeds: tuple[int, ...], densities: tuple[str, ...]) -> Suite:
    return Suite(
        f"posttraining-reconstruct-alpha-{alpha:g}", f"post-training pruners on the reconstruction-optimal hosts at "
        f"alpha {alpha:g}", RECONSTRUCT_TASKS, POSTTRAINING_PRUNERS, densities, seeds, depth=5, width=32,
        task_options={"alpha": alpha}, train=TrainConfig(epochs=0), training_protocol="paper",
        calibration_size=128, calibration_seeds=(0, 1, 2))


_register(CompositeSuite(
    "posttraining-reconstruct-default",
    "the reconstruction-optimal regime: post-training pruners (and random) prune the planted dense host itself (no "
    "training: 0 epochs, the paper protocol's start, which leaves the host as planted) "
    "with 128 calibration samples, scored without retraining, on circle-, helix- and relu-reconstruct (depth 5, width "
    "32) at alpha 1 (non-ticket weights drawn like the host's: magnitude cannot see the ticket) and alpha 0.1 (easy), "
    "densities ticket and 0.1, 2 instance seeds x 3 calibration seeds (N:M patterns need weight-only pruning: the "
    "paper protocol prunes biases too)",
    (_reconstruct_member(1.0, (0, 1), ("ticket", "0.1")), _reconstruct_member(0.1, (0, 1), ("ticket", "0.1"))),
))
_register(CompositeSuite(
    "posttraining-reconstruct-paper",
    "posttraining-reconstruct-default at 10 instance seeds and densities ticket, 0.01, 0.1 and 0.5",
    tuple(_reconstruct_member(a, tuple(range(10)), ("ticket", "0.01", "0.1", "0.5")) for a in (1.0, 0.1)),
))
#: the found-in-random tasks (tasks/subsetsum.py, docs/found-in-random.md): tickets chosen among random weights
SUBSETSUM_TASKS = ("relu-subsetsum", "abs-subsetsum")
_register(Suite(
    "subsetsum-default", "found-in-random tickets (subset-sum, no host weight changed) on relu-subsetsum and "
    "abs-subsetsum (depth 5, width 192, 32 candidates per target input, 1,000 samples): random, magnitude, snip, "
    "synflow and edge-popup at densities ticket and 0.1, 1 seed; 2 epochs of pruning budget and weak training",
    SUBSETSUM_TASKS, ("random", "magnitude", "snip", "synflow", "edge-popup"), ("ticket", "0.1"), (0,), width=192,
    n_samples=1000, train=TrainConfig(epochs=2), budget=TrainConfig(epochs=2),
))
_register(Suite(
    "subsetsum-paper", "the paper's single-shot, multi-shot and strong protocols on the found-in-random tasks "
    "relu-subsetsum and abs-subsetsum (depth 5, width 192): paper pruners x 5 densities x 10 seeds",
    SUBSETSUM_TASKS, PrunerSelector(("single-shot", "multi-shot", "strong"), frozenset({"paper"})),
    ("ticket", "0.01", "0.1", "0.5", "1.0"), tuple(range(10)), width=192, training_protocol="paper",
))
_register(Suite(
    "subsetsum-leak-audit", "every leak detector (tag leak-detector) and random on the found-in-random tasks (depth 5, "
    "width 192) at the ticket density, 10 seeds; 1 weak-training epoch (python -m plantseek.perf.leak_audit --suite "
    "subsetsum-leak-audit measures the same recalls without training)",
    SUBSETSUM_TASKS, PrunerSelector(tags=frozenset({"leak-detector"}), include=("random",)), ("ticket",),
    tuple(range(10)), width=192, train=TrainConfig(epochs=1),
))
_register(Suite(
    "multiticket-default", "the multiple-ticket setting: 2 edge-disjoint found-in-random tickets per instance "
    "(relu-subsetsum and abs-subsetsum, copies 2, depth 5, width 320, 1,000 samples); best_recall and tickets_found "
    "next to recall: random, magnitude, snip, synflow and edge-popup at densities ticket and 0.1, 1 seed",
    SUBSETSUM_TASKS, ("random", "magnitude", "snip", "synflow", "edge-popup"), ("ticket", "0.1"), (0,), width=320,
    task_options={"copies": 2}, n_samples=1000, train=TrainConfig(epochs=2), budget=TrainConfig(epochs=2),
))
SINGLE_PROTOCOL_PRUNERS = ("random", "magnitude", "snip", "synflow")


def _register_setting(prefix: str, what: str, tasks: tuple[str, ...], settings: dict[str, TaskSetting],
                      default_seeds: tuple[int, ...] = (0,)) -> None:
    """A setting's ``-default`` (4 single-shot pruners, densities ticket, 0.1, 0.5), ``-paper`` (the paper pruners of
    every protocol, 5 densities, 10 seeds, the paper's training protocol) and ``-leak-audit`` suites."""
    _register(Suite(f"{prefix}-default", f"{what}: random, magnitude, snip, synflow at densities ticket, 0.1, 0.5, "
                    f"{len(default_seeds)} seed(s)", tasks, SINGLE_PROTOCOL_PRUNERS, ("ticket", "0.1", "0.5"),
                    default_seeds, task_settings=settings))
    _register(Suite(f"{prefix}-paper", f"{what} with the paper's single-shot, multi-shot and strong protocols: paper "
                    "pruners x 5 densities x 10 seeds", tasks,
                    PrunerSelector(("single-shot", "multi-shot", "strong"), frozenset({"paper"})),
                    ("ticket", "0.01", "0.1", "0.5", "1.0"), tuple(range(10)), training_protocol="paper",
                    task_settings=settings))
    _register(Suite(f"{prefix}-leak-audit", f"{what}: every leak detector (tag leak-detector) and random at densities "
                    f"ticket and 0.01, 10 seeds, 1 epoch (python -m plantseek.perf.leak_audit --suite "
                    f"{prefix}-leak-audit)", tasks,
                    PrunerSelector(tags=frozenset({"leak-detector"}), include=("random",)), ("ticket", "0.01"),
                    tuple(range(10)), train=TrainConfig(epochs=1), task_settings=settings))


#: grokking (docs/grokking-tickets.md): 3-sparse parity of 20 bits (depth 4, width 64, 2,000 samples); addition mod 11
#: (the 121 pairs, half training; depth 3, width 128; evaluated after every step: an epoch is 2 steps)
_register_setting("grokking", "grokking tickets: sparse parity (20 bits, 3 relevant; depth 4, width 64) and addition "
                  "mod 11 (depth 3, width 128), time to generalise per cell", ("sparse-parity", "mod-add"), {
                      "sparse-parity": TaskSetting(depth=4, width=64, task_options={"n_bits": 20, "k": 3},
                                                   n_samples=2000),
                      "mod-add": TaskSetting(depth=3, width=128, task_options={"p": 11, "eval_every": 1})})
#: routing (docs/routing.md): 4 clusters drawn with weight 0.5**c, routes of 4 units on 4 features, depth 4, width 64
_register_setting("routing", "routing the lottery: 4 clusters (weights 0.5**c) each served by its own planted route "
                  "(depth 4, width 64), recall per route", ("routing",),
                  {"routing": TaskSetting(depth=4, width=64, task_options={"imbalance": 0.5}, n_samples=2000)})
#: transfer (docs/transfer.md): masks found on head a (8 shared features of 2 inputs, depth 4, width 64), scored on head
#: b by python -m plantseek.perf.transfer
_register_setting("transfer", "robust tickets transfer: masks found on head a of the transfer task (8 shared "
                  "features; depth 4, width 64); python -m plantseek.perf.transfer scores them on head b",
                  ("transfer",),
                  {"transfer": TaskSetting(depth=4, width=64, task_options={"head": "a"}, n_samples=2000)}, (0, 1, 2))
#: the optimum suites (issue 26, docs/optimum.md): Cubist Spiral in its width-16 host, against the sparsest known
#: network (today the committed reduced search's dense 3-7-7 ticket). Zhang & Papyan's nine pruners as far as
#: registered here (IMP = magnitude-multishot, IMP with rewinding = magnitude-rewind-iterate, iterative SNIP =
#: snip-multishot, SNIP, GraSP, SynFlow, RigL, ProsPr; FORCE is not registered), random as chance, edge-popup as
#: the strong-ticket reference
OPTIMUM_PRUNERS = ("random", "magnitude", "snip", "grasp", "synflow", "rigl", "prospr", "magnitude-multishot",
                   "snip-multishot", "magnitude-rewind-iterate", "edge-popup")
_register(Suite(
    "optimum-default", "Zhang & Papyan's pruners (IMP, IMP with rewinding, iterative SNIP, SNIP, GraSP, SynFlow, "
    "RigL, ProsPr; random and edge-popup as references) on cubist-spiral in its width-16 host (depth 5, 10,000 "
    "points) against the best-known ticket (dense 3-7-7), densities ticket and 0.1, 1 seed",
    ("cubist-spiral",), OPTIMUM_PRUNERS, ("ticket", "0.1"), (0,), depth=5, width=16,
))
_register(Suite(
    "optimum-paper", "every paper, iterative and modern pruner on cubist-spiral in its width-16 host (depth 5, "
    "10,000 points) against the best-known ticket, densities ticket, 0.05, 0.1 and 0.5, 10 seeds",
    ("cubist-spiral",), PrunerSelector(tags=frozenset({"paper", "iterative", "modern"})),
    ("ticket", "0.05", "0.1", "0.5"), tuple(range(10)), depth=5, width=16,
))
