"""Recall: associative recall in one attention head. A sequence of ``seq_len - 1`` key-value pairs (one token each)
and a query key; the class: the value stored with the queried key.

**Data** (drawn from the instance's seed, vectorised): ``n_keys`` keys, ``n_values`` values; the ``seq_len - 1``
pairs have distinct keys (the first ``seq_len - 1`` of a uniform random permutation of the keys), each value uniform;
pair ``(a, b)`` is token ``a * n_values + b``; the last token is the query ``n_keys * n_values + a*`` for a key
``a*`` of a pair chosen uniformly; the label is that pair's value. Label noise: with probability ``noise`` the label
is replaced by a uniform value. Vocabulary: ``n_keys * (n_values + 1)`` tokens.

**Host** (``depth`` = embedding + ``depth - 2`` blocks + read-out; ``width`` = model width): heads of ``head_dim``
(``width / head_dim`` heads), MLP width ``mlp_ratio * width``, causal attention, read-out at the last position.

**Ticket** (one head in block 0; no position information needed; residual dimensions: ``K`` key, ``K`` query, ``M``
value, ``M`` head-output and ``M`` answer dimensions, ``K = n_keys``, ``M = n_values``; head width ``max(K, M)``):

1. *Embedding*: pair token ``(a, b)`` writes 1 into key dimension ``a`` and value dimension ``b``; query token ``a``
   writes 1 into query dimension ``a``. Position embeddings are zero.
2. *The recall head*: query row ``j`` reads query dimension ``j``, key row ``j`` reads key dimension ``j``, both with
   weight ``sqrt(GAIN sqrt(head width))``, so the logit of the last position (query ``a*``) on position ``s`` is
   ``GAIN`` where the pair at ``s`` has key ``a*`` and 0 elsewhere (the query position itself has no key). The head
   attends to the matching pair with weight ``1 / (1 + (seq_len - 1) e^-GAIN)`` (> 0.9999 for GAIN = 16, up to a
   thousand pairs). Value row ``j`` reads value dimension ``j``; the output projection writes value ``j`` into
   head-output dimension ``j`` (weight 1): the last position's head-output dimensions hold the one-hot value of the
   queried pair (up to the residual attention of ``< 1e-4`` spread over the others).
3. *MLP* (``M`` units): unit ``m`` reads head-output dimension ``m`` (weight 1, bias ``HOLD_BIAS`` > 0: its input is
   >= 0, so ``relu(x + HOLD_BIAS) = x + HOLD_BIAS``) and writes answer dimension ``m`` (weight 1, bias
   ``-HOLD_BIAS``): the answer dimensions copy the head output (every MLP bias nonzero).
4. *Read-out*: logit ``m`` = answer dimension ``m`` + ``READOUT_BIAS`` (one shared nonzero offset; the argmax is the
   queried value). Accuracy 1 at noise 0.

Ticket weights: ``2K + 5M`` (28 at the defaults K = M = 4); the default host (width 64, heads of 8, MLP 64, one block)
has 24,832 prunable weights: ticket density 0.11 %. Knobs: ``seq_len`` (pairs + 1; at most ``n_keys + 1``),
``n_keys``/``n_values`` (vocabulary), ``noise``, the host's ``width`` (multiplier), ``head_dim`` (host heads vs the
ticket's one), ``mlp_ratio`` and ``depth`` (extra host blocks hold no ticket weight).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from plantseek.core.errors import ConfigError
from plantseek.families.attention.network import TransformerArchitecture, block_name
from plantseek.families.attention.planting import AttentionTarget
from plantseek.families.attention.task import AttentionTask
from plantseek.planted.task import TASKS, TaskOptions, check_positive_int

GAIN = 16.0
HOLD_BIAS = 0.5
READOUT_BIAS = -0.25
MAX_KEYS = 512


@dataclass(frozen=True)
class RecallOptions(TaskOptions):
    max_noise = 1.0
    noise_meaning = "the probability that a label is replaced by a uniform value"
    noise: float = 0.0
    seq_len: int = 5
    n_keys: int = 4
    n_values: int = 4
    head_dim: int = 8
    mlp_ratio: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("seq_len", "n_keys", "n_values", "head_dim", "mlp_ratio"):
            check_positive_int(name, getattr(self, name))
        if self.seq_len < 2:
            raise ConfigError(f"seq_len {self.seq_len} is too short for recall: one pair and the query need 2 tokens")
        if not 2 <= self.n_keys <= MAX_KEYS or self.n_values < 2:
            raise ConfigError(f"n_keys must be 2..{MAX_KEYS} and n_values >= 2, got {self.n_keys}, {self.n_values}")
        if self.seq_len - 1 > self.n_keys:
            raise ConfigError(f"seq_len {self.seq_len} needs {self.seq_len - 1} distinct keys, only {self.n_keys}")


@TASKS.register("recall")
class RecallTask(AttentionTask):
    name = "recall"
    in_features = 1  # tokens (the CLI's "in -> out" listing); the vocabulary is an instance's own
    out_features = 4  # n_values (an instance's own value is set from its options)
    kind = "classification"
    Options = RecallOptions

    def __init__(self, **options) -> None:
        super().__init__(**options)
        o = self.options
        self.out_features, self.seq_len = o.n_values, o.seq_len
        self.vocab = o.n_keys * (o.n_values + 1)

    def target(self, depth: int) -> AttentionTarget:
        self.check_depth(depth)
        k, m = self.options.n_keys, self.options.n_values
        hd = max(k, m)
        width = hd * math.ceil((2 * k + 3 * m) / hd)  # unused padding dimensions are never planted
        arch = TransformerArchitecture(self.vocab, self.seq_len, width, hd, m, 1, m)
        p = {n: torch.zeros(s, dtype=torch.float64) for n, s in arch.parameter_shapes().items()}
        key, query, value, head, answer = 0, k, 2 * k, 2 * k + m, 2 * k + 2 * m
        keys, values = torch.arange(k), torch.arange(m)
        pairs = keys[:, None] * m + values[None, :]  # token of pair (a, b)
        p["embed.token"][pairs, key + keys[:, None]] = 1.0
        p["embed.token"][pairs, value + values[None, :]] = 1.0
        p["embed.token"][k * m + keys, query + keys] = 1.0
        qk = math.sqrt(GAIN * math.sqrt(hd))
        p[block_name(0, "q")][keys, query + keys] = qk
        p[block_name(0, "k")][keys, key + keys] = qk
        p[block_name(0, "v")][values, value + values] = 1.0
        p[block_name(0, "o")][head + values, values] = 1.0
        p[block_name(0, "up")][values, head + values] = 1.0
        p[block_name(0, "up.bias")][:] = HOLD_BIAS
        p[block_name(0, "down")][answer + values, values] = 1.0
        p[block_name(0, "down.bias")][answer + values] = -HOLD_BIAS
        p["readout.weight"][values, answer + values] = 1.0
        p["readout.bias"][:] = READOUT_BIAS
        return AttentionTarget(arch, p, f"recall ticket: one head recalls the value of the queried key among "
                                        f"{self.seq_len - 1} pairs ({k} keys, {m} values), MLP hold, read-out")

    def sample_tokens(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        o = self.options
        pairs = o.seq_len - 1
        keys = torch.argsort(torch.rand(n, o.n_keys, generator=generator), dim=1)[:, :pairs]
        values = torch.randint(0, o.n_values, (n, pairs), generator=generator)
        pick = torch.randint(0, pairs, (n,), generator=generator)
        rows = torch.arange(n)
        tokens = torch.cat([keys * o.n_values + values, (o.n_keys * o.n_values + keys[rows, pick])[:, None]], dim=1)
        y = values[rows, pick]
        flip = torch.rand(n, generator=generator, dtype=torch.float64) < o.noise
        noisy = torch.randint(0, o.n_values, (n,), generator=generator)
        return tokens, torch.where(flip, noisy, y)
