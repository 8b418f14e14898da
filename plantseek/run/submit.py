"""Submitting a new pruner: check it, score it on the standard suite with sanity ablations, store, rank.

Checks (each failure is one clear line): the file imports and defines a pruner class honouring the contract;
``prune`` returns a valid mask (keys, shapes, dtype bool, exact kept count) on a tiny planted instance at the
ticket density and at 0.1; the same generator seed gives the same mask twice (seed-determinism); its declared
``name`` is not a registered pruner's (the leaderboard shows a submission under that name, with its file and code
hash as provenance).

Scoring: every cell of the suite for the pruner, plus two sanity ablations of each of its masks (``shuffled``:
kept positions permuted within each layer; ``reinit``: the same mask trained from a re-initialised host), so
the leaderboard says whether the method beats its own shuffled mask.

Instances: a submitter scores on public development instances (planted from their seeds: anyone can reproduce, and
re-plant, them); the maintainers, who hold the leaderboard key, score the same cells on hidden instances
(:func:`hidden_command`), the ones the published ranking is computed on.
"""

from __future__ import annotations

import dataclasses
import shlex
from typing import Callable

import torch

from plantseek.core.errors import PlantseekError
from plantseek.core.reasons import sanitise_reason
from plantseek.run.ablations import ABLATIONS
from plantseek.run.grid import expand
from plantseek.planted.instance import plant
from plantseek.prune.contract import PRUNERS, check_pruner_file, is_file_ref
from plantseek.run.isolation.workers import WorkerFailure
from plantseek.run.isolation.pruning import PruneContext, PruneJob, describe, prune_cells
from plantseek.records.cells import CellConfig
from plantseek.run.suites import Suite
from plantseek.planted.task import DataConfig
from plantseek.train.config import TrainConfig


CHECK_TIMEOUT = 600.0  # seconds a check call of a submission may take


class SubmissionError(PlantseekError):
    """A submitted pruner failed a check."""


def check_submission(ref: str, report: Callable[[str], None] = print) -> str:
    """Run the submission checks; returns the pruner's name or raises SubmissionError naming the failure.

    The submitted code never runs in this process: it is parsed here (:func:`check_pruner_file`), and loaded and
    called only in sandboxed prune workers (:mod:`plantseek.run.isolation.workers`), like every prune call of a grid; a
    fresh worker for each call, so that two calls with the same seed are independent."""
    if not is_file_ref(ref):
        raise SubmissionError(f"submit takes a file, path/to/pruner.py[:Class], got {ref!r}")
    try:
        check_pruner_file(ref)
        ctx = check_context()
        pruner, worker = describe(ref, ctx)
    except (PlantseekError, WorkerFailure) as exc:
        raise SubmissionError(f"contract: {exc}") from None
    if worker is not None:
        worker.close()
    check_name(pruner.name)
    inst = ctx.instance
    report(f"  ok  contract: class loads, name {pruner.name!r}, prune(model, data, density, *, generator, budget)")
    for density in (inst.ticket_density, 0.1):
        masks = [_checked_mask(ref, pruner, ctx, density) for _ in range(2)]
        if any(not torch.equal(masks[0][n], masks[1][n]) for n in masks[0]):
            raise SubmissionError(f"not seed-deterministic: two calls with the same generator seed gave different "
                                  f"masks at density {density:.4g} (draw all randomness from `generator`)")
        report(f"  ok  valid, seed-deterministic mask at density {density:.4g}")
    return pruner.name


def check_context(timeout: float | None = CHECK_TIMEOUT) -> PruneContext:
    """Where a submission is loaded and checked: a tiny planted Circle instance (public, seed 0)."""
    return PruneContext(plant("circle", depth=4, width=20, seed=0, data=DataConfig(n_samples=400)), timeout)


def declared_name(ref: str, timeout: float | None = CHECK_TIMEOUT) -> str:
    """The name a file-referenced pruner declares, read where its code may run: in a sandboxed prune worker.
    A file that does not load there gives ``""`` (its cells fail with the reason when they run)."""
    check_pruner_file(ref)
    try:
        pruner, worker = describe(ref, check_context(timeout))
    except (PlantseekError, WorkerFailure):
        return ""
    if worker is not None:
        worker.close()
    return pruner.name


def named_cells(cells: list[CellConfig], timeout: float | None = CHECK_TIMEOUT) -> list[CellConfig]:
    """``cells`` with every file-referenced pruner under its declared name (``pruner_name``; the file and its code
    hash stay in ``pruner`` / ``pruner_code``). SubmissionError (one line) when a declared name is a registered
    pruner's, not a plain name, or declared by two files of the run."""
    names: dict[str, str] = {}
    for ref in dict.fromkeys(c.pruner for c in cells if is_file_ref(c.pruner)):
        name = declared_name(ref, timeout)
        if not name:
            continue
        try:
            check_name(name)
        except SubmissionError as exc:
            raise SubmissionError(f"{ref}: {exc}") from None
        other = next((r for r, n in names.items() if n == name), None)
        if other is not None:
            raise SubmissionError(f"{ref}: name {name!r} is also declared by {other}; declare another name")
        names[ref] = name
    return [dataclasses.replace(c, pruner_name=names[c.pruner]) if c.pruner in names else c for c in cells]


def _checked_mask(ref: str, pruner, ctx: PruneContext, density: float):
    """One prune call of the submission on the check instance, in a fresh worker; its validated mask."""
    config = CellConfig(task="circle", depth=4, width=20, seed=0, pruner=ref, density=repr(density), n_samples=400,
                        budget=TrainConfig(epochs=1))
    job = PruneJob(config, density)
    prune_cells(ref, pruner, [job], ctx)
    if job.mask is None:
        raise SubmissionError(f"{sanitise_reason(job.error)} (density {density:.4g}, tiny circle instance)")
    return job.mask


def check_name(name: str) -> None:
    """A submission's declared name must be its own: not a registered pruner's, not a file reference, one line."""
    if name in PRUNERS:
        raise SubmissionError(f"name {name!r} is taken by a registered pruner; declare another name in the class")
    if is_file_ref(name) or name != " ".join(name.split()) or "[" in name:
        raise SubmissionError(f"name {name!r} is not a plain pruner name (no path, '.py', brackets or odd spaces)")


def submission_cells(ref: str, suite: Suite, name: str = "") -> list[CellConfig]:
    """The suite's cells for ``ref`` and their sanity ablations (none for post-training cells), shown and stored
    under the pruner's declared ``name`` (not part of the cell id: the file's code hash is)."""
    base = [dataclasses.replace(c, pruner_name=name) for c in expand(suite.with_overrides(pruners=[ref]))]
    return base + [dataclasses.replace(c, ablation=a) for c in base if not c.post_training for a in ABLATIONS]


def hidden_command(ref: str, suite: str = "default") -> str:
    """The exact command the maintainers run (with the leaderboard key configured) to score the submission ``ref``
    on the hidden instances of ``suite`` into the published store."""
    from plantseek.core import paths

    words = ["python", "-m", "plantseek", "submit", ref] + (["--suite", suite] if suite != "default" else [])
    words += ["--instances", "hidden", "--store", paths.leaderboard_store().as_posix()]
    return " ".join(shlex.quote(w) for w in words)


def instances_heading(fingerprint: str = "") -> str:
    """How a submission's results name their instances: public development ones, or hidden ones with the key's
    fingerprint (never the key)."""
    if fingerprint:
        return f"hidden instances (key {fingerprint}; the leaderboard's)"
    return "public development instances (planted from their seeds; not the leaderboard's)"
