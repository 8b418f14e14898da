"""The per-head recovery figure of attention settings, drawn from stored results alone (``metrics_json`` →
``per_head``, written for cells on transformer hosts by :mod:`plantseek.families.attention.metrics`).

``heads``: a heat map, one row per method and one column per density, of the mean recall of the ticket's heads
(each head's recall = the share of its query, key, value and output ticket weights kept; mean over the ticket's
heads and the seeds), annotated with the value. Settings without per-head data (MLP and CNN hosts) get no figure.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from plantseek.frame.labels import spec_key


def head_recall(value: Any) -> float | None:
    """The mean recall of the ticket's heads from a cell's ``metrics_json``; None without per-head data."""
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8", "replace")
    try:
        heads = json.loads(value).get("per_head") if isinstance(value, str) else None
    except (ValueError, AttributeError):
        return None
    recall = heads.get("recall") if isinstance(heads, dict) else None
    return float(np.mean(recall)) if isinstance(recall, list) and recall else None


def head_table(cells: pd.DataFrame) -> pd.DataFrame:
    """Methods x density specs (ordered) of the mean head recall over seeds; empty without per-head data."""
    if "metrics_json" not in cells.columns:
        return pd.DataFrame()
    ok = cells[cells["_ok"]].assign(_heads=lambda d: d["metrics_json"].map(head_recall))
    ok = ok[ok["_heads"].notna()]
    if ok.empty:
        return pd.DataFrame()
    table = ok.pivot_table(index="_method", columns="density_spec", values="_heads", aggfunc="mean")
    return table[sorted(table.columns, key=spec_key)].sort_index()


def figure_heads(cells: pd.DataFrame, styles: dict | None = None):
    """The heat map of :func:`head_table`; None without per-head data."""
    table = head_table(cells)
    if table.empty:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.0 + 0.9 * table.shape[1], 1.6 + 0.28 * table.shape[0]), dpi=100, layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(table.to_numpy(float), vmin=0.0, vmax=1.0, cmap="viridis", aspect="auto")
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns])
    ax.set_yticks(range(table.shape[0]), [str(m).replace("$", r"\$") for m in table.index])
    for (i, j), v in np.ndenumerate(table.to_numpy(float)):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v < 0.6 else "black")
    ax.set_xlabel("density")
    fig.colorbar(image, ax=ax, label="ticket heads' recall (mean)")
    setting = str(cells["_setting"].iloc[0]).replace("$", r"\$")
    fig.suptitle(f"{setting}\nrecall of the planted heads (Q, K, V, O ticket weights)", fontsize=9)
    return fig
