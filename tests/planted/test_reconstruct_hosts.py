"""Reconstruction-optimal hosts: the dense host computes the ticket's function on the data (an independent numpy
forward pass), instances are seeded, the oracle recovers the ticket at the ticket's per-row counts, the knob is
validated, and the leak detectors stay within the audit's bound."""

import numpy as np
import pytest
import torch

from plantseek.core.errors import ConfigError
from plantseek.planted.instance import plant
from plantseek.planted.task import DataConfig
from plantseek.score.layer_oracle import layer_oracle, mlp_layer_inputs, reconstruction_metrics


def forward(params, x, masks=None):
    """Plain numpy MLP forward (ReLU hidden layers), optionally with weight and bias masks."""
    n = len(params) // 2
    h = x
    for l in range(n):
        w, b = params[f"layers.{l}.weight"].numpy(), params[f"layers.{l}.bias"].numpy()
        if masks is not None:
            w = w * masks[f"layers.{l}.weight"].numpy()
            if f"layers.{l}.bias" in masks:
                b = b * masks[f"layers.{l}.bias"].numpy()
        h = h @ w.T + b
        if l < n - 1:
            h = np.maximum(h, 0)
    return h


def small(task, seed=0, alpha=1.0):
    return plant(task, depth=5, width=40, seed=seed, data=DataConfig(n_samples=600), alpha=alpha)


@pytest.mark.parametrize("task", ["circle-reconstruct", "helix-reconstruct", "relu-reconstruct"])
@pytest.mark.parametrize("alpha", [0.1, 0.5, 1.0])
def test_dense_host_equals_ticket_on_the_data(task, alpha):
    inst = small(task, alpha=alpha)
    for split in (inst.data.train, inst.data.test):
        x = split.x.numpy()
        dense, ticket = forward(inst.initial_state, x), forward(inst.initial_state, x, inst.ticket)
        assert np.abs(dense - ticket).max() <= 1e-9 * np.abs(ticket).max()
    # and the ticket is not trivial: the non-ticket weights are non-zero and do change single units' values
    w = inst.initial_state["layers.1.weight"]
    assert (w[~inst.ticket["layers.1.weight"]] != 0).float().mean() > 0.9


def test_seeded_bit_identical_and_alpha_changes_the_host():
    a, b = small("circle-reconstruct", seed=3), small("circle-reconstruct", seed=3)
    assert all(torch.equal(a.initial_state[k], b.initial_state[k]) for k in a.initial_state)
    assert all(torch.equal(a.ticket[k], b.ticket[k]) for k in a.ticket)
    c = small("circle-reconstruct", seed=3, alpha=0.5)
    assert all(torch.equal(a.ticket[k], c.ticket[k]) for k in a.ticket)  # same ticket, other non-ticket weights
    assert not torch.equal(a.initial_state["layers.1.weight"], c.initial_state["layers.1.weight"])


def test_alpha_scales_the_non_ticket_spread():
    lo, hi = small("circle-reconstruct", seed=1, alpha=0.1), small("circle-reconstruct", seed=1, alpha=1.0)
    name = "layers.1.weight"
    spread = lambda i: float(i.initial_state[name][~i.ticket[name]].std())  # noqa: E731
    assert spread(hi) == pytest.approx(np.sqrt(2 / 40), rel=0.2)  # like the He initialisation of a width-40 layer
    assert spread(lo) == pytest.approx(0.1 * spread(hi), rel=0.2)


@pytest.mark.parametrize("alpha", [0, -1.0, float("nan"), 1.5, True, "1"])
def test_alpha_is_validated(alpha):
    with pytest.raises(ConfigError, match="alpha"):
        small("circle-reconstruct", alpha=alpha)


@pytest.mark.parametrize("alpha", [0.1, 1.0])
def test_oracle_recovers_the_ticket(alpha):
    inst = small("circle-reconstruct", seed=2, alpha=alpha)
    s, L = inst.initial_state, inst.arch.n_layers
    W = [s[f"layers.{l}.weight"].numpy() for l in range(L)]
    B = [s[f"layers.{l}.bias"].numpy() for l in range(L)]
    M = [inst.ticket[f"layers.{l}.weight"].numpy() for l in range(L)]
    X = mlp_layer_inputs(W, B, inst.data.train.x.numpy())
    for l in range(L):
        rows = np.nonzero(M[l].sum(1))[0]
        opt = layer_oracle(W[l][rows], X[l], M[l][rows].sum(1))
        assert opt.certified
        assert (opt.mask == M[l][rows]).all(), f"layer {l}"
    # the ticket's mask is the oracle at its own counts (its rows exact; the non-ticket rows it prunes entirely, k = 0,
    # lose their whole energy for both); a magnitude mask with the same per-row counts is further from the optimum
    m = reconstruction_metrics(W, B, M, inst.data.train.x.numpy()[:200])
    assert abs(m["recon_excess"]) < 1e-12
    assert m["recon_error"] == pytest.approx(m["oracle_error"]) and 0 < m["recon_error"]
    mag = []
    for w, mk in zip(W, M):
        keep = np.zeros_like(mk)
        for j, k in enumerate(mk.sum(1)):
            keep[j, np.argsort(-np.abs(w[j]), kind="stable")[:k]] = True
        mag.append(keep)
    mm = reconstruction_metrics(W, B, mag, inst.data.train.x.numpy()[:200], time_limit=20)
    assert mm["recon_excess"] > 1e-6 if alpha == 1.0 else mm["recon_excess"] >= -1e-12


def test_leak_detectors_within_the_bound_at_the_hardest_alpha():
    from plantseek.perf.leak_audit import measure_instance, summarise
    from plantseek.prune.contract import PRUNERS
    from plantseek.run.suites import SUITES

    suite = SUITES.get("leak-audit")
    detectors = [n for n in suite.pruner_names() if n.startswith("leak-")]
    assert len(detectors) >= 5 and all(n in PRUNERS for n in detectors)
    rows = []
    for seed in range(3):
        rows += measure_instance(suite, "circle-reconstruct", seed, detectors)
    bad = [(s["pruner"], s["recall_mean"], s["random"]) for s in summarise(rows) if not s["passes"]]
    assert not bad
