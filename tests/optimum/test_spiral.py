"""The Cubist Spiral's construction (tasks/cubist_spiral.py) against the reference's description."""

from __future__ import annotations

import math

import numpy as np
import torch

from plantseek.planted.task import DataConfig, get_task
from plantseek.tasks.cubist_spiral import N_VERTICES, OFFSET, cubist_spiral, spiral_angles, spiral_vertices


def test_vertices_offsets_and_shift():
    a, b = spiral_vertices()
    assert a.shape == b.shape == (17, 2) and N_VERTICES == 17
    theta = spiral_angles()
    assert math.isclose(theta[0], math.pi + 0.4 * math.pi) and math.isclose(theta[-1], 5 * math.pi + 0.4 * math.pi)
    # A - B = 2 * 15 along the radial direction (cos theta, sin theta), at every vertex
    radial = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    assert np.allclose(a - b, 2 * OFFSET * radial)
    # the midpoint is the spiral r = 10 theta + pi, up to the common shift
    mid = (a + b) / 2
    shift = mid[0] - (10 * theta[0] + math.pi) * radial[0]
    assert np.allclose(mid - shift, (10 * theta + math.pi)[:, None] * radial)
    assert np.isclose(np.minimum(a.min(0), b.min(0)), 0).all()


def test_points_lie_on_segments_standardised_and_labelled():
    x, y = cubist_spiral(2000)
    assert torch.allclose(x.mean(0), torch.zeros(2, dtype=x.dtype), atol=1e-12)
    assert torch.allclose(x.std(0), torch.ones(2, dtype=x.dtype), atol=1e-12)
    assert y.shape == (x.shape[0], 1) and set(y.unique().tolist()) == {0.0, 1.0}
    assert abs(float(y.mean()) - 0.5) < 0.01
    assert 1900 <= x.shape[0] <= 2000  # int() per segment loses at most one point per segment and spiral
    # every label-0 point lies on one of spiral A's segments (undo the standardisation with the raw points' stats)
    a, b = spiral_vertices()
    from plantseek.tasks.cubist_spiral import segment_points
    raw = np.concatenate([segment_points(a, 2000), segment_points(b, 2000)])
    back = x.numpy() * raw.std(0, ddof=1) + raw.mean(0)
    pts = back[y[:, 0].numpy() == 0]
    dist = np.full(len(pts), np.inf)
    for p, q in zip(a[:-1], a[1:]):
        t = np.clip(((pts - p) @ (q - p)) / ((q - p) @ (q - p)), 0, 1)
        dist = np.minimum(dist, np.linalg.norm(pts - (p + t[:, None] * (q - p)), axis=1))
    assert dist.max() < 1e-9


def test_seeded_splits_are_bit_identical_and_disjoint():
    task = get_task("cubist-spiral")
    cfg = DataConfig(n_samples=1000, test_fraction=0.2)
    s1 = task.make_data(cfg, torch.Generator().manual_seed(3))
    s2 = task.make_data(cfg, torch.Generator().manual_seed(3))
    s3 = task.make_data(cfg, torch.Generator().manual_seed(4))
    assert torch.equal(s1.train.x, s2.train.x) and torch.equal(s1.test.y, s2.test.y)
    assert not torch.equal(s1.train.x, s3.train.x)
    n = s1.train.x.shape[0] + s1.test.x.shape[0]
    assert s1.test.x.shape[0] == round(n * 0.2)
    both = sorted(map(tuple, torch.cat([s1.train.x, s1.test.x]).tolist()))
    assert both == sorted(map(tuple, cubist_spiral(1000)[0].tolist()))  # a partition of all points (vertices
    # shared by two segments appear twice, as in the reference)


def test_loss_and_metric():
    task = get_task("cubist-spiral")
    out = torch.tensor([[2.0], [-1.0], [0.5]])
    y = torch.tensor([[1.0], [0.0], [0.0]])
    assert task.metric(out, y) == 2 / 3
    expected = -(math.log(1 / (1 + math.exp(-2))) + math.log(1 - 1 / (1 + math.exp(1)))
                 + math.log(1 - 1 / (1 + math.exp(-0.5)))) / 3
    assert math.isclose(float(task.loss(out, y)), expected, rel_tol=1e-6)


def test_no_ticket_file_is_one_clear_error(monkeypatch, tmp_path):
    import pytest

    import plantseek.tasks.cubist_spiral as spiral
    from plantseek.core.errors import ConfigError

    monkeypatch.setattr(spiral, "TICKET_FILE", tmp_path / "missing.npz")
    with pytest.raises(ConfigError, match="no planted ticket yet"):
        get_task("cubist-spiral").target(5)
    with pytest.raises(ConfigError, match="depth must be 5"):
        get_task("cubist-spiral").target(4)
