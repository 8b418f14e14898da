"""Where the results came from, read from the frame alone: versions, commits, cell counts, dates."""

from __future__ import annotations

import datetime as _dt
from typing import Any

import pandas as pd

from plantseek.frame.leak import has_hidden
from plantseek.frame.prepared import str_col
from plantseek.report.rules import BOARD_HIDDEN, BOARD_PUBLIC


def _distinct(df: pd.DataFrame, col: str) -> list[str]:
    if col not in df.columns:
        return []
    vals = str_col(df[col])
    return sorted(v for v in set(vals) if v and v.lower() != "nan")


def _listed(values: list[str], limit: int = 4) -> str:
    if not values:
        return "unknown"
    shown = ", ".join(values[:limit])
    return shown + (f" (+{len(values) - limit} more)" if len(values) > limit else "")


def _minute(stamp: str) -> str:
    """An ISO 8601 time shortened to the minute, in UTC ("2025-01-02 03:04 UTC"); other text unchanged."""
    try:
        t = _dt.datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if t.tzinfo is not None:
        t = t.astimezone(_dt.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M") + (" UTC" if t.tzinfo is not None else "")


def provenance(df: pd.DataFrame, now: _dt.datetime | None = None) -> dict[str, Any]:
    """Facts about where the results came from, all read from the frame (plus the generation time)."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    ok = df["status"].astype(str).eq("ok") if "status" in df.columns else pd.Series(dtype=bool)
    created = sorted({_minute(c) for c in _distinct(df, "created_at")})
    return {
        "plantseek_versions": _distinct(df, "plantseek_version"),
        "git_commits": [c[:10] for c in _distinct(df, "git_commit")],
        "torch_versions": _distinct(df, "torch_version"),
        "engines": sorted(_distinct(df, "engine"), key=lambda v: (len(v), v)),  # training engine versions
        "cells": int(len(df)), "ok": int(ok.sum()), "failed": int(len(df) - ok.sum()),
        "refused": int(df.attrs.get("refused", 0)),
        "unverified": int((~df["verified"].astype(bool)).sum()) if "verified" in df.columns else 0,
        "created_from": created[0] if created else "", "created_to": created[-1] if created else "",
        "generated": now.astimezone(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


def provenance_line(df: pd.DataFrame, now: _dt.datetime | None = None) -> str:
    """One line: plantseek version(s), git commit(s), torch version(s), training engine version(s), cell counts,
    result dates, generation time."""
    p = provenance(df, now)
    parts = [f"plantseek {_listed(p['plantseek_versions'])}", f"git {_listed(p['git_commits'])}",
             f"torch {_listed(p['torch_versions'])}",
             *([f"training engine {_listed(p['engines'])}"] if p["engines"] else []),
             f"{p['cells']} cells ({p['ok']} ok, {p['failed']} failed)"]
    if p["refused"]:
        parts.append(f"{p['refused']} refused (digest, format or recomputation mismatch; not shown)")
    if p["unverified"]:
        parts.append(f"{p['unverified']} unverified (stored without a digest)")
    if p["created_from"]:
        span = p["created_from"] if p["created_from"] == p["created_to"] else \
            f"{p['created_from']} to {p['created_to']}"
        parts.append(f"results created {span}")
    parts.append(f"generated {p['generated']}")
    return "; ".join(parts)


def submitted_sources(df: pd.DataFrame) -> list[str]:
    """One line per submitted pruner: its name, the file it was loaded from and its code hash(es)."""
    if "pruner_source" not in df.columns:
        return []
    sub = df[str_col(df["pruner_source"]).ne("")]
    lines = []
    for name, grp in sub.groupby(str_col(sub["pruner"]), sort=True):
        sources = _listed(sorted(set(str_col(grp["pruner_source"]))))
        codes = _listed(sorted(set(str_col(grp["pruner_code"]) if "pruner_code" in grp else [])) or [""])
        lines.append(f"{name}: submitted as {sources} (code sha256 {codes})")
    return lines


def board_note(d: pd.DataFrame) -> str:
    """What the overall ranking of a prepared frame is computed on (:func:`plantseek.frame.leak.published_cells`):
    hidden instances, with their keys' fingerprints, or public ones only (a development board)."""
    if not has_hidden(d):
        return BOARD_PUBLIC
    keys = sorted(set(d.loc[d["instances"].eq("hidden"), "key_fingerprint"]) - {""})
    return BOARD_HIDDEN.format(keys=", ".join(keys) or "unknown")
