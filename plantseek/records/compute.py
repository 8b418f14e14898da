"""A pruner's compute as a result: the counts its prune worker measured
(:mod:`plantseek.run.isolation.metering`), in FLOPs and in units of one dense training run. Pure functions, no torch.

FLOPs per sample follow ``torch.utils.flop_counter`` (2 per multiply-add of a weight; biases and activations free)
on the *dense* network, whatever the mask: the harness multiplies dense matrices with masked entries set to zero,
so a masked pass costs what a dense one does (a sparse kernel would be cheaper; the counts let anyone re-weigh).
With ``F`` = ``arch.forward_flops()`` (the dense forward pass of one sample):

* a training sample pass (forward and backward) costs ``3 F`` (the backward pass computes the gradients of the
  activations and of the weights, one forward's worth each; the usual convention, e.g. Evci et al. 2020, RigL);
* a score forward sample costs ``F``, a score backward sample ``2 F``;
* one **dense training run** is the harness's weak training of the dense host: ``train.epochs x n_train`` sample
  passes, ``3 F`` each. ``compute_dense_runs`` = the pruner's FLOPs / that: 1.0 means the pruner spent as much
  as training the dense network once with the weak-training budget.

A cell's ``compute`` (stored as ``compute_json``, one column each in ``load_results()``) holds two kinds of figure:

* **measured by the parent** (:data:`MEASURED`), which a pruner cannot rewrite: ``prune_parent_seconds`` (the
  request's wall-clock) and ``prune_cpu_seconds`` (the worker's CPU seconds over the request, from the kernel's
  accounting, :class:`plantseek.run.isolation.worker_channel.CpuClock`), each its share when the worker pruned
  several jobs in one request. These are the compute figures results are ranked on (the cell's ``prune_seconds``
  is the same wall-clock);
* **self-reported** (:data:`SELF_REPORTED`): the three counts, ``prune_flops`` and ``compute_dense_runs``, counted
  inside the worker where the pruner's code runs, so a hostile pruner can forge them; ``self_reported`` = 1 marks
  a record that holds them, and ``worker_prune_seconds`` is the worker's own clock. Never ranked on.

``dense_run_flops`` is the harness's own figure. Counts of a batched request are shared equally among its jobs.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

COUNTS = ("train_sample_passes", "score_forward_samples", "score_backward_samples")
#: FLOPs of one counted sample, in units of the dense forward pass of one sample.
FORWARD_UNITS = {"train_sample_passes": 3, "score_forward_samples": 1, "score_backward_samples": 2}
#: Figures the parent measures (a pruner cannot rewrite them): the ones results are ranked on.
MEASURED = ("prune_parent_seconds", "prune_cpu_seconds")
#: Figures only the worker (where the pruner runs) can report: shown as self-reported, never ranked on.
SELF_REPORTED = (*COUNTS, "prune_flops", "compute_dense_runs", "worker_prune_seconds")
#: The keys of a cell's compute record, in order (also the compute columns of ``load_results()``).
COMPUTE_KEYS = (*COUNTS, "prune_flops", "dense_run_flops", "compute_dense_runs", "prune_parent_seconds",
                "prune_cpu_seconds", "worker_prune_seconds", "self_reported")


def checked_counts(obj: Any) -> dict[str, float] | None:
    """The counts of a worker's answer (untrusted): each a finite number >= 0, else None (not counted)."""
    if not isinstance(obj, Mapping):
        return None
    out = {}
    for name in COUNTS:
        v = obj.get(name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            return None
        out[name] = float(v)
    return out


def prune_flops(counts: Mapping[str, float], forward_flops: float) -> float:
    """FLOPs of the counted passes: ``sum(count x units) x F``."""
    return float(sum(counts[name] * FORWARD_UNITS[name] for name in COUNTS) * forward_flops)


def dense_run_flops(forward_flops: float, n_train: int, epochs: int) -> float:
    """FLOPs of one dense training run: ``epochs x n_train`` training sample passes of ``3 F``."""
    return float(epochs * n_train * FORWARD_UNITS["train_sample_passes"] * forward_flops)


def compute_record(counts: Mapping[str, float] | None, parent_seconds: float, forward_flops: float, n_train: int,
                   epochs: int, cpu_seconds: float = math.nan, worker_seconds: float = math.nan) -> dict[str, float]:
    """A cell's compute record (:data:`COMPUTE_KEYS`); without counts only the parent's measurements (and the dense
    run's FLOPs)."""
    dense = dense_run_flops(forward_flops, n_train, epochs)
    out: dict[str, float] = {}
    if counts is not None:
        flops = prune_flops(counts, forward_flops)
        out = {**{n: counts[n] for n in COUNTS}, "prune_flops": flops,
               "compute_dense_runs": flops / dense if dense > 0 else math.nan, "self_reported": 1.0}
    out["dense_run_flops"] = dense
    for key, value in (("prune_parent_seconds", parent_seconds), ("prune_cpu_seconds", cpu_seconds),
                       ("worker_prune_seconds", worker_seconds)):
        if not math.isnan(value):
            out[key] = float(value)
    return {k: out[k] for k in COMPUTE_KEYS if k in out}
