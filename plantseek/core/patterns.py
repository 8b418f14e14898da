"""Density patterns as text (torch-free, so that the command line parses them without torch): ``"N:M"`` and
``"units:F"``; what they mean and how masks honour them is :mod:`plantseek.nets.patterns`."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from plantseek.core.errors import ConfigError

#: Largest M of an N:M pattern.
MAX_M = 64
_NM = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")
_UNITS = re.compile(r"^\s*units\s*:\s*(.+?)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Pattern:
    """``kind`` ``"nm"`` (``n`` of every ``m``) or ``"units"`` (``fraction`` of each tensor's rows)."""

    kind: str
    n: int = 0
    m: int = 0
    fraction: float = 0.0

    @property
    def density(self) -> float:
        return self.n / self.m if self.kind == "nm" else self.fraction

    @property
    def spec(self) -> str:
        """The canonical text of the pattern (``"2:4"``, ``"units:0.25"``)."""
        return f"{self.n}:{self.m}" if self.kind == "nm" else f"units:{self.fraction!r}"


def is_pattern_spec(text: object) -> bool:
    """Whether ``text`` is written as a pattern (contains ``:``), valid or not."""
    return isinstance(text, str) and ":" in text


def parse_pattern(text: object) -> Pattern:
    """The pattern ``text`` names, or ConfigError with one line saying what is wrong."""
    if not isinstance(text, str):
        raise ConfigError(f"a pattern must be text such as '2:4' or 'units:0.25', got {text!r}")
    nm = _NM.match(text)
    if nm:
        n, m = int(nm.group(1)), int(nm.group(2))
        if not 0 < n <= m or m > MAX_M:
            raise ConfigError(f"N:M pattern {text!r} needs 0 < N <= M <= {MAX_M}")
        return Pattern("nm", n=n, m=m)
    units = _UNITS.match(text)
    if units:
        try:
            f = float(units.group(1))
        except ValueError:
            raise ConfigError(f"structured pattern {text!r} needs a fraction of units, e.g. 'units:0.25'") from None
        if math.isnan(f) or not 0.0 < f <= 1.0:
            raise ConfigError(f"structured pattern {text!r} needs a fraction of units in (0, 1]")
        return Pattern("units", fraction=f)
    raise ConfigError(f"unknown pattern {text!r} (known: 'N:M' such as '2:4', or 'units:F' such as 'units:0.25')")


def canonical_pattern(text: object) -> str:
    """The canonical text of a pattern (``" 2 : 4"`` -> ``"2:4"``, ``"UNITS:0.250"`` -> ``"units:0.25"``)."""
    return parse_pattern(text).spec



__all__ = ["MAX_M", "Pattern", "is_pattern_spec", "parse_pattern", "canonical_pattern"]
