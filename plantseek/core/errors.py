"""Exceptions of plantseek. Every user-facing failure is one of these, and its message is one line."""


class PlantseekError(Exception):
    """Base class: the CLI prints ``plantseek: error: <message>`` and exits 2, without a traceback."""


class ConfigError(PlantseekError, ValueError):
    """A requested configuration is invalid (unknown task, bad depth, density out of range, ...)."""


class InstanceFileError(PlantseekError):
    """An instance file is missing, corrupt or not a plantseek instance."""


class MaskError(PlantseekError, ValueError):
    """A mask returned by a pruner violates the contract (keys, shape, dtype, count, NaN)."""


class PrunerError(PlantseekError):
    """A pruner could not be loaded, crashed or timed out."""


class TimeLimitError(PrunerError):
    """A call ran past its time limit."""


class StoreError(PlantseekError):
    """A results store is corrupt, foreign or unusable."""
