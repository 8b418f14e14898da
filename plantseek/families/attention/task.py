"""The base of attention tasks: one-hot token sequences, a transformer host
(:mod:`plantseek.families.attention.network`) and attention planting (:mod:`plantseek.families.attention.planting`).

A subclass sets ``kind``, ``out_features``, ``vocab`` and ``seq_len`` (from its options) and implements
:meth:`AttentionTask.target` (an :class:`AttentionTarget` with at most ``depth - 2`` blocks; host blocks beyond
the target's hold no ticket weight) and :meth:`AttentionTask.sample_tokens` (seeded, vectorised token ids
``(n, seq_len)`` and labels). Everything else (data
splits, loss, metric, instance files) is the :class:`plantseek.planted.task.Task` machinery. ``depth`` counts the
embedding, the blocks and the read-out (``depth - 2`` blocks); ``width`` is the host's model width; the host's head
width (``head_dim``) and MLP width (``mlp_ratio`` times the model width) are task options, so the host has
``width / head_dim`` heads.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from plantseek.families.attention.network import TransformerArchitecture
from plantseek.families.attention.planting import AttentionTarget, check_attention_fits, plant_attention_target
from plantseek.planted.matching import PlantedHost
from plantseek.planted.task import Split, Task


class AttentionTask(Task):
    """A task whose host is a :class:`TransformerArchitecture` (see the module docstring)."""

    family = "attention"

    vocab: int
    seq_len: int

    def target(self, depth: int) -> AttentionTarget:
        raise NotImplementedError

    def sample_tokens(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator) -> Split:
        tokens, y = self.sample_tokens(n, generator)
        return Split(F.one_hot(tokens, self.vocab).to(torch.float64), y)

    def host_architecture(self, depth: int, width: int) -> TransformerArchitecture:
        self.check_depth(depth)
        o = self.options
        return TransformerArchitecture(self.vocab, self.seq_len, width, o.head_dim, o.mlp_ratio * width, depth - 2,
                                       self.out_features)

    def check_fits(self, depth: int, width: int) -> None:
        check_attention_fits(self.target(depth), self.host_architecture(depth, width))

    def plant_into(self, target: Any, arch: Any, host: dict[str, torch.Tensor],
                   generator: torch.Generator) -> PlantedHost:
        return plant_attention_target(target, arch, host, generator)

    def saved_target(self, saved: dict[str, Any], depth: int) -> AttentionTarget:
        return AttentionTarget.from_saved(self.target(depth).arch, list(saved["weights"]), list(saved["biases"]),
                                          saved["description"])
