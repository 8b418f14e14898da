"""The post-training pruners (baselines wanda, sparsegpt, owl, ria, magnitude-posttraining, iht-reconstruction)
against hand-computed and independently computed expectations: Wanda's scores on a hand example, SparseGPT's update
against a direct solution of the constrained reconstruction (KKT system, numpy), OWL's layer counts, exact counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from plantseek.core.errors import MaskError, PrunerError
from plantseek.families.mlp.network import Architecture
from plantseek.nets.masks import kept_count
from plantseek.planted.instance import PrunerData
from plantseek.prune.contract import get_pruner, protocol_of, tags_of
from plantseek.prune.layer_inputs import layer_inputs
from plantseek.prune.posttraining import select_rows, split_result, validate_weights
from plantseek.train.config import TrainConfig

POST = ["magnitude-posttraining", "wanda", "sparsegpt", "owl", "ria", "iht-reconstruction"]


def one_layer(w: torch.Tensor):
    """A one-layer MLP (no hidden layer) holding weight ``w`` and a zero bias: its layer input is the data itself."""
    arch = Architecture((w.shape[1], w.shape[0]))
    return arch.build({"layers.0.weight": w.double(), "layers.0.bias": torch.zeros(w.shape[0], dtype=torch.float64)})


def data(x: torch.Tensor) -> PrunerData:
    return PrunerData(x.float(), torch.zeros(x.shape[0]), lambda o, y: o.sum(), "regression")


def prune(name, model, x, density):
    result = get_pruner(name).prune(model, data(x), density, generator=torch.Generator(), budget=TrainConfig())
    return split_result(result)


def test_wanda_scores_rows_by_weight_times_input_norm_on_a_hand_example():
    # input columns with norms 5, 1, 2 (3-4-5 triangle; a unit column; 2 = sqrt(4))
    x = torch.tensor([[3.0, 1.0, 0.0], [4.0, 0.0, 2.0]])
    w = torch.tensor([[1.0, 4.0, -3.0],    # scores 5, 4, 6  -> keeps columns 2 and 0
                      [-0.5, 8.0, 1.0]])   # scores 2.5, 8, 2 -> keeps columns 1 and 0
    from plantseek.baselines.wanda import wanda_scores

    assert torch.equal(wanda_scores(w.double(), x.double()),
                       torch.tensor([[5.0, 4.0, 6.0], [2.5, 8.0, 2.0]], dtype=torch.float64))
    mask, weights = prune("wanda", one_layer(w), x, 4 / 6)
    assert weights == {}
    assert mask["layers.0.weight"].tolist() == [[True, False, True], [True, True, False]]
    # per row, not per layer: the layer-wise top 4 would be 8, 6, 5, 4 (row 0 keeping three)


def test_select_rows_gives_the_remainder_to_the_best_next_candidates():
    score = torch.tensor([[9.0, 1.0, 0.5], [8.0, 7.0, 0.1], [6.0, 2.0, 1.5]])
    keep = select_rows(score, 5)  # one per row, then 2 more: next candidates 1.0, 7.0, 2.0 -> rows 1 and 2
    assert keep.tolist() == [[True, False, False], [True, True, False], [True, True, False]]


def kkt_reconstruction(w: np.ndarray, h: np.ndarray, pruned: np.ndarray) -> np.ndarray:
    """argmin (w - v)ᵀ H (w - v) s.t. v_S = 0, from its KKT system [[2H, Eᵀ], [E, 0]] [v; μ] = [2Hw; 0]."""
    n, s = len(w), np.flatnonzero(pruned)
    e = np.zeros((len(s), n))
    e[np.arange(len(s)), s] = 1.0
    kkt = np.block([[2 * h, e.T], [e, np.zeros((len(s), len(s)))]])
    return np.linalg.solve(kkt, np.concatenate([2 * h @ w, np.zeros(len(s))]))[:n]


def test_sparsegpt_update_equals_the_direct_obs_solution_on_a_4x6_layer():
    g = torch.Generator().manual_seed(3)
    w = torch.randn(4, 6, generator=g).float()
    x = torch.randn(20, 6, generator=g).float()
    mask, weights = prune("sparsegpt", one_layer(w), x, 0.5)
    keep, new = mask["layers.0.weight"].numpy(), weights["layers.0.weight"].numpy()
    xn, wn = x.double().numpy(), w.double().numpy()
    h = xn.T @ xn
    h += (0.01 * np.mean(np.diag(h)) + 1e-12) * np.eye(6)  # the documented 1 % dampening
    saliency = wn ** 2 / np.diag(np.linalg.inv(h))[None, :]
    expected_keep = np.zeros(24, dtype=bool)
    expected_keep[np.argsort(-saliency.reshape(-1), kind="stable")[:12]] = True
    assert (keep == expected_keep.reshape(4, 6)).all()
    for i in range(4):
        np.testing.assert_allclose(new[i], kkt_reconstruction(wn[i], h, ~keep[i]), rtol=1e-9, atol=1e-12)
        assert (new[i][~keep[i]] == 0).all()


def test_sparsegpt_update_improves_the_layer_reconstruction_over_the_plain_mask():
    g = torch.Generator().manual_seed(4)
    w, x = torch.randn(5, 8, generator=g).float(), torch.randn(40, 8, generator=g).float()
    mask, weights = prune("sparsegpt", one_layer(w), x, 0.4)
    out = x.double() @ w.double().T
    plain = x.double() @ (w.double() * mask["layers.0.weight"]).T
    updated = x.double() @ weights["layers.0.weight"].T
    assert (updated - out).norm() < (plain - out).norm()


def test_owl_layer_counts_by_hand_and_exact_in_total():
    from plantseek.baselines.owl import owl_densities

    # equal layers, outlier ratios 0 and 1: deviations 0 and 2λ = 0.16 around the shift 0.08: densities 0.22, 0.38
    assert owl_densities({"a": 0.0, "b": 1.0}, {"a": 100, "b": 100}, 0.3) == {"a": 22, "b": 38}
    g = torch.Generator().manual_seed(0)
    for density in (0.01, 0.05, 0.1, 0.3, 0.5, 0.9, 1.0):
        sizes = {f"l{i}": int(s) for i, s in enumerate(torch.randint(3, 400, (5,), generator=g))}
        ratios = {n: float(r) for n, r in zip(sizes, torch.rand(5, generator=g))}
        counts = owl_densities(ratios, sizes, density)
        assert sum(counts.values()) == kept_count(density, sum(sizes.values()))  # the average density, exactly
        assert all(0 <= counts[n] <= sizes[n] for n in sizes)


def small_mlp(seed=0, widths=(3, 7, 5, 2)):
    g = torch.Generator().manual_seed(seed)
    arch = Architecture(widths)
    return arch.build(arch.init(g)), torch.rand(50, widths[0], generator=g) * 2 - 1


@pytest.mark.parametrize("name", POST)
def test_every_post_training_pruner_keeps_exactly_kept_count(name):
    model, x = small_mlp()
    pruner = get_pruner(name)
    assert protocol_of(pruner) == "post-training" and "post-training" in tags_of(pruner)
    for density in (0.03, 0.1, 0.37, 0.5, 1.0):
        mask, weights = prune(name, model, x, density)
        assert sum(int(m.sum()) for m in mask.values()) == kept_count(density, model.arch.n_prunable)
        validate_weights(weights, model.arch.parameter_shapes())
        assert all((weights[n][~mask[n]] == 0).all() for n in weights)


def test_owl_gives_the_layer_with_outliers_more_weights_than_wanda_does():
    model, x = small_mlp(1, (4, 30, 30, 30, 3))
    with torch.no_grad():  # 10 % of the last layer's weights 100 times larger: outliers of |W|·‖X‖ there only
        w = model.layers[3].weight
        w[torch.rand(w.shape, generator=torch.Generator().manual_seed(2)) < 0.1] *= 100
    mask, _ = prune("owl", model, x, 0.3)
    uniform, _ = prune("wanda", model, x, 0.3)
    kept = {n: int(m.sum()) for n, m in mask.items()}
    assert sum(kept.values()) == sum(int(m.sum()) for m in uniform.values()) == kept_count(0.3, model.arch.n_prunable)
    assert kept["layers.3.weight"] > int(uniform["layers.3.weight"].sum())
    density = {n: kept[n] / m.numel() for n, m in mask.items()}
    assert max(density, key=density.__getitem__) == "layers.3.weight"


def test_layer_inputs_are_the_hidden_activations():
    model, x = small_mlp()
    inputs = layer_inputs(model, x)
    h = x.double()
    p = {n: t.detach().double() for n, t in model.named_parameters()}
    for l in range(3):
        assert torch.allclose(inputs[f"layers.{l}.weight"], h, atol=1e-6)
        h = h @ p[f"layers.{l}.weight"].T + p[f"layers.{l}.bias"]
        h = torch.relu(h) if l < 2 else h


class EinsumHost(torch.nn.Module):
    """A host whose prunable weight reaches none of the recorded products (an einsum)."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(2, 3, dtype=torch.float64))

    def prunable(self):
        return {"w": self.w}

    def forward(self, x):
        return torch.einsum("oi,bi->bo", self.w, x)


def test_layer_inputs_of_a_weight_no_recorded_product_reads_is_a_one_line_error():
    with pytest.raises(PrunerError, match="cannot read the layer inputs of w on this host") as err:
        layer_inputs(EinsumHost(), torch.ones(4, 3))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("weights, reason", [
    ({"nope": torch.zeros(2)}, "unknown key"),
    ({"layers.0.weight": torch.zeros(3, 3)}, "has shape"),
    ({"layers.0.weight": torch.zeros(2, 3, dtype=torch.int64)}, "floating dtype"),
    ({"layers.0.weight": torch.full((2, 3), math.nan)}, "non-finite"),
    ({"layers.0.weight": [[0.0] * 3] * 2}, "not a torch.Tensor"),
    ([1, 2], "must be a dict"),
])
def test_updated_weights_are_refused_with_one_line(weights, reason):
    with pytest.raises(MaskError, match=reason) as err:
        validate_weights(weights, Architecture((3, 2)).parameter_shapes())
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("name", POST)
def test_every_post_training_pruner_honours_nm_and_whole_unit_patterns(name):
    from plantseek.nets.patterns import check_pattern, pattern_density

    model, x = small_mlp(2, (8, 12, 8, 4))
    for spec in ("2:4", "4:8", "units:0.5"):
        mask, weights = prune(name, model, x, pattern_density(spec))
        check_pattern(mask, pattern_density(spec).pattern)  # every group of M keeps exactly N; whole rows
        assert all((weights[n][~mask[n]] == 0).all() for n in weights)


def test_wanda_under_2_4_keeps_the_best_two_of_every_four_by_its_score():
    from plantseek.nets.patterns import pattern_density

    w = torch.tensor([[4.0, 1.0, 3.0, 2.0, 1.0, 1.0, 9.0, 1.0]])
    x = torch.tensor([[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 10.0, 1.0, 1.0, 1.0, 5.0, 1.0, 1.0]])
    mask, _ = prune("wanda", one_layer(w), x, pattern_density("2:4"))
    # |w| * ||X_j||: group 1: 4*1.41, 1*10.05, 3*1.41, 2*1.41 -> keep inputs 1 and 0;
    # group 2: 1*1.41, 1*5.10, 9*1.41, 1*1.41 -> keep inputs 6 and 5
    assert mask["layers.0.weight"].tolist() == [[True, True, False, False, False, True, True, False]]


@pytest.mark.parametrize("name", POST)
def test_with_prunable_biases_every_post_training_pruner_keeps_exactly_kept_count_of_weights_and_biases(name):
    from plantseek.nets.masks import validate_pruned_mask

    model, x = small_mlp(3)
    budget = TrainConfig(prunable_biases=True)
    for density in (0.1, 0.37, 1.0):
        result = get_pruner(name).prune(model, data(x), density, generator=torch.Generator(), budget=budget)
        mask, weights = split_result(result)
        assert set(mask) == set(model.arch.weight_shapes()) | set(model.arch.bias_shapes())
        total = model.arch.n_prunable + sum(math.prod(s) for s in model.arch.bias_shapes().values())
        assert sum(int(m.sum()) for m in mask.values()) == kept_count(density, total)
        validate_pruned_mask(mask, model.arch, density, prunable_biases=True)
        assert all((weights[n][~mask[n]] == 0).all() for n in weights)


def test_sparsegpt_keeps_a_bias_the_layer_needs_and_reconstructs_exactly():
    # y = 2 x0 + 3 (bias), x1 and x2 carry small weights: keeping 2 of 4 (3 weights + bias), the bias column (input 1
    # on every sample) and x0 reconstruct the layer best; the OBS update then moves x1's and x2's share onto them
    g = torch.Generator().manual_seed(0)
    x = torch.rand(40, 3, generator=g)
    arch = Architecture((3, 1))
    model = arch.build({"layers.0.weight": torch.tensor([[2.0, 0.05, -0.05]], dtype=torch.float64),
                        "layers.0.bias": torch.tensor([3.0], dtype=torch.float64)})
    result = get_pruner("sparsegpt").prune(model, data(x), 0.5, generator=torch.Generator(),
                                           budget=TrainConfig(prunable_biases=True))
    mask, weights = split_result(result)
    assert mask["layers.0.weight"].tolist() == [[True, False, False]] and mask["layers.0.bias"].tolist() == [True]
    xd = x.double()
    want = xd @ torch.tensor([2.0, 0.05, -0.05], dtype=torch.float64) + 3.0
    got = xd[:, 0] * weights["layers.0.weight"][0, 0] + weights["layers.0.bias"][0]
    a = torch.stack([xd[:, 0], torch.ones(40, dtype=torch.float64)], 1)  # the least-squares fit on the kept support
    best = a @ torch.linalg.lstsq(a, want[:, None]).solution[:, 0]
    assert torch.allclose(got, best, atol=1e-4)  # SparseGPT's 1 % damping: close to, not exactly, least squares
