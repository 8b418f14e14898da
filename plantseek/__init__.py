"""plantseek: a benchmark for neural-network pruning on networks with planted ground-truth tickets."""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import PlantseekError  # noqa: E402
from .instance import PlantedInstance, plant  # noqa: E402


def load_instance(path) -> PlantedInstance:
    return PlantedInstance.load(path)


def load_results(path="results/plantseek.db"):
    """All cells of a results store as a pandas DataFrame (one row per cell)."""
    from .store import load_results as _load

    return _load(path)


__all__ = ["PlantseekError", "PlantedInstance", "plant", "load_instance", "load_results", "__version__"]
