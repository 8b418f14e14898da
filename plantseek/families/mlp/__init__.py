"""The MLP host family: a fully connected ReLU host (``network``) and planting into it (``planting``); the base task
:class:`plantseek.planted.task.Task` plants into this host. No extra hooks: the stages' generic audit, metrics and
report cover it."""

from plantseek.families.registry import HostFamily

FAMILY = HostFamily("MLP", order=0)
