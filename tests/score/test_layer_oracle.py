"""The exact per-layer oracle against brute force over every support (independent least squares on the raw
inputs), its bounds when stopped early, and the reconstruction metrics on hand-checkable masks."""

import itertools

import numpy as np
import pytest

from plantseek.score.layer_oracle import best_subset, layer_oracle, reconstruction_metrics, triangular_factor


def brute_force(X, w, k):
    y = X @ w
    best = np.inf, None
    for S in itertools.combinations(range(X.shape[1]), k):
        A = X[:, list(S)]
        beta = np.linalg.lstsq(A, y, rcond=None)[0]
        err = float(((y - A @ beta) ** 2).sum())
        if err < best[0]:
            best = err, S
    return best


@pytest.mark.parametrize("seed", range(12))
def test_oracle_equals_brute_force_on_small_rows(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 10))
    k = int(rng.integers(1, n))
    X = rng.normal(size=(25, n)) * rng.uniform(0.1, 3, size=n)  # columns of unequal scale: not a norm ranking
    w = rng.normal(size=n)
    err, support = brute_force(X, w, k)
    opt = best_subset(triangular_factor(X), w, k)
    assert opt.certified
    assert abs(opt.error - err) <= 1e-9 * max(1.0, err)
    # the returned weights reach the stated error on the raw inputs, with at most k non-zeros
    assert np.count_nonzero(opt.weights) <= k
    assert float(((X @ opt.weights - X @ w) ** 2).sum()) == pytest.approx(opt.error, rel=1e-8, abs=1e-12)
    if err > 1e-9:  # a unique optimum (generic): the same support
        assert tuple(opt.support) == support


def test_oracle_finds_a_planted_exact_support_among_collinear_pairs():
    rng = np.random.default_rng(5)
    base = rng.normal(size=(40, 6))
    X = np.concatenate([base, base[:, :3] * 2.0], axis=1)  # columns 6..8 parallel to 0..2
    w = np.array([0, 0, 0, 1.5, -2.0, 0.7, 0, 0, 0])  # only the unpaired columns 3..5 matter
    W = np.stack([w, np.roll(w, -3)])  # second row: columns 0..2 (reachable through their pairs too)
    opt = layer_oracle(W, X, [3, 3])
    assert opt.certified and opt.error < 1e-20
    assert set(np.nonzero(opt.mask[0])[0]) == {3, 4, 5}


def test_stopped_search_reports_a_valid_gap():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 12))
    w = rng.normal(size=12)
    err, _ = brute_force(X, w, 5)
    opt = best_subset(triangular_factor(X), w, 5, max_nodes=3)
    assert opt.lower_bound <= err + 1e-9 <= opt.error + 2e-9
    assert opt.gap == pytest.approx(opt.error - opt.lower_bound)
    assert opt.certified == (opt.gap <= 1e-10 * float((X @ w) @ (X @ w)))


def test_degenerate_counts():
    X = np.eye(3)
    w = np.array([1.0, 2.0, 3.0])
    R = triangular_factor(X)
    assert best_subset(R, w, 0).error == pytest.approx(14.0)
    assert best_subset(R, w, 3).error == 0.0
    assert best_subset(R, w, 1).error == pytest.approx(5.0)  # keeps the 3: 1 + 4 left


def test_reconstruction_metrics_hand_example():
    # one linear layer y = x W^T with X = I (2 samples, 2 inputs): errors are sums of squared dropped weights
    W = [np.array([[3.0, 1.0], [0.5, -2.0]])]
    b = [np.zeros(2)]
    mask = [np.array([[False, True], [True, True]])]  # row 0 drops the 3 (error 9), row 1 keeps everything
    m = reconstruction_metrics(W, b, mask, np.eye(2))
    energy = 9 + 1 + 0.25 + 4
    assert m["recon_error_l0"] == pytest.approx(9 / energy)
    assert m["oracle_error_l0"] == pytest.approx(1 / energy)  # the oracle keeps the 3 instead
    assert m["recon_excess"] == pytest.approx(8 / energy)
    assert m["oracle_certified_l0"] == 1.0
    # updated weights count: dense weights on the support reconstruct exactly where the support is full
    m2 = reconstruction_metrics(W, b, [np.array([[True, False], [True, True]])], np.eye(2))
    assert m2["recon_error_l0"] == pytest.approx(m2["oracle_error_l0"])
