"""The convolutional host family: a CNN host (``network``), conv planting (``planting``) and the base of conv tasks
(``task``). No extra hooks: the generic layered audit and recovery metrics cover it."""

from plantseek.families.registry import HostFamily

FAMILY = HostFamily("conv", order=1)
