"""A tiny name -> object registry, used for tasks, pruners, suites, executors and CLI commands.

A registry may have a :class:`Discovery` (tasks and pruners: :class:`plantseek.core.plugins.PluginFamily`) that
loads plug-ins into it: on a lookup that misses, and before listing.
"""

from __future__ import annotations

import difflib
from typing import Any, Callable, Generic, Iterator, Protocol, TypeVar, overload

from plantseek.core.errors import ConfigError

T = TypeVar("T")


class Discovery(Protocol):
    def refresh(self, registry: "Registry[Any]", *, force: bool) -> None:
        """Register plug-ins not yet loaded; ``force``: scan even if nothing seems to have changed."""

    def failure(self, name: str) -> str | None:
        """The one-line error of the plug-in called ``name``, if it failed to load."""

    def failures(self) -> list[str]:
        """The one-line errors of all plug-ins that failed to load."""


class Registry(Generic[T]):
    def __init__(self, kind: str, discovery: Discovery | None = None) -> None:
        self.kind = kind
        self.discovery = discovery
        self._items: dict[str, T] = {}

    @overload
    def register(self, name: str) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, item: T) -> T: ...

    def register(self, name: str, item: T | None = None) -> T | Callable[[T], T]:
        """Register ``item`` under ``name``; usable as a decorator when ``item`` is omitted."""

        def _add(obj: T) -> T:
            if name in self._items and self._items[name] is not obj:
                raise ConfigError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return _add(item) if item is not None else _add

    def unregister(self, name: str) -> None:
        """Remove ``name`` (nothing if it is not registered): for a test's temporary registrations, so that one test
        cannot change the registry (and the every-pruner suites' cells) another test sees."""
        self._items.pop(name, None)

    def get(self, name: str) -> T:
        if name not in self._items and self.discovery is not None:
            self.discovery.refresh(self, force=True)
        try:
            return self._items[name]
        except KeyError:
            raise ConfigError(self._unknown(name)) from None

    def _unknown(self, name: str) -> str:
        failure = self.discovery.failure(name) if self.discovery is not None else None
        if failure is not None:
            return failure
        close = difflib.get_close_matches(name, sorted(self._items), n=3, cutoff=0.75) if isinstance(name, str) else []
        if close:  # a typo: the nearest names, not the whole list
            maybe = " or ".join(repr(c) for c in close)
            message = (f"unknown {self.kind} {name!r}: did you mean {maybe}? "
                       f"({len(self._items)} known: python -m plantseek list)")
        else:
            known = ", ".join(sorted(self._items)) or "none"
            message = f"unknown {self.kind} {name!r} (known: {known})"
        failed = self.failures()
        return f"{message}; {len(failed)} plug-in(s) failed to load, first: {failed[0]}" if failed else message

    def names(self) -> list[str]:
        if self.discovery is not None:
            self.discovery.refresh(self, force=False)
        return sorted(self._items)

    def failures(self) -> list[str]:
        """One line per plug-in that failed to load (none without discovery)."""
        return self.discovery.failures() if self.discovery is not None else []

    def __contains__(self, name: object) -> bool:
        if name not in self._items and isinstance(name, str) and self.discovery is not None:
            self.discovery.refresh(self, force=True)
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())
