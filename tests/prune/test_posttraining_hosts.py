"""The post-training pruners on the conv and attention hosts (plantseek.prune.layer_inputs): the calibration input
matrix of a conv kernel against patch matrices built by a loop over output positions, Wanda's conv scores by hand,
SparseGPT's conv update against an independent least-squares solve, the attention block's projection inputs against
a manual forward pass, exact counts and patterns on both hosts, and end-to-end post-training cells on bars and
recall."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from plantseek.core.errors import PrunerError
from plantseek.families.attention.network import TransformerArchitecture
from plantseek.families.conv.network import ConvArchitecture, ConvLayer
from plantseek.nets.masks import kept_count, layer_counts, mask_count, unpack_mask
from plantseek.nets.patterns import check_pattern, pattern_density
from plantseek.planted.instance import PrunerData, plant
from plantseek.planted.task import DataConfig
from plantseek.prune.contract import get_pruner
from plantseek.prune.layer_inputs import layer_inputs, weight_matrix
from plantseek.prune.posttraining import select_rows, split_result, validate_weights
from plantseek.train.config import TrainConfig

POST = ["magnitude-posttraining", "wanda", "sparsegpt", "owl", "ria", "iht-reconstruction"]
#: a conv host of two convolutions (3x3, stride 2, padding 1: a 3x3 map; 2x2 without padding: a 2x2 map) and a
#: head, on 2-channel 5x5 images
CONV = ConvArchitecture(2, 5, (ConvLayer(3, kernel=3, stride=2, padding=1), ConvLayer(4, kernel=2, padding=0, pool=1)),
                        2)


def data(x: torch.Tensor) -> PrunerData:
    return PrunerData(x.float(), torch.zeros(x.shape[0]), lambda o, y: o.sum(), "regression")


def prune(name, model, x, density):
    result = get_pruner(name).prune(model, data(x), density, generator=torch.Generator(), budget=TrainConfig())
    return split_result(result)


def conv_host(arch=CONV, seed=0, n=6):
    g = torch.Generator().manual_seed(seed)
    return arch.build(arch.init(g), torch.float64), torch.randn(n, *arch.input_shape, generator=g, dtype=torch.float64)


def loop_patches(x: torch.Tensor, kernel: int, stride: int, padding: int) -> torch.Tensor:
    """Patch matrix by a loop over samples and output positions (row-major), each row the (channel, kh, kw) window of
    the zero-padded input."""
    b, c, h, w = x.shape
    padded = torch.zeros(b, c, h + 2 * padding, w + 2 * padding, dtype=x.dtype)
    padded[:, :, padding:padding + h, padding:padding + w] = x
    out_h, out_w = (h + 2 * padding - kernel) // stride + 1, (w + 2 * padding - kernel) // stride + 1
    rows = [padded[n, :, r * stride:r * stride + kernel, q * stride:q * stride + kernel].reshape(-1)
            for n in range(b) for r in range(out_h) for q in range(out_w)]
    return torch.stack(rows)


def test_conv_layer_inputs_are_the_loop_built_patches_and_the_head_its_flat_feature_map():
    host, x = conv_host()
    p = dict(host.named_parameters())
    inputs = layer_inputs(host, x)
    first = loop_patches(x, 3, 2, 1)
    assert first.shape == (6 * 9, 2 * 9)
    torch.testing.assert_close(inputs["layers.0.weight"], first, rtol=0, atol=1e-12)
    h1 = torch.relu(first @ weight_matrix(p["layers.0.weight"]).T + p["layers.0.bias"])  # (6*9, 3): rows (n, r, q)
    h1 = h1.reshape(6, 3, 3, 3).permute(0, 3, 1, 2)  # back to (n, channel, r, q)
    torch.testing.assert_close(inputs["layers.1.weight"], loop_patches(h1, 2, 1, 0), rtol=0, atol=1e-12)
    h2 = torch.relu(loop_patches(h1, 2, 1, 0) @ weight_matrix(p["layers.1.weight"]).T + p["layers.1.bias"])
    h2 = h2.reshape(6, 2, 2, 4).permute(0, 3, 1, 2)
    torch.testing.assert_close(inputs["layers.2.weight"], h2.reshape(6, -1), rtol=0, atol=1e-12)
    head = h2.reshape(6, -1) @ weight_matrix(p["layers.2.weight"]).T + p["layers.2.bias"]
    torch.testing.assert_close(host(x), head, rtol=0, atol=1e-12)  # the loop-built forward is the host's


def test_wanda_scores_a_conv_kernel_by_weight_times_patch_column_norm():
    host, x = conv_host(seed=1)
    w = dict(host.named_parameters())["layers.0.weight"].detach()  # (3, 2, 3, 3)
    patches = loop_patches(x, 3, 2, 1)
    expected = torch.zeros(3, 18, dtype=torch.float64)
    for i in range(3):  # |W_ij| · ‖X_j‖₂ entry by entry; column j = (channel, kh, kw) in row-major order
        for j in range(18):
            c, r, q = j // 9, (j % 9) // 3, j % 3
            expected[i, j] = abs(float(w[i, c, r, q])) * math.sqrt(sum(float(v) ** 2 for v in patches[:, j]))
    from plantseek.baselines.wanda import wanda_scores

    inputs = layer_inputs(host, x)
    torch.testing.assert_close(wanda_scores(weight_matrix(w), inputs["layers.0.weight"]), expected, rtol=1e-12,
                               atol=0)
    mask, _ = prune("wanda", host, x, 0.3)  # the first layer's inputs do not depend on the pruning of later layers
    k = layer_counts(0.3, {n: math.prod(s) for n, s in CONV.weight_shapes().items()})["layers.0.weight"]
    assert mask["layers.0.weight"].shape == (3, 2, 3, 3)
    assert torch.equal(mask["layers.0.weight"].reshape(3, -1), select_rows(expected, k))


def damped_least_squares(w: np.ndarray, x: np.ndarray, keep: np.ndarray, delta: float) -> np.ndarray:
    """argmin over v with v = 0 off ``keep`` of ‖X(w - v)‖² + δ‖w - v‖² (the damped reconstruction), as one stacked
    least-squares problem [X_F; √δ I] v_F ≈ [X w; √δ w_F] (numpy lstsq)."""
    f = np.flatnonzero(keep)
    a = np.vstack([x[:, f], math.sqrt(delta) * np.eye(len(f))])
    b = np.concatenate([x @ w, math.sqrt(delta) * w[f]])
    out = np.zeros_like(w)
    out[f] = np.linalg.lstsq(a, b, rcond=None)[0]
    return out


def test_sparsegpt_on_a_conv_layer_is_the_damped_least_squares_and_beats_magnitude_on_the_patches():
    arch = ConvArchitecture(2, 5, (ConvLayer(3, kernel=3, stride=1, padding=1),), 2)
    host, x = conv_host(arch, seed=2, n=8)
    w = weight_matrix(dict(host.named_parameters())["layers.0.weight"].detach()).numpy()
    mask, weights = prune("sparsegpt", host, x, 0.4)
    keep, new = mask["layers.0.weight"].reshape(3, -1).numpy(), weights["layers.0.weight"].reshape(3, -1).numpy()
    patches = loop_patches(x, 3, 1, 1).numpy()
    h = patches.T @ patches
    delta = 0.01 * np.mean(np.diag(h)) + 1e-12  # the documented 1 % dampening
    for i in range(3):
        np.testing.assert_allclose(new[i], damped_least_squares(w[i], patches, keep[i], delta), rtol=0, atol=1e-8)
    magnitude, _ = prune("magnitude-posttraining", host, x, 0.4)
    plain = w * magnitude["layers.0.weight"].reshape(3, -1).numpy()
    assert keep.sum() == magnitude["layers.0.weight"].sum()  # the same layer count
    error = lambda v: float(np.sum((patches @ (v - w).T) ** 2))  # noqa: E731
    assert error(new) <= error(plain)


ATTN = TransformerArchitecture(vocab=5, seq_len=3, d_model=4, head_dim=2, mlp_width=6, n_blocks=1, out_features=3)


def test_attention_projection_inputs_equal_a_manual_forward_of_the_block():
    g = torch.Generator().manual_seed(4)
    params = ATTN.init(g)
    host = ATTN.build(params, torch.float64)
    x = torch.nn.functional.one_hot(torch.randint(0, 5, (2, 3), generator=g), 5).double()
    p = {n: v.double() for n, v in params.items()}
    h0 = x @ p["embed.token"] + p["embed.position"]  # (b, t, d)
    q, k, v = (h0 @ p[f"blocks.0.{n}.weight"].T for n in "qkv")
    mixed = torch.zeros(2, 3, 4, dtype=torch.float64)
    for b in range(2):
        for head in range(2):
            cols = slice(2 * head, 2 * head + 2)
            for t in range(3):  # causal: position t attends to 0..t
                logits = torch.tensor([float(q[b, t, cols] @ k[b, s, cols]) / math.sqrt(2) for s in range(t + 1)],
                                      dtype=torch.float64)
                att = torch.softmax(logits, 0)
                mixed[b, t, cols] = sum(att[s] * v[b, s, cols] for s in range(t + 1))
    h1 = h0 + mixed @ p["blocks.0.o.weight"].T
    hidden = torch.relu(h1 @ p["blocks.0.up.weight"].T + p["blocks.0.up.bias"])
    h2 = h1 + hidden @ p["blocks.0.down.weight"].T + p["blocks.0.down.bias"]
    out = h2[:, -1] @ p["readout.weight"].T + p["readout.bias"]
    torch.testing.assert_close(host(x), out, rtol=0, atol=1e-12)  # the manual forward is the host's
    expected = {"q": h0, "k": h0, "v": h0, "o": mixed, "up": h1, "down": hidden}
    inputs = layer_inputs(host, x)
    assert set(inputs) == set(ATTN.weight_shapes())
    for part, want in expected.items():  # every sample-position is a row
        torch.testing.assert_close(inputs[f"blocks.0.{part}.weight"], want.reshape(6, -1), rtol=0, atol=1e-12)
    torch.testing.assert_close(inputs["readout.weight"], h2[:, -1], rtol=0, atol=1e-12)  # the last position only


def attention_host(seed=5, n=12):
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.one_hot(torch.randint(0, 5, (n, 3), generator=g), 5).double()
    return ATTN.build(ATTN.init(g), torch.float64), x


@pytest.mark.parametrize("name", POST)
@pytest.mark.parametrize("host", ["conv", "attention"])
def test_every_post_training_pruner_keeps_exactly_kept_count_and_honours_patterns_on_conv_and_attention(name, host):
    model, x = conv_host(n=10) if host == "conv" else attention_host()
    for density in (0.05, 0.3, 1.0):
        mask, weights = prune(name, model, x, density)
        assert {n: tuple(m.shape) for n, m in mask.items()} == model.arch.weight_shapes()
        assert mask_count(mask) == kept_count(density, model.arch.n_prunable)
        validate_weights(weights, model.arch.parameter_shapes())
        assert all((weights[n][~mask[n]] == 0).all() for n in weights)
    for spec in ("2:4", "units:0.5"):
        mask, weights = prune(name, model, x, pattern_density(spec))
        check_pattern(mask, pattern_density(spec).pattern)
        assert all((weights[n][~mask[n]] == 0).all() for n in weights)


def test_with_prunable_conv_biases_the_bias_is_a_column_of_ones_over_every_position():
    host, x = conv_host(seed=6)
    budget = TrainConfig(prunable_biases=True)
    mask, _ = split_result(get_pruner("wanda").prune(host, data(x), 0.5, generator=torch.Generator(), budget=budget))
    total = CONV.n_prunable + sum(math.prod(s) for s in CONV.bias_shapes().values())
    assert mask_count(mask) == kept_count(0.5, total)
    # layer 0: 9 positions x 6 samples of input 1 give the bias column the norm sqrt(54); its Wanda score |b|·sqrt(54)
    p = {n: t.detach() for n, t in host.named_parameters()}
    w, b = p["layers.0.weight"].reshape(3, -1), p["layers.0.bias"]
    norms = loop_patches(x, 3, 2, 1).pow(2).sum(0).sqrt()
    score = torch.cat([w.abs() * norms, (b.abs() * math.sqrt(54))[:, None]], 1)
    k = layer_counts(0.5, {n: math.prod(s) + s[0] for n, s in CONV.weight_shapes().items()})["layers.0.weight"]
    keep = select_rows(score, k)
    assert torch.equal(mask["layers.0.weight"].reshape(3, -1), keep[:, :-1])
    assert torch.equal(mask["layers.0.bias"], keep[:, -1])


class GroupedConvHost(torch.nn.Module):
    """A host with a grouped convolution, whose patch matrix is not one matrix per weight."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(4, 1, 3, 3, dtype=torch.float64))

    def prunable(self):
        return {"w": self.w}

    def forward(self, x):
        return torch.nn.functional.conv2d(x, self.w, groups=2)


def test_a_grouped_convolution_is_refused_with_one_line():
    why = "post-training pruner: cannot read the patches of w: grouped or string-padded convolutions"
    with pytest.raises(PrunerError, match=why) as err:
        layer_inputs(GroupedConvHost(), torch.ones(1, 2, 5, 5))
    assert "\n" not in str(err.value)


# --- end to end: post-training cells through the harness --------------------------------------------------------

def cells(task, **setting):
    from plantseek.run.grid import expand
    from plantseek.run.suites import SUITES

    suite = SUITES.get("smoke").with_overrides(tasks=[task], pruners=POST, densities=["0.1"], **setting)
    return expand(dataclasses.replace(suite, calibration_size=16, calibration_seeds=(0,)))


@pytest.mark.parametrize("task, setting", [
    ("bars", {"depth": 4, "width": 4, "task_options": {"image_size": 8}, "n_samples": 200}),
    ("recall", {"depth": 3, "width": 24, "n_samples": 200}),
])
def test_a_post_training_cell_on_bars_and_on_recall_gives_valid_masks_of_the_exact_count(task, setting):
    from plantseek.nets.masks import validate_pruned_mask
    from plantseek.run.grid import run_cells

    out = run_cells(cells(task, **setting))
    assert len(out) == len(POST) and all(r.status == "ok" for _, r in out), [r.error for _, r in out]
    options = setting.get("task_options", {})
    inst = plant(task, depth=setting["depth"], width=setting["width"], seed=0,
                 data=DataConfig(n_samples=setting["n_samples"]), **options)
    for c, r in out:
        assert r.protocol == "post-training"
        mask = unpack_mask(r.mask, inst.arch.weight_shapes())
        assert mask_count(mask) == kept_count(0.1, inst.arch.n_prunable)
        validate_pruned_mask(mask, inst.arch, 0.1)
        assert r.metrics["weights_updated"] == (c.pruner in ("sparsegpt", "iht-reconstruction"))
    assert len({r.dense_weak_metric for _, r in out}) == 1  # one trained network for every pruner
