"""Regenerating only what changed: a fingerprint per setting, kept in ``settings/fingerprints.json`` of a leaderboard
folder, decides whether that setting's page and figures are written again.

A setting's fingerprint is a SHA-256 of everything its page and figures are drawn from: its cells (every stored
column of its rows, in any order), whether the frame holds hidden-instance cells (its leaders are then ranked on those
alone: :func:`plantseek.frame.leak.published_cells`), with figures the list of all methods of the frame (the
figures' colours depend on it; a page without figures does not, so a new method rewrites only the settings it has
cells in), whether figures are drawn, and the code that draws them (the report package's source, templates and
static files, and plantseek's version). Equal fingerprints and files still on disk: the page is up to date, as a
full regeneration would write it. The index, ``all.html``, ``README.md``, ``results.csv`` and the
critical-difference diagrams span every setting and are always rewritten, except a critical-difference diagram
whose drawing is unchanged (:func:`cd_fingerprint`, kept in ``plots/cd_fingerprints.json``).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from plantseek.core.files import atomic_write_text
from plantseek.frame.leak import has_hidden
from plantseek.report.cd_diagram import cd_title
from plantseek.stats.comparisons import Comparison

MANIFEST = "settings/fingerprints.json"
CD_MANIFEST = "plots/cd_fingerprints.json"


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 of plantseek's version and the report package's ``*.py``, templates and static files."""
    import plantseek

    digest = hashlib.sha256(str(getattr(plantseek, "__version__", "")).encode())
    root = resources.files("plantseek.report")
    files: list[Any] = []
    for folder in (root, root.joinpath("templates"), root.joinpath("static")):
        files += [f for f in folder.iterdir() if f.is_file() and f.name.endswith((".py", ".j2", ".css", ".js"))]
    for f in sorted(files, key=lambda f: f.name):
        digest.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return digest.hexdigest()


def _stored_columns(d: pd.DataFrame) -> list[str]:
    """The columns of a prepared frame that came from the store (not the ``_``-prefixed derived ones), without
    masks or other bytes."""
    return [c for c in d.columns if not str(c).startswith("_") and str(c).lower() not in ("mask", "masks")
            and not d[c].map(lambda v: isinstance(v, (bytes, bytearray, memoryview))).any()]


def setting_fingerprints(d: pd.DataFrame, with_plots: bool) -> dict[str, str]:
    """``{setting slug: fingerprint}`` of a prepared frame (see the module's rule)."""
    cols = _stored_columns(d)
    rows = pd.util.hash_pandas_object(d[cols].astype(str), index=False).to_numpy(np.uint64)
    methods = sorted(set(d["_method"])) if with_plots else []
    common = hashlib.sha256("\0".join([code_fingerprint(), str(with_plots), f"hidden={has_hidden(d)}",
                                       *methods]).encode())
    out = {}
    for slug, idx in d.groupby("_slug", sort=True).indices.items():
        h = common.copy()
        h.update(np.sort(rows[idx]).tobytes())  # order-free: the same cells in any order hash alike
        out[str(slug)] = h.hexdigest()
    return out


def read_manifest(out_dir: str | Path, name: str = MANIFEST) -> dict[str, Any]:
    """The folder's ``{slug: {"fingerprint", "page", "figures"}}`` (``name``: :data:`MANIFEST`), or
    ``{comparison key: fingerprint}`` (:data:`CD_MANIFEST`); empty when missing or unreadable."""
    try:
        data = json.loads((Path(out_dir) / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def up_to_date(out_dir: str | Path, entry: dict[str, Any] | None, fingerprint: str) -> bool:
    """Whether a setting whose manifest entry is ``entry`` needs no rewrite: same fingerprint, every file there."""
    if not entry or entry.get("fingerprint") != fingerprint:
        return False
    files = [entry.get("page", ""), *dict(entry.get("figures", {})).values()]
    return all(f and (Path(out_dir) / f).is_file() for f in files)


def remove_listed(out_dir: str | Path, entry: Any) -> list[Path]:
    """Delete the page and figures a manifest ``entry`` names (a setting no longer in the frame); only files directly
    in ``settings/`` or ``plots/`` of ``out_dir`` with a page's or figure's suffix, whatever else a damaged manifest
    says. Returns the deleted files."""
    try:
        files = [entry.get("page", ""), *dict(entry.get("figures", [])).values()]
    except (AttributeError, TypeError, ValueError):
        return []
    gone = []
    for f in files:
        rel = Path(str(f))
        if len(rel.parts) == 2 and rel.parts[0] in ("settings", "plots") and rel.suffix in (".html", ".png", ".svg"):
            path = Path(out_dir) / rel
            if path.is_file():
                path.unlink()
                gone.append(path)
    return gone


def write_manifest(out_dir: str | Path, manifest: dict[str, Any], name: str = MANIFEST) -> Path:
    return atomic_write_text(Path(out_dir) / name, json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def cd_fingerprint(c: Comparison, fmt: str) -> str:
    """SHA-256 of what a critical-difference diagram draws (its title, mean ranks, critical difference and bars),
    its format and the code."""
    fr = c.friedman
    drawn = repr((cd_title(c), sorted(fr.mean_ranks.items()), fr.cd, [list(g) for g in c.cliques], fmt))
    return hashlib.sha256((code_fingerprint() + drawn).encode()).hexdigest()


__all__ = ["MANIFEST", "CD_MANIFEST", "cd_fingerprint", "code_fingerprint", "setting_fingerprints", "read_manifest",
           "remove_listed", "up_to_date", "write_manifest"]
