"""Leak ceiling and instance kinds: what the report says about how well a planted ticket is hidden.

* :func:`instance_columns`: ``instances`` ("public" or "hidden") and ``key_fingerprint`` of every cell, read from
  its stored configuration (``config_json``; a cell stored before hidden instances existed is public);
  :func:`published_cells` and :func:`development_cells` split a prepared frame into the published board (hidden
  instances, when there are any) and the development board (public instances);
* :func:`leak_ceiling`: per setting, the best *leak detector*'s mean recall at the ticket density (the "leak
  ceiling": how much of the ticket a simple statistic of the host's initial weights reads off) next to random's.
  Leak detectors are the registered pruners named ``leak-*`` (tag ``leak-detector``; ``baselines/leak_*.py``).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

LEAK_PREFIX = "leak-"
LEAK_RULE = (
    "Leak ceiling: leak detectors are non-learning pruners that look only at the host's initial weights through one "
    "simple statistic (magnitude outliers, smallest and largest magnitudes, exactly repeated float32 magnitudes, zero "
    "biases, bias-to-weight ratios, unit norms and norm ratios, sign patterns, row/column structure; pruners named "
    "leak-*). Per setting, at the ticket density, the best detector's mean recall over seeds (ok cells) is the "
    "setting's leak ceiling, shown next to random's. A ceiling well above random means that statistic gives part of "
    "the ticket away without any search, or that the ticket is denser in some layers than in others and the statistic "
    "spends its budget there (docs/leak-audit.md separates the two).")


def _instance_kind(text: object) -> tuple[str, str]:
    try:
        config = json.loads(text) if isinstance(text, str) else {}
    except ValueError:
        config = {}
    if not isinstance(config, dict):
        config = {}
    kind = config.get("instances") or "public"
    return str(kind), str(config.get("key_fingerprint") or "")


def instance_columns(df: pd.DataFrame) -> tuple[list[str], list[str]]:
    """``(instances, key_fingerprint)`` of every row of a results frame, from its ``config_json`` column."""
    if "config_json" not in df.columns:
        return ["public"] * len(df), [""] * len(df)
    kinds = [_instance_kind(t) for t in df["config_json"]]
    return [k for k, _ in kinds], [f for _, f in kinds]


def instances_label(kind: str, fingerprint: str) -> str:
    """How a setting names its instances: "" for public ones, "hidden instances (key …)" otherwise."""
    return f"hidden instances (key {fingerprint})" if kind == "hidden" else ""


def has_hidden(d: pd.DataFrame) -> bool:
    """Whether a prepared frame holds any cell on hidden instances."""
    return bool(d["instances"].eq("hidden").any())


def published_cells(d: pd.DataFrame) -> pd.DataFrame:
    """The cells the published ranking is computed on: those on hidden instances when the frame holds any (a public
    instance can be re-planted from its seed, so its recall can be forged), else every cell (a store of public
    instances only is a development board, and the page says so)."""
    return d[d["instances"].eq("hidden")] if has_hidden(d) else d


def development_cells(d: pd.DataFrame) -> pd.DataFrame:
    """The cells on public instances: the development board (anyone can re-run them)."""
    return d[d["instances"].eq("public")]


def is_leak_detector(pruner: pd.Series) -> pd.Series:
    return pruner.astype(str).str.startswith(LEAK_PREFIX)


def _recall_at_ticket(d: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and seed count of recall per (setting, pruner) at the ticket density (ok competitor cells)."""
    sel = d[d["_ok"] & d["_ablation"].eq("") & d["density_spec"].eq("ticket") & np.isfinite(d["recall"])]
    return sel.groupby(["_sid", "_setting", "_base"], sort=True)["recall"].agg(["mean", "std", "count"]).reset_index()


def leak_ceiling(d: pd.DataFrame) -> pd.DataFrame:
    """One row per setting with leak-detector cells at the ticket density: ``setting``, ``detector`` (the best),
    ``detector_recall_mean/std``, ``random_recall_mean/std`` (NaN without random cells), ``seeds`` (the best
    detector's), ``ratio`` (detector / random mean recall; NaN when random's is 0 or missing). Empty (with these
    columns) when no leak detector ran."""
    cols = ["setting", "detector", "detector_recall_mean", "detector_recall_std", "random_recall_mean",
            "random_recall_std", "seeds", "ratio"]
    stats = _recall_at_ticket(d)
    rows = []
    for (_, setting), grp in stats.groupby(["_sid", "_setting"], sort=True):
        det = grp[is_leak_detector(grp["_base"])]
        if not len(det):
            continue
        best = det.sort_values(["mean", "_base"], ascending=[False, True], kind="stable").iloc[0]
        rnd = grp[grp["_base"].eq("random")]
        r_mean = float(rnd["mean"].iloc[0]) if len(rnd) else np.nan
        r_std = float(rnd["std"].iloc[0]) if len(rnd) else np.nan
        ratio = float(best["mean"]) / r_mean if r_mean > 0 else np.nan
        rows.append([setting, best["_base"], float(best["mean"]), float(best["std"]), r_mean, r_std,
                     int(best["count"]), ratio])
    return pd.DataFrame(rows, columns=cols)
