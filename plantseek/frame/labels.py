"""Names derived from stored values, shared by the results frame, the statistics and the report: file-name slugs,
the order of density specs, method labels."""

from __future__ import annotations

import re


def slugify(text: str) -> str:
    """A file-name safe form of ``text`` (never empty)."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return s or "x"


def spec_key(spec: str) -> tuple:
    """Sort key of a density spec: ``ticket`` first, then numbers increasing, then anything else."""
    if spec == "ticket":
        return (0, 0.0, spec)
    try:
        return (1, float(spec), spec)
    except ValueError:
        return (2, 0.0, spec)


def method_label(pruner: str, ablation: str) -> str:
    """How a method is shown: the pruner, with a sanity ablation in brackets (``"P [shuffled]"``)."""
    return f"{pruner} [{ablation}]" if ablation else pruner
