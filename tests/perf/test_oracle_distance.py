"""The post-training oracle distance (python -m plantseek.perf.oracle_distance): a method's support is scored with
its best weights, so a support that holds the oracle's has no excess."""

import numpy as np

from plantseek.perf.oracle_distance import support_fit, table
from plantseek.score.layer_oracle import reconstruction_metrics


def test_support_fit_is_the_least_squares_fit_on_the_kept_columns():
    x = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [2.0, 1.0, 1.0]])
    w = np.array([[1.0, 2.0, 3.0]])
    keep = np.array([[True, False, True]])
    got = support_fit(w, x, keep)
    a = x[:, [0, 2]]
    want = np.linalg.lstsq(a, x @ w[0], rcond=None)[0]  # by the normal equations: solve (AᵀA) c = Aᵀ y
    assert np.allclose(got[0, [0, 2]], np.linalg.solve(a.T @ a, a.T @ (x @ w[0]))) and got[0, 1] == 0
    assert np.allclose(got[0, [0, 2]], want)


def test_the_oracles_own_support_has_no_excess_and_a_worse_one_has_some():
    g = np.random.default_rng(0)
    x = g.normal(size=(40, 6))
    w1, b1 = g.normal(size=(5, 6)), np.zeros(5)
    w2, b2 = g.normal(size=(1, 5)), np.zeros(1)
    from plantseek.score.layer_oracle import layer_oracle

    h = np.maximum(x @ w1.T + b1, 0)
    best = [layer_oracle(w1, x, 2).mask, layer_oracle(w2, h, 2).mask]
    refit = [support_fit(w1, x, best[0]), support_fit(w2, h, best[1])]
    m = reconstruction_metrics([w1, w2], [b1, b2], best, x, refit)
    assert abs(m["recon_excess"]) < 1e-9 and m["oracle_certified_l0"] == 1.0
    worse = [~best[0] & (np.cumsum(~best[0], axis=1) <= 2), best[1]]  # two columns the oracle did not choose
    refit = [support_fit(w1, x, worse[0]), support_fit(w2, h, worse[1])]
    assert reconstruction_metrics([w1, w2], [b1, b2], worse, x, refit)["recon_excess"] > 1e-6


def test_table_means_per_task_density_and_pruner():
    rows = [{"task": "helix", "density": "0.1", "pruner": "wanda", "method_error": e, "oracle_error": 1.0,
             "excess": e - 1.0, "certified": c} for e, c in ((2.0, 1.0), (3.0, 0.5))]
    assert table(rows).splitlines()[-1] == "| helix | 0.1 | wanda | 2 | 2.5 | 1 | 1.5 | 75% |"
