"""Plug-in discovery: the built-in tasks and pruners, and third-party ones declared as entry points.

Built-ins are the modules of the packages ``plantseek.tasks`` and ``plantseek.baselines`` (the repository's
``tasks/`` and ``baselines/``); each registers itself when imported. They are found by importing those packages,
not through entry points, because that works alike installed, installed editable and run from a checkout without
installing (where there is no distribution metadata), and a new file there is found without reinstalling.

Third-party plug-ins are distributions declaring entry points in the groups ``plantseek.tasks`` and
``plantseek.pruners``. An entry point names either a module (imported; it registers itself with
``@TASKS.register`` / ``@PRUNERS.register``) or an object (a Task subclass, or a zero-argument pruner factory such
as a pruner class), registered under the entry point's name.

Discovery is not cached for the life of the process: a lookup that misses scans again (so a plug-in installed
after the first lookup is found), and listing scans again when ``sys.path`` or one of its directories changed.
A scan costs a ``stat`` per path entry when nothing changed. A plug-in that fails to load is kept as a one-line
message naming it and its distribution; the other plug-ins load regardless.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys
import types
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Callable

from plantseek.core.errors import PlantseekError
from plantseek.core.registry import Registry

#: ``sys.path`` entries with their modification times (see :func:`path_fingerprint`).
Fingerprint = tuple[tuple[str, int | None], ...]


def one_line(exc: BaseException) -> str:
    """``Type: message`` of an exception on one line (PlantseekError: the message alone)."""
    text = " ".join(str(exc).split())
    if isinstance(exc, PlantseekError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def path_fingerprint() -> Fingerprint:
    """``sys.path`` with each entry's modification time: changes when a distribution is installed on it."""
    def mtime(entry: str) -> int | None:
        try:
            return os.stat(entry or ".").st_mtime_ns
        except OSError:
            return None

    return tuple((entry, mtime(entry)) for entry in sys.path)


#: ``PLANTSEEK_PLUGINS=builtin`` loads the in-tree tasks, pruners and host families only, no entry point of an
#: installed distribution (the test suite sets it, so that an unrelated plug-in cannot change what it sees).
PLUGINS_VARIABLE = "PLANTSEEK_PLUGINS"


def third_party_entry_points(group: str) -> list[EntryPoint]:
    """The entry points of ``group`` declared by installed distributions; none under ``PLANTSEEK_PLUGINS=builtin``."""
    if os.environ.get(PLUGINS_VARIABLE, "").strip().lower() == "builtin":
        return []
    return list(entry_points(group=group))


def distribution_of(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"


@dataclass
class PluginFamily:
    """Where the plug-ins of one kind come from: a built-in package and an entry-point group.

    ``accepts`` says whether an entry point's object (not module) may be registered; ``expected`` names what it
    must be, for the error message.
    """

    kind: str
    package: str
    group: str
    accepts: Callable[[Any], bool]
    expected: str
    _loaded: set[tuple[str, str, str]] = field(default_factory=set)
    _failures: dict[str, str] = field(default_factory=dict)
    _fingerprint: Fingerprint | None = None

    def refresh(self, registry: Registry[Any], *, force: bool) -> None:
        """Load new plug-ins into ``registry``: always when ``force``, else only when the import path changed."""
        fingerprint = path_fingerprint()
        if not force and fingerprint == self._fingerprint:
            return
        self._fingerprint = fingerprint
        importlib.invalidate_caches()
        self._import_builtins()
        for ep in third_party_entry_points(self.group):
            self._load_entry_point(ep, registry)

    def failure(self, name: str) -> str | None:
        """The error of the plug-in called ``name`` (entry point or built-in module) if it failed to load."""
        return self._failures.get(name)

    def failures(self) -> list[str]:
        return [self._failures[name] for name in sorted(self._failures)]

    def _import_builtins(self) -> None:
        try:
            package = importlib.import_module(self.package)
        except Exception as exc:
            self._failures[self.package] = f"{self.kind} package {self.package} failed to load: {one_line(exc)}"
            return
        for info in pkgutil.iter_modules(package.__path__):
            module = f"{self.package}.{info.name}"
            if module in sys.modules:
                continue
            try:
                importlib.import_module(module)
            except Exception as exc:
                self._failures[info.name] = (f"{self.kind} plug-in {module} (distribution plantseek) failed to load: "
                                             f"{one_line(exc)}")
            else:
                self._failures.pop(info.name, None)

    def _load_entry_point(self, ep: EntryPoint, registry: Registry[Any]) -> None:
        key = (distribution_of(ep), ep.name, ep.value)
        if key in self._loaded:
            return
        try:
            obj = ep.load()
            if not isinstance(obj, types.ModuleType):
                if not self.accepts(obj):
                    raise PlantseekError(f"it names {obj!r}, which is neither a module nor {self.expected}")
                declared = getattr(obj, "name", None)
                if isinstance(declared, str) and declared != ep.name:  # one name per plug-in, listed and shown
                    raise PlantseekError(f"its class declares name {declared!r} but its entry point is {ep.name!r}: "
                                         "give both the same name")
                registry.register(ep.name, obj)
        except Exception as exc:
            self._failures[ep.name] = (f"{self.kind} plug-in {ep.name!r} ({ep.value}, distribution {key[0]}) "
                                       f"failed to load: {one_line(exc)}")
            return
        self._failures.pop(ep.name, None)
        self._loaded.add(key)
