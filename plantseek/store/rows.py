"""One cell as one row of the ``cells`` table: the column values :meth:`ResultStore.put` writes, checked so that
nothing is recorded unfaithfully (a success with an error, a mask that is not packed bytes, a non-number).

The mask of a cell on a hidden instance is never stored (:func:`stored_mask`): the published store would hand
out the hidden tickets (docs/hidden-instances.md, "What a published row reveals")."""

from __future__ import annotations

import json
import math
from typing import Any, Mapping

from plantseek.core.errors import StoreError
from plantseek.records.cells import STATUSES, CellConfig, CellResult
from plantseek.train.engine import active_engine, cell_engine
from plantseek.store.legacy import task_family
from plantseek.store.schema import FLOAT_FIELDS, PROVENANCE_FIELDS, now


def cell_row(config: CellConfig, result: CellResult) -> dict[str, Any]:
    """The column values of one cell; raises StoreError for anything that cannot be recorded faithfully."""
    if not isinstance(config, CellConfig):
        raise StoreError(f"put() needs a CellConfig, got {type(config).__name__}")
    if not isinstance(result, CellResult):
        raise StoreError(f"put() needs a CellResult, got {type(result).__name__}")
    cell_id = config.cell_id
    error = _checked_error(result, cell_id)
    mask = stored_mask(config, _checked_mask(result.mask, cell_id))
    for name in ("metrics", "provenance", "compute"):
        if not isinstance(getattr(result, name), Mapping):
            raise StoreError(f"cell {cell_id}: {name} must be a dict, got {type(getattr(result, name)).__name__}")
    try:
        depth, width, seed = int(config.depth), int(config.width), int(config.seed)
    except (TypeError, ValueError):
        raise StoreError(f"cell {cell_id}: depth, width and seed must be integers") from None
    options = dict(config.task_options)
    prov = dict(result.provenance)
    hib = result.higher_is_better
    family = str(result.family or task_family(config.task))
    return {
        "cell_id": cell_id,
        "task": config.task,
        "family": family,
        "depth": depth,
        "width": width,
        "seed": seed,
        "pruner": config.display_pruner,  # the pruner's name only; a sanity ablation is in its own column
        "pruner_source": config.published().pruner if config.pruner_code else "",  # the submitted file's name
        "pruner_code": config.pruner_code or "",
        "ablation": config.ablation or "",
        "density_spec": str(config.density),
        "noise": _scalar_or_none(options.get("noise")),
        "task_options": json.dumps(options, sort_keys=True, default=str),
        "config_json": json.dumps(config.published().as_dict(), sort_keys=True, default=str),  # no local folder
        "status": result.status,
        "error": error,
        "protocol": result.protocol or "",
        "metric_name": result.metric_name or "",
        "higher_is_better": None if hib is None else int(bool(hib)),
        **_floats(result, cell_id),
        "metrics_json": _dumps(dict(result.metrics), "metrics", cell_id),
        "compute_json": _dumps(dict(result.compute), "compute", cell_id),
        "engine": cell_engine(_engine(prov), family),
        "mask": mask,
        **{f: None if prov.get(f) is None else str(prov[f]) for f in PROVENANCE_FIELDS},
        "provenance_json": _dumps(prov, "provenance", cell_id),
        "created_at": now(),
    }


def stored_mask(config: CellConfig, mask: bytes | None) -> bytes | None:
    """The packed mask a row stores: None for a cell on a hidden instance (its mask is withheld: the row keeps its
    recovery metrics, and whoever holds the key re-runs the cell to see its mask again), else ``mask``."""
    return None if withholds_mask(config) else mask


def withholds_mask(config: CellConfig) -> bool:
    """Whether the store withholds the cell's mask: it is a cell on a hidden instance."""
    return config.instances == "hidden"


def holds_hidden_mask(row: Mapping[str, Any]) -> bool:
    """Whether a stored row is a cell on a hidden instance that carries a mask (written before masks were withheld:
    a store that must not be published)."""
    if row.get("mask") is None:
        return False
    try:
        return bool(json.loads(row["config_json"]).get("instances") == "hidden")
    except (KeyError, TypeError, ValueError, AttributeError):
        return False


def _checked_error(result: CellResult, cell_id: str) -> str:
    if result.status not in STATUSES:
        raise StoreError(f"cell {cell_id}: status must be one of {', '.join(STATUSES)}, got {result.status!r}")
    error = "" if result.error is None else str(result.error)
    if result.status == "ok" and error:
        raise StoreError(f"cell {cell_id}: status 'ok' with an error ({' '.join(error.split())}); a failure is "
                         "never stored as a success")
    return error


def _checked_mask(mask: Any, cell_id: str) -> bytes | None:
    if mask is None:
        return None
    if not isinstance(mask, (bytes, bytearray, memoryview)):
        raise StoreError(f"cell {cell_id}: mask must be bytes (plantseek.nets.masks.pack_mask), got "
                         f"{type(mask).__name__}")
    return bytes(mask)


def _floats(result: CellResult, cell_id: str) -> dict[str, float | None]:
    """The float fields, NaN as None (SQLite has no NaN)."""
    floats = {}
    for f in FLOAT_FIELDS:
        v = getattr(result, f)
        try:
            v = None if v is None else float(v)
        except (TypeError, ValueError):
            raise StoreError(f"cell {cell_id}: {f} must be a number, got {v!r}") from None
        floats[f] = None if v is None or math.isnan(v) else v
    return floats


def _engine(prov: Mapping[str, Any]) -> int:
    """The engine that trained the cell: the run's provenance names it (this process's active engine otherwise)."""
    v = prov.get("engine", active_engine())
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise StoreError(f"the provenance's engine must be a version number >= 1, got {v!r}")
    return v


def _scalar_or_none(v: Any) -> Any:
    if v is None or isinstance(v, (int, float, str)):
        return v
    return str(v)


def _dumps(obj: dict[str, Any], what: str, cell_id: str) -> str:
    try:
        return json.dumps(obj, default=json_default)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"cell {cell_id}: {what} cannot be stored as JSON ({exc})") from None


def json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):  # numpy / torch scalars and arrays
        return o.tolist()
    if isinstance(o, (set, frozenset)):
        return sorted(o, key=str)
    return str(o)
