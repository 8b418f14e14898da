"""Registering a score-based pruner with its variants: the single-shot score, its layer-wise (``-local``) and
multi-shot (``-multishot``, the lottery-ticket schedule) variants, and the iterative data-free schedule.

:func:`register_score_pruner` is the one call a baseline makes; the ``*_variant`` factories are what it registers.
"""

from __future__ import annotations

from typing import Callable, Iterable, Literal, Sequence

from plantseek.core.errors import ConfigError
from plantseek.core.types import REPRO_VARIANT_TAG
from plantseek.prune.contract import PRUNERS, declared
from plantseek.prune.schedules import Iterative, MultiShot, ScorePruner

#: The variants :func:`register_score_pruner` can register beside the score itself.
Variant = Literal["local", "multishot", "multishot-revival"]
VARIANTS: tuple[Variant, ...] = ("local", "multishot", "multishot-revival")



def local_variant(cls: Callable[..., ScorePruner], name: str) -> Callable[[], ScorePruner]:
    """Zero-argument factory of the layer-wise (local density) single-shot variant of a ScorePruner class."""

    def factory() -> ScorePruner:
        base = cls()
        return cls(name=name, scope="local", description=f"{base.description}; layer-wise density")

    return factory


def multishot_variant(cls: Callable[[], ScorePruner], name: str) -> Callable[[], MultiShot]:
    """Zero-argument factory of the multi-shot (lottery-ticket) variant of a ScorePruner class."""
    return lambda: MultiShot(cls(), name=name)


def revival_variant(cls: Callable[[], ScorePruner], name: str) -> Callable[[], MultiShot]:
    """Zero-argument factory of the multi-shot variant that revives pruned weights, as the reference code does
    (:class:`MultiShot` ``revive=True``)."""
    def factory() -> MultiShot:
        base = MultiShot(cls())
        return MultiShot(cls(), name=name, revive=True, description=f"{base.description}; pruned weights may come "
                         "back in later rounds (the reference code's behaviour, a variant for the reproduction)")

    return factory


def iterative_variant(cls: Callable[[], ScorePruner], name: str, rounds: int) -> Callable[[], Iterative]:
    """Zero-argument factory of the iterative data-free variant (``rounds`` rounds) of a ScorePruner class."""
    return lambda: Iterative(cls(), rounds=rounds, name=name)


def register_score_pruner(cls: Callable[..., ScorePruner], *, name: str, tags: Iterable[str] = (), rank: int = 0,
                          variants: Sequence[Variant] = ()) -> None:
    """Register the ScorePruner class ``cls`` as ``name`` with ``tags`` and ``rank``, and beside it each of
    ``variants``, with the same rank: ``"local"`` as ``{name}-local`` (layer-wise density, tag ``local``),
    ``"multishot"`` as ``{name}-multishot`` (the lottery-ticket schedule, tagged ``tags``), ``"multishot-revival"``
    as ``{name}-multishot-revival`` (tagged :data:`REPRO_VARIANT_TAG` only)."""
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ConfigError(f"{name}: unknown variant(s) {', '.join(map(repr, unknown))} (known: {', '.join(VARIANTS)})")
    tags = frozenset(tags)
    PRUNERS.register(name, declared(cls, tags=tags, rank=rank))
    if "local" in variants:
        PRUNERS.register(f"{name}-local", declared(local_variant(cls, f"{name}-local"), tags={"local"}, rank=rank))
    if "multishot" in variants:
        PRUNERS.register(f"{name}-multishot", declared(multishot_variant(cls, f"{name}-multishot"), tags=tags,
                                                       rank=rank))
    if "multishot-revival" in variants:
        revived = f"{name}-multishot-revival"
        PRUNERS.register(revived, declared(revival_variant(cls, revived), tags={REPRO_VARIANT_TAG}, rank=rank))


__all__ = ["Variant", "VARIANTS", "REPRO_VARIANT_TAG", "register_score_pruner", "local_variant", "multishot_variant",
           "revival_variant", "iterative_variant"]
