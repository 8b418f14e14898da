"""Reading results stores of older schema versions, in one place (version 1's columns; the family of version 1-4
rows).

Version 1 stored the display label in ``pruner`` (``"P [shuffled]"`` for a sanity ablation of pruner P) and had no
column for the ablation or for the metric's direction. Both are recoverable without parsing labels:
``config_json`` holds the whole :class:`plantseek.records.cells.CellConfig` (``pruner`` and ``ablation``
included), and the only metrics version-1 stores were written with are ``accuracy`` (higher is better) and
``mse`` (lower is better).
"""

from __future__ import annotations

import json
from typing import Any

#: The direction of every metric a version-1 store can hold (the tasks' ``higher_is_better`` at the time).
V1_METRIC_DIRECTION = {"accuracy": True, "mse": False}


def v1_columns(pruner: str, config_json: str, metric_name: str) -> tuple[str, str, bool | None]:
    """``(pruner, ablation, higher_is_better)`` of a version-1 row, as schema version 2 stores them.

    ``pruner`` and ``ablation`` come from the stored configuration (``config_json``); the stored label ``pruner``
    is kept only when the configuration cannot be read. The direction comes from ``metric_name`` through
    :data:`V1_METRIC_DIRECTION`; None for an unknown (or missing, e.g. a failed instance) metric name.
    """
    try:
        config: Any = json.loads(config_json)
    except (TypeError, ValueError):
        config = None
    if not isinstance(config, dict):
        config = {}
    name = config.get("pruner")
    ablation = config.get("ablation") or ""
    return (str(name) if name else str(pruner), str(ablation), V1_METRIC_DIRECTION.get(str(metric_name).lower()))


def task_family(task: str) -> str:
    """The host family of a row written before schema version 5 (which has no ``family`` column): the registered
    task's (:func:`plantseek.records.cells.registered_family`; imports the tasks, so torch), ``''`` for an unknown
    task."""
    from plantseek.records.cells import registered_family

    return registered_family(str(task))
