"""Leak audit of a planted attention instance (:mod:`plantseek.families.attention.planting`), per projection.

For every weight of every host block (``q``, ``k``, ``v``, ``o``, ``up``, ``down``) and the read-out: the ticket's
weight count, the two-sample Kolmogorov-Smirnov statistic between |planted| and |other| weights (None without
ticket weights), and where the ticket's units sit (rows it writes: mean and spread of their index / (rows - 1);
uniform placement: ~0.5 and ~0.29); the KS statistic is scipy's ``ks_2samp`` (the same sup |F_a - F_b| as
:func:`plantseek.planted.audit.ks_statistic`, which this module cannot import: audit.py dispatches here).
Over the whole host: the share of exactly-zero biases (0: every bias keeps a
draw or a nonzero planted value), the embedding columns holding exact zeros (the planted residual dimensions: the
embeddings are not prunable, so the target's embedding is written whole; this names the ticket's residual
dimensions, not its weights) and the host heads holding ticket weights per block.
"""

from __future__ import annotations

import torch
from scipy.stats import ks_2samp

from plantseek.families.attention.network import block_name


def _entry(instance, name: str, block: int | None, projection: str) -> dict:
    w, m = instance.initial_state[name].abs(), instance.ticket[name]
    rows = torch.nonzero(m.any(1)).flatten().double()
    spread = max(1, m.shape[0] - 1)
    return {"block": block, "projection": projection, "ticket_weights": int(m.sum()),
            "ks_planted_vs_other": float(ks_2samp(w[m].numpy(), w[~m].numpy()).statistic) if bool(m.any()) else None,
            "placement_mean": float(rows.mean() / spread) if rows.numel() else None,
            "placement_std": float(rows.std(unbiased=False) / spread) if rows.numel() > 1 else None}


def attention_audit(instance) -> dict:
    arch = instance.arch
    entries = [_entry(instance, block_name(b, p), b, p) for b in range(arch.n_blocks)
               for p in ("q", "k", "v", "o", "up", "down")]
    entries.append(_entry(instance, "readout.weight", None, "readout"))
    biases = torch.cat([instance.initial_state[n] for n in arch.bias_shapes()])
    embedding = torch.cat([instance.initial_state["embed.token"], instance.initial_state["embed.position"]])
    heads = []
    for b in range(arch.n_blocks):
        rows = torch.zeros(arch.n_heads * arch.head_dim, dtype=torch.bool)
        for p in ("q", "k", "v"):
            rows |= instance.ticket[block_name(b, p)].any(1)
        rows |= instance.ticket[block_name(b, "o")].any(0)
        heads.append(torch.unique(torch.nonzero(rows).flatten() // arch.head_dim).tolist())
    ks = [e["ks_planted_vs_other"] for e in entries if e["ks_planted_vs_other"] is not None]
    return {"max_ks": max(ks) if ks else None, "projections": entries,
            "zero_bias_share": float((biases == 0).double().mean()),
            "embedding_zero_columns": int((embedding == 0).any(0).sum()), "ticket_heads": heads,
            "random_mask_recall": instance.ticket_density}
