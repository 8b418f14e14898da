"""The bars ticket does not stand out by magnitude: its planting factors are drawn from the host layer's |w|
(``ConvTarget.factors = "host-quantiles"``, :mod:`plantseek.families.conv.planting`); the least-squares factors it
used before (still the default of other conv targets) fail the same thresholds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import plantseek
from plantseek.core.errors import ConfigError
from plantseek.families.mlp.network import weight_name
from plantseek.planted.audit import ks_statistic
from plantseek.families.conv.planting import ConvTarget, host_quantile_magnitudes
from plantseek.planted.task import DataConfig

TINY = DataConfig(n_samples=50)
SEEDS = range(12)


def planted_and_other(factors: str, monkeypatch) -> tuple[np.ndarray, list[list[np.ndarray]]]:
    """Per seed and layer the KS statistic of |planted| against |other| weights of the default bars host (depth 4,
    width 32); and per layer the planted and other |w| of all seeds (pooled)."""
    monkeypatch.setattr("plantseek.tasks.bars.FACTORS", factors)
    ks, pooled = [], [[[], []] for _ in range(3)]
    for seed in SEEDS:
        inst = plantseek.plant("bars", depth=4, width=32, seed=seed, data=TINY)
        assert inst.target.factors == factors
        row = []
        for l in range(inst.arch.n_layers):
            w, m = inst.initial_state[weight_name(l)].abs(), inst.ticket[weight_name(l)]
            row.append(ks_statistic(w[m].numpy(), w[~m].numpy()))
            pooled[l][0].append(w[m].numpy())
            pooled[l][1].append(w[~m].numpy())
        ks.append(row)
    return np.array(ks), [[np.concatenate(p), np.concatenate(o)] for p, o in pooled]


def test_drawn_factors_hide_the_bars_ticket_magnitudes_and_least_squares_do_not(monkeypatch):
    # measured (12 seeds, mean KS per layer): least squares 0.60, 0.35, 0.33; drawn 0.23, 0.23, 0.21. Four equal
    # channel magnitudes per layer cannot go below KS 1/8; four independent host draws average ~0.4
    drawn, drawn_pooled = planted_and_other("host-quantiles", monkeypatch)
    fitted, fitted_pooled = planted_and_other("least-squares", monkeypatch)
    assert (drawn.mean(0) <= 0.26).all() and (drawn.max(0) <= 0.3).all(), drawn
    assert (fitted.mean(0) > 0.3).all(), fitted
    # pooled over the seeds (48 drawn magnitudes per layer): each planted entry is marginally a host draw
    assert all(ks_statistic(p, o) <= 0.12 for p, o in drawn_pooled)
    assert ks_statistic(*fitted_pooled[0]) > 0.4 and ks_statistic(*fitted_pooled[1]) > 0.15


def test_drawn_detector_entries_share_their_channel_magnitude_and_the_ticket_stays_exact():
    inst = plantseek.plant("bars", depth=4, width=32, seed=3, data=TINY, noise=0.0)
    w0 = inst.initial_state[weight_name(0)]
    for h in inst.placement[0].tolist():
        entries = w0[h][inst.ticket[weight_name(0)][h]]
        assert entries.numel() == 5 and torch.equal(entries, entries[:1].expand(5)) and bool(entries[0] > 0)
    out = inst.arch.forward(inst.initial_state, inst.data.test.x, inst.ticket) / inst.scales
    want = torch.from_numpy(inst.target(inst.data.test.x))
    assert float((out - want).abs().max() / want.abs().max()) <= 1e-9


@pytest.mark.parametrize("n", [1, 4, 7])
def test_host_quantile_magnitudes_fall_one_per_stratum(n):
    host = torch.randn(40, 30, generator=torch.Generator().manual_seed(n), dtype=torch.float64)
    draws = host_quantile_magnitudes(host, n, torch.Generator().manual_seed(0))
    values = np.sort(host.abs().flatten().numpy())
    levels = np.searchsorted(values, draws.numpy()) / values.size  # the share of host |w| below each draw
    assert sorted(np.floor(levels * n).astype(int).tolist()) == list(range(n))  # one draw per stratum
    assert bool((draws >= values[0]).all() and (draws <= values[-1]).all())
    again = host_quantile_magnitudes(host, n, torch.Generator().manual_seed(0))
    assert torch.equal(draws, again)


def test_an_unknown_factor_rule_is_a_one_line_error():
    target = plantseek.plant("bars", depth=3, width=4, seed=0, data=TINY).target
    with pytest.raises(ConfigError, match="factors must be one of least-squares, host-quantiles"):
        ConvTarget(target.arch, dict(zip(target.arch.parameter_shapes(), [torch.as_tensor(p) for p in (
            target.weights[0], target.biases[0], target.weights[1], target.biases[1])])), factors="median")
