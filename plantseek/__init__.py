"""plantseek: a benchmark for neural-network pruning on networks with planted ground-truth tickets.

The public API is loaded on first use, so that importing ``plantseek`` (e.g. for the torch-free report stage)
does not import torch.
"""

from __future__ import annotations

import importlib as _importlib
from pathlib import Path as _Path
from typing import Any as _Any

from plantseek.core.checkout import map_checkout_plugins as _map_checkout_plugins

__version__ = "0.1.0"

_map_checkout_plugins(_Path(__file__).resolve().parent)  # plantseek.tasks / .baselines when run from a checkout

_API = {
    "PlantseekError": ("plantseek.core.errors", "PlantseekError"),
    "PlantedInstance": ("plantseek.planted.instance", "PlantedInstance"),
    "plant": ("plantseek.planted.instance", "plant"),
    "plant_network": ("plantseek.planted.custom", "plant_network"),
    "load_instance": ("plantseek.planted.instance", "load_instance"),
    "load_results": ("plantseek.store.results", "load_results"),
    "score_mask": ("plantseek.score.mask_score", "score_mask"),
}


def __getattr__(name: str) -> _Any:
    try:
        module, attr = _API[name]
    except KeyError:
        raise AttributeError(f"module 'plantseek' has no attribute {name!r}") from None
    return getattr(_importlib.import_module(module), attr)


def __dir__() -> list[str]:
    return sorted([*__all__, *(n for n in globals() if n.startswith("__") and n.endswith("__"))])


__all__ = [*_API, "__version__"]
