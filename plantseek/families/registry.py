"""The host-family hook interface and its registry.

A :class:`HostFamily` names the hooks the stages call for cells of its family, as lazy ``"module:object"`` strings
(resolved on first use, so listing families imports no network code and no torch). :data:`FAMILIES` finds the
in-tree families (each sub-package of ``plantseek.families`` whose ``__init__`` defines ``FAMILY``) and third-party
ones (entry points of the group ``plantseek.families`` naming a HostFamily or a module defining ``FAMILY``), with the
discovery of :mod:`plantseek.core.plugins`. A task names its family (``Task.family``); each stored cell carries it.
"""

from __future__ import annotations

import importlib
import pkgutil
import types
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from plantseek.core.errors import ConfigError, PlantseekError
from plantseek.core.plugins import PluginFamily, distribution_of, one_line, path_fingerprint, third_party_entry_points
from plantseek.core.registry import Registry

HOOKS = ("audit", "recovery", "report_section")


@dataclass(frozen=True)
class HostFamily:
    """One host family and the hooks the stages call for its cells ("" = none: the generic behaviour).

    ``audit``: ``f(instance) -> dict``, the leak audit of an instance (instead of the generic layered audit);
    ``recovery``: ``f(mask, ticket, arch) -> dict``, recovery metrics added to a cell's generic ones;
    ``report_section``: ``f(prepared frame) -> list[str]``, markdown lines of the leaderboard README;
    ``figures``: ``((kind, "module:f(cells, styles) -> Figure | None"), ...)``, figure kinds drawn per setting.
    """

    name: str  # stored in each cell's ``family`` column; shown by the page's family filter
    order: int  # position in the family filter and the statistics' groups (then by name)
    audit: str = ""
    recovery: str = ""
    report_section: str = ""
    figures: tuple[tuple[str, str], ...] = ()

    def hook(self, name: str) -> Callable[..., Any] | None:
        """The callable of hook ``name`` (:data:`HOOKS`), imported now; None where the family has none."""
        if name not in HOOKS:
            raise ConfigError(f"unknown host-family hook {name!r} (known: {', '.join(HOOKS)})")
        ref = getattr(self, name)
        return resolve(ref) if ref else None


def resolve(ref: str) -> Callable[..., Any]:
    """The object a ``"module:object"`` reference names."""
    module, _, attr = ref.partition(":")
    if not attr:
        raise ConfigError(f"a hook must be 'module:object', got {ref!r}")
    return getattr(importlib.import_module(module), attr)


class FamilyDiscovery(PluginFamily):
    """:class:`PluginFamily` for host families: a built-in family is a sub-package defining ``FAMILY``; an entry point
    names a :class:`HostFamily` or a module defining ``FAMILY``; both register under the family's ``name``."""

    def refresh(self, registry, *, force: bool) -> None:
        fingerprint = path_fingerprint()
        if not force and fingerprint == self._fingerprint:
            return
        self._fingerprint = fingerprint
        importlib.invalidate_caches()
        package = importlib.import_module(self.package)
        for info in pkgutil.iter_modules(package.__path__):
            if info.ispkg:
                self._add(registry, info.name, f"{self.package}.{info.name}",
                          lambda m=f"{self.package}.{info.name}": importlib.import_module(m), "plantseek")
        for ep in third_party_entry_points(self.group):
            key = (distribution_of(ep), ep.name, ep.value)
            if key not in self._loaded and self._add(registry, ep.name, ep.value, ep.load, key[0]):
                self._loaded.add(key)

    def _add(self, registry, name: str, ref: str, load: Callable[[], Any], dist: str) -> bool:
        try:
            obj = load()
            family = getattr(obj, "FAMILY", None) if isinstance(obj, types.ModuleType) else obj
            if not isinstance(family, HostFamily):
                raise PlantseekError(f"it names {obj!r}, which is neither {self.expected} nor a module defining "
                                     "FAMILY")
            registry.register(family.name, family)
        except Exception as exc:
            self._failures[name] = f"{self.kind} plug-in {name!r} ({ref}, distribution {dist}) failed to load: " \
                                   f"{one_line(exc)}"
            return False
        self._failures.pop(name, None)
        return True


FAMILIES: Registry[HostFamily] = Registry("host family", FamilyDiscovery(
    kind="host family", package="plantseek.families", group="plantseek.families",
    accepts=lambda obj: isinstance(obj, HostFamily), expected="a HostFamily"))


def families() -> list[HostFamily]:
    """Every registered family, in their order."""
    return sorted((FAMILIES.get(n) for n in FAMILIES.names()), key=lambda f: (f.order, f.name))


def family_order(names: Iterable[str]) -> list[str]:
    """The distinct ``names`` in the registry's order, then any unregistered name alphabetically."""
    rank = {f.name: i for i, f in enumerate(families())}
    return sorted(set(names), key=lambda f: (rank.get(f, len(rank)), f))


def family_hook(family: str, hook: str) -> Callable[..., Any] | None:
    """Hook ``hook`` of the family called ``family``; None for a family without it or not registered."""
    return FAMILIES.get(family).hook(hook) if family in FAMILIES else None


def figure_kinds() -> list[tuple[str, str]]:
    """``(kind, "module:function")`` of every family's extra figures, in family order."""
    return [kind for f in families() for kind in f.figures]


__all__ = ["HOOKS", "HostFamily", "FamilyDiscovery", "FAMILIES", "families", "family_order", "family_hook",
           "figure_kinds", "resolve"]
