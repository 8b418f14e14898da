"""Certify the sparsest strong ticket of a tiny planted instance (:mod:`plantseek.score.certified` on an instance).

Choices, each recorded in the result (``settings``):

- **samples**: the first ``samples`` inputs of the instance's training split;
- **targets**: the task's noise-free labels of those inputs (``Task.clean_labels``);
- **readout**: output ``k`` is read as ``z_k / scale_k + c_k``: the planted factor fixed, a free offset ``c_k``
  (a mask that computes the target at another scale is not counted: the certificate is over this readout);
- **regression**: ``epsilon`` = the planted ticket's own worst error on the samples times ``1 + slack``, at
  least ``floor`` (or a given value): the sparsest mask *as accurate as the planted ticket* up to the slack;
- **classification**: margin ``gamma``; samples on which the planted ticket's margin is below ``gamma`` are
  dropped (counted in ``dropped``), so the planted ticket is feasible by construction.

The planted ticket's nnz counts weights; bias bits are free (cost 0) when the ticket prunes any bias.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from plantseek.planted.instance import PlantedInstance
from plantseek.score.certified import Host, Requirement, certify, check_mask, forward, mask_nnz
from plantseek.score.evaluation import strong_metric

__all__ = ["instance_host", "planted_masks", "requirement", "certify_instance", "SETTINGS"]

#: the defaults of every choice that changes a number
SETTINGS: dict[str, Any] = {"samples": 48, "gamma": 0.1, "slack": 0.05, "floor": 0.01, "epsilon": None,
                            "time_limit": 600.0, "uniqueness": True}


def instance_host(inst: PlantedInstance) -> Host:
    names = list(inst.arch.prunable_shapes())
    biases = [n.replace(".weight", ".bias") for n in names]
    prunable = any(not bool(inst.ticket[b][p].all()) for b, p in zip(biases, inst.placement))
    return Host(tuple(inst.initial_state[n].double().numpy().copy() for n in names),
                tuple(inst.initial_state[b].double().numpy().copy() for b in biases), prunable)


def planted_masks(inst: PlantedInstance, host: Host) -> tuple[list[np.ndarray], list[np.ndarray]]:
    names = list(inst.arch.prunable_shapes())
    mask = [inst.ticket[n].numpy().astype(bool) for n in names]
    if not host.bias_prunable:
        return mask, [np.ones(b.shape, dtype=bool) for b in host.biases]
    return mask, [inst.ticket[n.replace(".weight", ".bias")].numpy().astype(bool) for n in names]


def requirement(inst: PlantedInstance, host: Host, samples: int, *, gamma: float, slack: float, floor: float,
                epsilon: float | None) -> tuple[np.ndarray, Requirement, dict[str, Any]]:
    """The samples, the requirement, and what was chosen (epsilon, dropped samples, the planted ticket's worst)."""
    x_t = inst.data.train.x[:samples].double()
    x = x_t.numpy().copy()
    scale = 1.0 / inst.scales.double().numpy()
    mask, bias_mask = planted_masks(inst, host)
    labels = inst.task.clean_labels(x_t)
    if inst.task.kind == "regression":
        y = labels.double().reshape(len(x), -1).numpy().copy()
        probe = check_mask(host, x, Requirement("regression", y, scale, 0.0), mask, bias_mask)
        eps = epsilon if epsilon is not None else max(probe.worst * (1 + slack), floor)
        return x, Requirement("regression", y, scale, float(eps)), {"tolerance": float(eps), "dropped": 0,
                                                                   "planted_worst": probe.worst}
    lab = labels.numpy().astype(np.int64)
    out = forward(host, x, mask, bias_mask) * scale
    k = out.shape[1]
    margin = np.array([out[s, lab[s]] - max(out[s, j] for j in range(k) if j != lab[s]) for s in range(len(x))])
    keep = margin >= gamma
    req = Requirement("classification", lab[keep], scale, float(gamma), offset=True)
    probe = check_mask(host, x[keep], req, mask, bias_mask)
    return x[keep], req, {"tolerance": float(gamma), "dropped": int((~keep).sum()), "planted_worst": probe.worst}


def _as_torch_mask(inst: PlantedInstance, mask, bias_mask) -> dict[str, torch.Tensor]:
    names = list(inst.arch.prunable_shapes())
    out = {n: torch.from_numpy(np.asarray(m, dtype=bool)) for n, m in zip(names, mask)}
    out.update({n.replace(".weight", ".bias"): torch.from_numpy(np.asarray(b, dtype=bool))
                for n, b in zip(names, bias_mask)})
    return out


def certify_instance(inst: PlantedInstance, **settings: Any) -> dict[str, Any]:
    """Certify ``inst``; a JSON-ready record (instance identity, settings, planted vs certified, solver numbers)."""
    cfg = {**SETTINGS, **settings}
    host = instance_host(inst)
    x, req, chosen = requirement(inst, host, int(cfg["samples"]), gamma=float(cfg["gamma"]),
                                 slack=float(cfg["slack"]), floor=float(cfg["floor"]), epsilon=cfg["epsilon"])
    mask, bias_mask = planted_masks(inst, host)
    planted_nnz = mask_nnz(mask)
    planted_ok = check_mask(host, x, req, mask, bias_mask).satisfied
    cert = certify(host, x, req, time_limit=float(cfg["time_limit"]))
    rec: dict[str, Any] = {
        "instance": inst.spec.as_dict(), "instance_key": inst.spec.key(), "kind": req.kind,
        "settings": dict(cfg),
        "samples_used": int(len(x)), **chosen, "bias_prunable": host.bias_prunable,
        "host_weights": host.n_weights, "planted_nnz": planted_nnz, "planted_feasible": bool(planted_ok),
        "status": cert.status, "certified_nnz": cert.objective, "bound": cert.bound, "gap": cert.gap,
        "seconds": round(cert.seconds, 3), "size": cert.size,
        "check_satisfied": None if cert.check is None else cert.check.satisfied,
        "check_worst": None if cert.check is None else cert.check.worst,
        "metric_name": inst.task.metric_name,
        "planted_test_metric": strong_metric(inst, _as_torch_mask(inst, mask, bias_mask)),
    }
    if cert.mask is not None:
        rec["certified_test_metric"] = strong_metric(inst, _as_torch_mask(inst, cert.mask, cert.bias_mask))
        rec["certified_mask_per_layer"] = [int(m.sum()) for m in cert.mask]
        rec["equals_planted"] = all(bool((a == b).all()) for a, b in zip(cert.mask, mask))
    rec["sparser_than_planted"] = bool(cert.objective is not None and cert.objective < planted_nnz)
    if cfg["uniqueness"] and cert.proven and cert.objective == planted_nnz:
        # is the planted ticket the only mask with this many weights? exclude it and solve again
        other = certify(host, x, req, time_limit=float(cfg["time_limit"]), exclude=[mask])
        rec["second_status"] = other.status
        rec["second_nnz"] = other.objective
        rec["planted_unique"] = (other.status == "infeasible" or
                                 (other.proven and other.objective is not None and other.objective > planted_nnz))
        rec["seconds"] = round(rec["seconds"] + other.seconds, 3)
    return rec
