"""The known optimum of an instance, for the distance-to-optimum metric (Zhang & Papyan's lens).

The harness learns an instance's optimum only from a committed file that ``python -m plantseek certify`` wrote:
``leaderboard/certified/certified.json`` of the repository this package sits in (:data:`CERTIFIED_FILE`), keyed by
the instance's identity (``InstanceSpec.key()``), never from anything a pruner could shape. Where an instance has
a proven-optimal record, every cell on it gets three recovery metrics (a pure function of the mask):

- ``optimum_nnz``: the certified fewest kept weights (a certificate, on the record's finite sample set);
- ``optimum_ratio``: the cell's kept weights / ``optimum_nnz`` (1 = as sparse as the optimum);
- ``optimum_metric``: the optimum mask's strong test metric (the accuracy target "equal accuracy" refers to).

Whether a cell reaches that accuracy is decided per group by :mod:`plantseek.stats.optimum`.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import torch

CERTIFIED_FILE = Path(__file__).resolve().parents[2] / "leaderboard" / "certified" / "certified.json"

__all__ = ["CERTIFIED_FILE", "known_optima", "optimum_metrics"]


@lru_cache(maxsize=4)
def known_optima(path: Path = CERTIFIED_FILE) -> dict[str, dict[str, Any]]:
    """instance key -> {nnz, metric, metric_name, samples}: the proven optima of the file (when an instance has several
    records, the one with the most samples, then the smallest nnz). Empty when the file is absent or unreadable."""
    try:
        blob = json.loads(Path(path).read_text(encoding="utf-8"))
        records = blob["records"] if blob.get("format") == "plantseek-certified" else []
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return {}
    best: dict[str, dict[str, Any]] = {}
    for r in records:
        if r.get("status") != "optimal" or r.get("certified_nnz") is None or not r.get("check_satisfied"):
            continue
        entry = {"nnz": int(r["certified_nnz"]), "metric": r.get("certified_test_metric", math.nan),
                 "metric_name": r.get("metric_name"), "samples": int(r.get("samples_used", 0))}
        old = best.get(r["instance_key"])
        if old is None or (-entry["samples"], entry["nnz"]) < (-old["samples"], old["nnz"]):
            best[r["instance_key"]] = entry
    return best


def optimum_metrics(instance_key: str, mask: Mapping[str, torch.Tensor],
                    optima: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, float]:
    """``optimum_nnz``, ``optimum_ratio`` and ``optimum_metric`` of ``mask`` (weights only) on the instance with key
    ``instance_key``; ``{}`` where no optimum is known."""
    opt = (known_optima() if optima is None else optima).get(instance_key)
    if not opt or opt["nnz"] <= 0:
        return {}
    kept = sum(int(m.sum()) for name, m in mask.items() if name.endswith("weight"))
    return {"optimum_nnz": float(opt["nnz"]), "optimum_ratio": kept / opt["nnz"],
            "optimum_metric": float(opt["metric"])}
