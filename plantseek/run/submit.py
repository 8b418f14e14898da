"""Submitting a new pruner: check it, score it on the standard suite with sanity ablations, store, rank.

Checks (each failure is one clear line): the file imports and defines a pruner class honouring the contract;
``prune`` returns a valid mask (keys, shapes, dtype bool, exact kept count) on a tiny planted instance at the
ticket density and at 0.1; the same generator seed gives the same mask twice (seed-determinism); its declared
``name`` is not a registered pruner's (the leaderboard shows a submission under that name, with its file and code
hash as provenance).

Scoring: every cell of the suite for the pruner, plus two sanity ablations of each of its masks (``shuffled``:
kept positions permuted within each layer; ``reinit``: the same mask trained from a re-initialised host), so
the leaderboard says whether the method beats its own shuffled mask.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import torch

from plantseek.core.errors import PlantseekError
from plantseek.run.ablations import ABLATIONS
from plantseek.run.grid import expand
from plantseek.planted.instance import plant
from plantseek.prune.masks import kept_count, validate_mask
from plantseek.prune.contract import PRUNERS, get_pruner, is_file_ref
from plantseek.run.records import CellConfig
from plantseek.run.suites import Suite
from plantseek.planted.task import DataConfig
from plantseek.train.config import TrainConfig


class SubmissionError(PlantseekError):
    """A submitted pruner failed a check."""


def check_submission(ref: str, report: Callable[[str], None] = print) -> str:
    """Run the submission checks; returns the pruner's name or raises SubmissionError naming the failure."""
    if not is_file_ref(ref):
        raise SubmissionError(f"submit takes a file, path/to/pruner.py[:Class], got {ref!r}")
    try:
        pruner = get_pruner(ref)
    except PlantseekError as exc:
        raise SubmissionError(f"contract: {exc}") from None
    check_name(pruner.name)
    report(f"  ok  contract: class loads, name {pruner.name!r}, prune(model, data, density, *, generator, budget)")
    inst = plant("circle", depth=4, width=20, seed=0, data=DataConfig(n_samples=400))
    shapes, optional = inst.arch.weight_shapes(), inst.arch.bias_shapes()
    budget = TrainConfig(epochs=1)
    for density in (inst.ticket_density, 0.1):
        masks = []
        for _ in range(2):
            g = torch.Generator().manual_seed(1234)
            try:
                m = pruner.prune(inst.host(), inst.pruner_data(), density, generator=g, budget=budget)
            except Exception as exc:  # noqa: BLE001 - report any crash as a failed check
                raise SubmissionError(f"prune() raised {type(exc).__name__}: {exc} (density {density:.4g}, tiny "
                                      "circle instance)") from None
            try:
                masks.append(validate_mask(m, shapes, kept_count(density, inst.arch.n_prunable), optional))
            except PlantseekError as exc:
                raise SubmissionError(f"invalid mask at density {density:.4g}: {exc}") from None
        if any(not torch.equal(masks[0][n], masks[1][n]) for n in masks[0]):
            raise SubmissionError(f"not seed-deterministic: two calls with the same generator seed gave different "
                                  f"masks at density {density:.4g} (draw all randomness from `generator`)")
        report(f"  ok  valid, seed-deterministic mask at density {density:.4g}")
    return pruner.name


def check_name(name: str) -> None:
    """A submission's declared name must be its own: not a registered pruner's, not a file reference, one line."""
    if name in PRUNERS:
        raise SubmissionError(f"name {name!r} is taken by a registered pruner; declare another name in the class")
    if is_file_ref(name) or name != " ".join(name.split()) or "[" in name:
        raise SubmissionError(f"name {name!r} is not a plain pruner name (no path, '.py', brackets or odd spaces)")


def submission_cells(ref: str, suite: Suite, name: str = "") -> list[CellConfig]:
    """The suite's cells for ``ref`` and their sanity ablations, shown and stored under the pruner's declared
    ``name`` (not part of the cell id: the file's code hash is)."""
    base = [dataclasses.replace(c, pruner_name=name) for c in expand(suite.with_overrides(pruners=[ref]))]
    return base + [dataclasses.replace(c, ablation=a) for c in base for a in ABLATIONS]
