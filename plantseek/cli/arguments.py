"""Checking command-line arguments before any work (torch-free).

Two kinds of checks, both ending in one line ``plantseek: error: ...`` and exit code 2:

- *value types* for argparse (``integer``, ``number``, ``names``, ``seeds``, ``densities``, ``path``): a value is
  rejected while it is parsed, and argparse's message names the option (``argument --width: ...``);
- *state checks* a command's ``check(args)`` runs on the effective values once everything is parsed
  (``output_file``, ``output_folder``, ``input_file``): a path that exists with the wrong kind, or whose folder
  cannot be created or written. They raise :class:`~plantseek.core.errors.ConfigError` naming the option.

The bounds and their reasons are in :mod:`plantseek.core.limits`.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Callable

from plantseek.core import limits
from plantseek.core.errors import ConfigError
from plantseek.core.patterns import is_pattern_spec, parse_pattern

MAX_PATH_BYTES = 4096  # PATH_MAX on Linux
MAX_NAME_BYTES = 255  # NAME_MAX: one path component
MAX_LIST_ITEMS = 1000  # names or densities in one comma-separated option


def _named(fn: Callable, name: str) -> Callable:
    fn.__name__ = name  # argparse names the type in some messages
    return fn


def integer(lo: int, hi: int) -> Callable[[str], int]:
    """An argparse type: an integer in [lo, hi]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {_short(text)}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be an integer >= {lo} and <= {hi}, got {_short(text)}")
        return value

    return _named(parse, "int")


def number(lo: float, hi: float, *, above: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number in [lo, hi] (in (lo, hi] when ``above``)."""
    low = f"> {lo:g}" if above else f">= {lo:g}"
    bounds = low if math.isinf(hi) else f"{low} and <= {hi:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid number: {_short(text)}") from None
        if not math.isfinite(value) or not (value > lo if above else value >= lo) or value > hi:
            raise argparse.ArgumentTypeError(f"must be a finite number {bounds}, got {_short(text)}")
        return value

    return _named(parse, "number")


def names(text: str) -> list[str]:
    """An argparse type: a non-empty comma-separated list of names (blank items dropped)."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"needs at least one comma-separated name, got {_short(text)}")
    if len(items) > MAX_LIST_ITEMS:
        raise argparse.ArgumentTypeError(f"{len(items)} names, more than {MAX_LIST_ITEMS}")
    return items


def seeds(text: str) -> list[int]:
    """An argparse type: comma-separated seeds and ranges ``a-b`` in [0, 2**31 - 1], at most ``MAX_SEEDS``."""
    out: list[int] = []
    for item in names(text):
        try:
            a, b = item.split("-", 1) if "-" in item[1:] else (item, item)
            first, last = int(a), int(b)
        except ValueError:
            raise argparse.ArgumentTypeError(f"seeds must be integers or ranges like 0-24, got {_short(item)}") \
                from None
        if not 0 <= first <= last <= limits.MAX_SEED:
            raise argparse.ArgumentTypeError(f"seeds must be >= 0 and <= {limits.MAX_SEED} (a range a-b with a <= b), "
                                             f"got {_short(item)}")
        if len(out) + last - first + 1 > limits.MAX_SEEDS:
            raise argparse.ArgumentTypeError(f"more than {limits.MAX_SEEDS} seeds in {_short(text)}")
        out.extend(range(first, last + 1))
    return out


def density_value(text: str) -> float:
    """A density in (0, 1] from text, or ArgumentTypeError."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 < value <= 1.0:  # also rejects nan
        raise argparse.ArgumentTypeError(f"density must be in (0, 1] (fraction of weights kept), got {_short(text)}")
    return value


def densities(text: str) -> list[str]:
    """An argparse type: comma-separated densities in (0, 1], ``ticket`` or patterns (``2:4``, ``units:0.25``;
    :mod:`plantseek.core.patterns`), kept as text."""
    items = names(text)
    for item in items:
        if is_pattern_spec(item):
            try:
                parse_pattern(item)
            except ConfigError as exc:
                raise argparse.ArgumentTypeError(str(exc)) from None
        elif item.lower() != "ticket":
            density_value(item)
    return items


def number_list(text: str) -> tuple[float, ...]:
    """An argparse type: comma-separated densities in (0, 1] (no ``ticket``)."""
    return tuple(density_value(item) for item in names(text))


def integer_list(lo: int, hi: int, most: int) -> Callable[[str], tuple[int, ...]]:
    """An argparse type: at most ``most`` comma-separated integers in [lo, hi]."""
    one = integer(lo, hi)

    def parse(text: str) -> tuple[int, ...]:
        items = names(text)
        if len(items) > most:
            raise argparse.ArgumentTypeError(f"at most {most} values, got {len(items)}")
        return tuple(one(item) for item in items)

    return _named(parse, "integers")


def path(text: str) -> str:
    """An argparse type: a path that can name a file (non-empty, no NUL, within the system's length limits)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("empty path")
    if "\0" in text:
        raise argparse.ArgumentTypeError("path contains a NUL character")
    raw = os.fsencode(text)
    if len(raw) > MAX_PATH_BYTES or any(len(part) > MAX_NAME_BYTES for part in raw.split(b"/")):
        raise argparse.ArgumentTypeError(f"path too long (at most {MAX_PATH_BYTES} bytes, {MAX_NAME_BYTES} per name)")
    return text


def checked_path(option: str, text: str) -> str:
    """:func:`path` for a value not parsed by argparse: ConfigError naming ``option``."""
    try:
        return path(text)
    except argparse.ArgumentTypeError as exc:
        raise ConfigError(f"{option} {_short(text)}: {exc}") from None


def _short(text: object, most: int = 60) -> str:
    r = repr(text)
    return r if len(r) <= most else f"{r[:most]}...' ({len(str(text))} characters)"


def _creatable(option: str, target: Path) -> None:
    """The nearest existing folder above ``target`` must be a folder this process can write."""
    above = target.parent
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir():
        raise ConfigError(f"{option} {target}: {above} is not a folder")
    if not os.access(above, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {target}: the folder {above} is not writable")


def output_file(option: str, target: str | Path) -> Path:
    """``target`` can be written as a file: not an existing folder, and its folder exists or can be created."""
    p = Path(target)
    if p.is_dir():
        raise ConfigError(f"{option} {p}: is a folder, not a file")
    if p.exists() and not p.is_file():
        raise ConfigError(f"{option} {p}: exists and is not a regular file")
    _creatable(option, p)
    return p


def output_folder(option: str, target: str | Path) -> Path:
    """``target`` can hold output files: an existing writable folder, or one that can be created."""
    p = Path(target)
    if p.exists():
        if not p.is_dir():
            raise ConfigError(f"{option} {p}: exists and is not a folder")
        if not os.access(p, os.W_OK | os.X_OK):
            raise ConfigError(f"{option} {p}: the folder is not writable")
        return p
    _creatable(option, p)
    return p


def input_file(option: str, target: str | Path) -> Path:
    """``target`` is an existing, readable regular file."""
    p = Path(target)
    if not p.exists():
        raise ConfigError(f"{option} {p}: no such file")
    if not p.is_file():
        raise ConfigError(f"{option} {p}: not a regular file")
    if not os.access(p, os.R_OK):
        raise ConfigError(f"{option} {p}: not readable")
    return p


def host_fits(width: int, depth: int, memory: int | None = None) -> None:
    """The width rule of :mod:`plantseek.core.limits`: ``width**2 * depth * 8`` bytes <= 1/16 of ``memory``."""
    widest = limits.max_width(depth, memory)
    if width > widest:
        mib = limits.host_bytes(width, depth) / 2**20
        raise ConfigError(f"--width {width} at depth {depth}: one host's weights ({mib:.0f} MiB) exceed 1/"
                          f"{limits.HOST_MEMORY_SHARE} of the available memory; at most width {widest}")


def jobs_fit(jobs: int, memory: int | None = None) -> None:
    most = limits.max_jobs(memory)
    if jobs > most:
        raise ConfigError(f"--jobs {jobs}: more worker processes than the available memory holds "
                          f"({limits.WORKER_MEMORY // 2**20} MiB each); at most {most}")


def os_error_line(exc: OSError) -> str:
    """One line for a failed read or write: the path(s) and the system's reason."""
    where = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{where}: {reason}" if where else reason


def limit(lo: float, hi: float, *, off: bool = False) -> Callable[[str], float]:
    """An argparse type for a limit: a finite number in [lo, hi] (``lo`` > 0: nothing tiny, negative, NaN or
    infinite turns the limit off); with ``off``, also exactly ``0``, which asks for no limit."""
    inner = number(lo, hi)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if off and value == 0 and math.copysign(1.0, value) > 0:
            return 0.0
        try:
            return inner(text)
        except argparse.ArgumentTypeError:
            either = "0 (no limit) or " if off else ""
            raise argparse.ArgumentTypeError(f"must be {either}a finite number >= {lo:g} and <= {hi:g}, got "
                                             f"{_short(text)}") from None

    return _named(parse, "limit")
