"""Formatting shared by the leaderboard's Markdown and HTML and by the plots: numbers, escaping, labels, ordering."""

from __future__ import annotations

import html
import math
import re
from typing import Any

import numpy as np

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def fmt(x: Any, spec: str = ".3g") -> str:
    """A number for a table: 3 significant digits, an em dash for missing or non-finite values."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(v):
        return "—"
    return format(v, spec)


def pm(mean: float, std: float) -> str:
    """``mean ± std`` as plain text (no ± without a spread, an em dash without a mean)."""
    if not np.isfinite(mean):
        return "—"
    return fmt(mean) if not np.isfinite(std) else f"{fmt(mean)} ± {fmt(std, '.2g')}"


def md_escape(text: Any) -> str:
    """Text from users (pruner and task names) made inert in Markdown: HTML escaped, specials backslashed."""
    s = " ".join(str(text).split())  # no newlines or tabs (they would break a table row)
    s = html.escape(s, quote=True)  # & < > " '  -> entities; Markdown renders inline HTML otherwise
    return _MD_SPECIAL.sub(r"\\\1", s)


def h(text: Any) -> str:
    """Text made inert in HTML (``& < > " '`` as entities)."""
    return html.escape(str(text), quote=True)




def density_label(spec: str, density: float) -> str:
    """How a requested density is shown: the spec, with the resolved number for ``ticket``."""
    return f"ticket ({fmt(density)})" if spec == "ticket" else spec


def metric_label(metric: str, hib: bool) -> str:
    """A metric's name with its direction."""
    return f"{metric or 'metric'} ({'higher' if hib else 'lower'} is better)"
