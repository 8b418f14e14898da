"""Counting what a prune call spends, inside the prune worker (:mod:`.prune_worker`), which installs the counters
(:func:`install`) before it loads any pruner:

* **training**: ``plantseek.train.loop.train_masks`` is wrapped: each call adds ``networks x samples x epochs``
  *training sample passes*;
* **score evaluations**: the architecture's ``forward`` and ``forward_stacked`` are wrapped: each call adds its
  samples as *score forward samples*, and, when its output takes part in a backward pass, as many *score backward
  samples*. Passes inside a counted training call are not counted twice.

The counts go back to the parent with the mask (``"spent"``), which converts them to FLOPs
(:mod:`plantseek.records.compute`). They are what our own and well-behaved pruners spend, stored as self-reported
(:data:`plantseek.records.compute.SELF_REPORTED`): a hostile pruner can undo the wrappers; the figures it cannot
falsify are the wall-clock and CPU seconds the parent measures around each request. ``docs/design/run.md``: what is
and is not counted, and the cost of counting.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

COUNTS = ("train_sample_passes", "score_forward_samples", "score_backward_samples")


@dataclass
class Spent:
    """What one prune call (or one multi-shot schedule) spent, in samples."""

    train_sample_passes: int = 0
    score_forward_samples: int = 0
    score_backward_samples: int = 0

    def share(self, parts: int) -> dict[str, float]:
        """The counts divided by ``parts`` (the jobs of one batched call share its cost equally)."""
        return {name: getattr(self, name) / parts for name in COUNTS}


class _State:
    spent: Spent | None = None  # where counts go now; None: nothing is measured
    paused: int = 0  # > 0 inside a counted training call


def active() -> Spent | None:
    """The counter in force (None outside :func:`measuring`, or inside a training call)."""
    return None if _State.paused else _State.spent


@contextmanager
def measuring(spent: Spent) -> Iterator[Spent]:
    """Count into ``spent`` while the block runs."""
    previous = _State.spent
    _State.spent = spent
    try:
        yield spent
    finally:
        _State.spent = previous


def counted_training(train_masks: Callable[..., Any]) -> Callable[..., Any]:
    """``train_masks`` adding ``len(masks) x samples x epochs`` training sample passes (arguments as
    :func:`plantseek.train.loop.train_masks`), with the forward counters paused inside."""

    @functools.wraps(train_masks)
    def train(arch, initial_state, masks, x, y, loss_fn, config, generators, *args, **kwargs):
        spent = active()
        if spent is not None:
            per_mask = ([int(xi.shape[0]) for xi in x] if isinstance(x, (list, tuple))
                        else [int(x.shape[0])] * len(masks))
            spent.train_sample_passes += sum(per_mask) * int(config.epochs)  # x: one training set, or one per mask
        _State.paused += 1
        try:
            return train_masks(arch, initial_state, masks, x, y, loss_fn, config, generators, *args, **kwargs)
        finally:
            _State.paused -= 1

    train.__wrapped_by_meter__ = True
    return train


def counted_forward(forward: Callable[..., Any], stacked: bool) -> Callable[..., Any]:
    """An architecture's ``forward`` (``stacked``: ``forward_stacked``) counting its samples, forward and backward."""

    @functools.wraps(forward)
    def run(self, params, x, *args, **kwargs):
        out = forward(self, params, x, *args, **kwargs)
        spent = active()
        if spent is not None:
            n = int(x.shape[0]) * (int(x.shape[1]) if stacked else 1)
            spent.score_forward_samples += n
            if getattr(out, "requires_grad", False):
                out.register_hook(functools.partial(_count_backward, spent, n))
        return out

    run.__wrapped_by_meter__ = True
    return run


def _count_backward(spent: Spent, n: int, grad: Any) -> None:
    spent.score_backward_samples += n


def install(arch_class: type) -> Callable[[], None]:
    """Wrap ``plantseek.train.loop.train_masks`` and ``arch_class``'s forward passes; returns the undo."""
    from plantseek.train import loop

    saved = [(loop, "train_masks", loop.__dict__["train_masks"])]
    saved += [(arch_class, name, arch_class.__dict__[name]) for name in ("forward", "forward_stacked")
              if name in arch_class.__dict__]
    for owner, name, original in saved:
        if getattr(original, "__wrapped_by_meter__", False):
            continue
        wrapped = counted_training(original) if owner is loop else counted_forward(original, name == "forward_stacked")
        setattr(owner, name, wrapped)

    def undo() -> None:
        for owner, name, original in saved:
            setattr(owner, name, original)

    return undo


def metered_rounds(schedule, spent: Spent):
    """A multi-shot schedule (:meth:`plantseek.prune.schedules.MultiShot.run_rounds`) whose own work counts into
    ``spent`` and whose training requests add ``networks x samples x epochs`` training sample passes (the joint
    trainer, :func:`plantseek.prune.schedules.prune_jointly`, runs outside any counter)."""
    sent = None
    while True:
        with measuring(spent):
            try:
                request = schedule.send(sent)
            except StopIteration as stop:
                return stop.value
        spent.train_sample_passes += len(request.masks) * int(request.data.x.shape[0]) * int(request.config.epochs)
        sent = yield request
