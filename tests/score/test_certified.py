"""The certified sparsest strong ticket (plantseek.score.certified) against brute force over every mask."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from plantseek.score.certified import Host, Requirement, certify, check_mask, forward, interval_bounds


def random_host(widths, seed, bias_prunable=True):
    rng = np.random.default_rng(seed)
    ws = tuple(rng.normal(0, np.sqrt(2 / a), size=(b, a)) for a, b in zip(widths[:-1], widths[1:]))
    bs = tuple(rng.normal(0, 0.3, size=b) for b in widths[1:])
    return Host(ws, bs, bias_prunable)


def all_masks(host):
    """Every (weight mask, bias mask) of ``host``, enumerated independently of the solver."""
    shapes = [w.shape for w in host.weights]
    n_w = sum(int(np.prod(s)) for s in shapes)
    n_b = sum(b.size for b in host.biases) if host.bias_prunable else 0
    for bits in itertools.product((0, 1), repeat=n_w + n_b):
        bits = np.array(bits, dtype=bool)
        mask, at = [], 0
        for s in shapes:
            size = int(np.prod(s))
            mask.append(bits[at:at + size].reshape(s))
            at += size
        if host.bias_prunable:
            bias_mask = []
            for b in host.biases:
                bias_mask.append(bits[at:at + b.size])
                at += b.size
        else:
            bias_mask = [np.ones(b.size, dtype=bool) for b in host.biases]
        yield mask, bias_mask


def plain_forward(host, x, mask, bias_mask):
    """A second forward pass, written per sample and unit with Python floats."""
    outs = []
    for row in x:
        h = list(map(float, row))
        for l, (w, b) in enumerate(zip(host.weights, host.biases)):
            z = []
            for j in range(w.shape[0]):
                v = float(b[j]) if bias_mask[l][j] else 0.0
                for i in range(w.shape[1]):
                    if mask[l][j, i]:
                        v += float(w[j, i]) * h[i]
                z.append(v)
            h = z if l == len(host.weights) - 1 else [max(v, 0.0) for v in z]
        outs.append(h)
    return np.array(outs)


def brute_regression(host, x, y, scale, eps):
    """Fewest kept weights with max |scale z + c - y| <= eps for the best offset c (the midpoint of the residuals)."""
    best = None
    for mask, bias_mask in all_masks(host):
        nnz = sum(int(m.sum()) for m in mask)
        if best is not None and nnz >= best:
            continue
        r = y - plain_forward(host, x, mask, bias_mask) * scale
        if ((r.max(axis=0) - r.min(axis=0)) / 2 <= eps + 1e-9).all():
            best = nnz
    return best


def brute_two_class(host, x, labels, scale, gamma):
    """Fewest kept weights such that some offset difference d gives every sample margin >= gamma (two logits:
    the margin of class 1 is D + d with D = s1 z1 - s0 z0, that of class 0 is -(D + d))."""
    best = None
    for mask, bias_mask in all_masks(host):
        nnz = sum(int(m.sum()) for m in mask)
        if best is not None and nnz >= best:
            continue
        out = plain_forward(host, x, mask, bias_mask) * scale
        d_raw = out[:, 1] - out[:, 0]
        lo = max((gamma - d_raw[labels == 1]).max(initial=-np.inf), -np.inf)
        hi = (-gamma - d_raw[labels == 0]).min(initial=np.inf)
        if lo <= hi + 1e-9:
            best = nnz
    return best


def planted_labels(host, x, keep, seed):
    """Targets made by a random sub-mask (so a feasible mask exists)."""
    rng = np.random.default_rng(seed)
    mask = [rng.random(w.shape) < keep for w in host.weights]
    return forward(host, x, mask), mask


@pytest.mark.parametrize("seed", [1, 2, 6])  # brute-force optima 3, 6, 6 (seeds whose optimum is not 0)
def test_regression_optimum_equals_brute_force(seed):
    host = random_host([1, 2, 2, 1], seed)  # 8 weights + 5 biases = 13 bits
    x = np.linspace(-1, 1, 9)[:, None]
    y, _ = planted_labels(host, x, 0.7, seed)
    scale = np.array([1.0])
    eps = 0.01
    req = Requirement("regression", y, scale, eps, offset=True)
    cert = certify(host, x, req, time_limit=60)
    expected = brute_regression(host, x, y, scale, eps)
    assert expected > 0
    assert cert.status == "optimal"
    assert cert.objective == expected
    assert cert.check is not None and cert.check.satisfied


@pytest.mark.parametrize("seed", [0, 5, 6])  # both classes present; brute-force optima 3, 2, 2
def test_classification_optimum_equals_brute_force(seed):
    host = random_host([2, 3, 2], seed)  # 12 weights + 5 biases = 17 bits
    rng = np.random.default_rng(100 + seed)
    x = rng.uniform(-1, 1, size=(12, 2))
    out, _ = planted_labels(host, x, 0.8, seed)
    labels = out.argmax(axis=1)
    scale = np.array([1.0, 2.0])
    gamma = 0.02
    req = Requirement("classification", labels, scale, gamma, offset=True)
    cert = certify(host, x, req, time_limit=60)
    expected = brute_two_class(host, x, labels, scale, gamma)
    assert expected is not None and expected > 0
    assert cert.status == "optimal"
    assert cert.objective == expected
    assert cert.check is not None and cert.check.satisfied


def test_fixed_biases_and_no_offset():
    host = random_host([1, 3, 1], 5, bias_prunable=False)
    x = np.linspace(-1, 1, 7)[:, None]
    y, _ = planted_labels(host, x, 0.5, 5)
    req = Requirement("regression", y, np.array([1.0]), 0.02, offset=False)
    cert = certify(host, x, req, time_limit=60)
    best = None
    for mask, bias_mask in all_masks(host):
        nnz = sum(int(m.sum()) for m in mask)
        if np.abs(plain_forward(host, x, mask, bias_mask) - y).max() <= 0.02 + 1e-9 and (best is None or nnz < best):
            best = nnz
    assert cert.status == "optimal" and cert.objective == best
    assert all(bm.all() for bm in cert.bias_mask)


def test_solution_satisfies_its_constraint_when_reevaluated():
    host = random_host([2, 5, 5, 3], 7)
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, size=(15, 2))
    y, mask = planted_labels(host, x, 0.5, 7)
    req = Requirement("regression", y, np.array([1.0, 1.0, 1.0]), 0.05)
    cert = certify(host, x, req, time_limit=120)
    assert cert.status == "optimal"
    assert cert.objective <= sum(int(m.sum()) for m in mask)  # the labelling mask is feasible
    # re-evaluate with the second forward pass and the solver's mask
    out = plain_forward(host, x, cert.mask, cert.bias_mask)
    r = y - out
    assert ((r.max(axis=0) - r.min(axis=0)) / 2 <= 0.05 + 1e-6).all()
    # a requirement no mask meets: the solver says infeasible
    impossible = Requirement("regression", y + 10 * np.sin(7 * x[:, :1]), np.ones(3), 1e-3)
    assert certify(host, x, impossible, time_limit=60).status == "infeasible"


def test_exclusion_cut_finds_another_mask():
    host = random_host([1, 2, 2, 1], 4)
    x = np.linspace(-1, 1, 9)[:, None]
    y, _ = planted_labels(host, x, 0.7, 4)
    req = Requirement("regression", y, np.array([1.0]), 0.05)
    first = certify(host, x, req, time_limit=60)
    second = certify(host, x, req, time_limit=60, exclude=[first.mask])
    if second.mask is not None:
        assert any((a != b).any() for a, b in zip(first.mask, second.mask))
        assert second.objective >= first.objective


@pytest.mark.parametrize("seed", range(6))
def test_interval_bounds_contain_every_masked_pre_activation(seed):
    rng = np.random.default_rng(seed)
    widths = [int(rng.integers(1, 4)), *rng.integers(2, 7, size=int(rng.integers(1, 4))).tolist(), 2]
    host = random_host(widths, seed, bias_prunable=bool(seed % 2))
    x = rng.uniform(-1, 1, size=(20, widths[0]))
    bounds = interval_bounds(host, x)
    for _ in range(50):
        keep = rng.random()
        mask = [rng.random(w.shape) < keep for w in host.weights]
        bias_mask = [rng.random(b.shape) < 0.5 if host.bias_prunable else np.ones(b.shape, bool) for b in host.biases]
        h = x
        for l, (w, b) in enumerate(zip(host.weights, host.biases)):
            z = h @ (w * mask[l]).T + b * bias_mask[l]
            lo, hi = bounds[l]
            assert (z >= lo - 1e-12).all() and (z <= hi + 1e-12).all()
            h = np.maximum(z, 0)


def test_check_mask_reports_violation():
    host = random_host([1, 2, 1], 0)
    x = np.linspace(-1, 1, 5)[:, None]
    y = forward(host, x)
    req = Requirement("regression", y + np.array([[0.0], [0.0], [0.3], [0.0], [0.0]]), np.ones(1), 0.1)
    full = [np.ones(w.shape, bool) for w in host.weights]
    res = check_mask(host, x, req, full)
    assert not res.satisfied and res.worst == pytest.approx(0.15)
