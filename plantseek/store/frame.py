"""The store's cells as a pandas DataFrame (:func:`plantseek.store.results.load_results`): fixed columns first,
then one column per scalar recovery metric, then the non-scalar metrics as JSON text, then one column per entry of
the pruner's compute record (:data:`plantseek.records.compute.COMPUTE_KEYS`; NaN where a cell has none, e.g. in a store
written before schema version 4)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plantseek.core.errors import StoreError
from plantseek.records.compute import COMPUTE_KEYS
from plantseek.records.cells import COLUMNS
from plantseek.store.schema import FLOAT_FIELDS
from plantseek.train.engine import FIRST_ENGINE

if TYPE_CHECKING:
    import pandas as pd

#: Scalar recovery metrics (``plantseek.score.metrics.recovery_metrics``) that the frame always has as columns,
#: missing values as NaN/NA; any other scalar metric key becomes a column too, after these, in order of first
#: appearance.
METRIC_COLUMNS = [
    "precision", "recall", "f1", "jaccard", "effective_density", "nominal_density", "contains_ticket",
    "layer_collapse", "ticket_neurons_recovered",
]
_BOOL_METRICS = {"contains_ticket", "layer_collapse"}  # boolean columns even when no cell has them
#: Columns of the frame after ``records.COLUMNS`` and before the metric columns.
EXTRA_COLUMNS = ["ablation", "higher_is_better", "attempts", "task_options", "config_json", "pruner_source",
                 "pruner_code", "verified", "engine"]
#: The stored columns a frame is built from, in order (``mask`` is added with ``include_masks``).
SOURCE_COLUMNS = list(COLUMNS) + EXTRA_COLUMNS + ["metrics_json", "compute_json"]


def build_frame(records: list[dict[str, Any]], include_masks: bool, path: Path) -> pd.DataFrame:
    """The DataFrame of ``records`` (one dict of :data:`SOURCE_COLUMNS` values, plus ``mask``, per cell)."""
    import pandas as pd

    base = list(COLUMNS) + EXTRA_COLUMNS
    metric_values, others = [], []
    keys: dict[str, None] = dict.fromkeys(METRIC_COLUMNS)
    for d in records:
        try:
            metrics = json.loads(d["metrics_json"])
        except (TypeError, ValueError) as exc:
            raise StoreError(f"{path}: corrupt JSON in cell {d['cell_id']} ({exc})") from None
        scalars = {k: v for k, v in metrics.items() if _is_scalar(v)}
        keys.update(dict.fromkeys(scalars))
        metric_values.append(scalars)
        rest = {k: v for k, v in metrics.items() if k not in scalars}
        others.append(json.dumps(rest) if rest else "{}")
        if include_masks and d["mask"] is not None:
            d["mask"] = bytes(d["mask"])
    names = _metric_names(keys, set(base) | {"metrics_json", "mask"})
    df = _typed(pd.DataFrame(records, columns=base))
    metric_cols = {names[k]: _metric_series([m.get(k) for m in metric_values], df.index, k in _BOOL_METRICS)
                   for k in keys}
    tail = {"metrics_json": pd.Series(others, index=df.index, dtype=object),
            **_compute_columns(records, df.index, path)}
    if include_masks:
        tail["mask"] = pd.Series([d["mask"] for d in records], index=df.index, dtype=object)
    return pd.concat([df, pd.DataFrame(metric_cols, index=df.index), pd.DataFrame(tail, index=df.index)], axis=1)


def _compute_columns(records: list[dict[str, Any]], index: pd.Index, path: Path) -> dict[str, Any]:
    """One float column per compute key (NaN where a cell has no such entry)."""
    import pandas as pd

    values = []
    for d in records:
        try:
            compute = json.loads(d.get("compute_json") or "{}")
        except (TypeError, ValueError) as exc:
            raise StoreError(f"{path}: corrupt JSON in cell {d['cell_id']} ({exc})") from None
        values.append(compute if isinstance(compute, dict) else {})
    return {k: pd.Series([_float_or_nan(c.get(k)) for c in values], index=index, dtype="float64")
            for k in COMPUTE_KEYS}


def _float_or_nan(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def _metric_names(keys: dict[str, None], taken: set[str]) -> dict[str, str]:
    """Column name of each metric key: the key, prefixed ``metric_`` while it collides with a taken name."""
    names = {}
    for k in keys:
        name = k
        while name in taken:
            name = f"metric_{name}"
        names[k] = name
        taken.add(name)
    return names


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """The fixed columns with their dtypes: integers, floats (NaN for missing), a nullable boolean direction."""
    import pandas as pd

    df["engine"] = [FIRST_ENGINE if v is None or pd.isna(v) else v for v in df["engine"]]  # NULL: stored before v6
    for c in ("depth", "width", "seed", "attempts", "engine"):
        df[c] = df[c].astype("int64")
    df["verified"] = df["verified"].astype(bool)
    for c in FLOAT_FIELDS:
        df[c] = df[c].astype("float64")
    df["higher_is_better"] = pd.array([None if pd.isna(v) else bool(v) for v in df["higher_is_better"]],
                                      dtype="boolean")
    try:
        df["noise"] = df["noise"].astype("float64")
    except (TypeError, ValueError):
        pass  # a non-numeric noise option: left as stored
    return df


def _metric_series(values: list[Any], index: pd.Index, boolean: bool) -> pd.Series:
    import pandas as pd

    present = [v for v in values if v is not None]
    if (present or boolean) and all(isinstance(v, bool) for v in present):
        return pd.Series(pd.array(values, dtype="boolean"), index=index)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        if present and len(present) == len(values) and all(isinstance(v, int) for v in present):
            return pd.Series(values, index=index, dtype="int64")
        return pd.Series([math.nan if v is None else float(v) for v in values], index=index, dtype="float64")
    return pd.Series(values, index=index, dtype=object)


def _is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))
