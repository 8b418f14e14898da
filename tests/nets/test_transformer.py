"""The transformer host (plantseek.families.attention.network)
against a position-by-position reference written out with loops,
its FLOP count against torch's counter, its path metrics on hand-made masks, and every registered pruner on it through
the network protocol (no transformer-specific code in baselines/)."""

from __future__ import annotations

import math

import pytest
import torch
from pruner_masks import check_masks_of
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from plantseek.core.errors import ConfigError
from plantseek.nets.interface import Network, network_parameters
from plantseek.families.attention.network import TransformerArchitecture
from plantseek.planted.instance import PrunerData
from plantseek.prune.contract import PRUNERS
from plantseek.score.metrics import collapsed_layers, effective_density, layer_collapse

ARCHS = [
    TransformerArchitecture(vocab=5, seq_len=4, d_model=8, head_dim=4, mlp_width=6, n_blocks=2, out_features=3),
    TransformerArchitecture(vocab=3, seq_len=3, d_model=6, head_dim=6, mlp_width=4, n_blocks=1, out_features=2),
]


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def one_hot(arch, n, seed):
    return F.one_hot(torch.randint(0, arch.vocab, (n, arch.seq_len), generator=gen(seed)), arch.vocab).double()


def reference(arch: TransformerArchitecture, p, x):
    """Loops over samples, positions and heads; causal softmax written out."""
    out = []
    for sample in x:
        h = [sample[t] @ p["embed.token"] + p["embed.position"][t] for t in range(arch.seq_len)]
        for b in range(arch.n_blocks):
            w = lambda part: p[f"blocks.{b}.{part}"]  # noqa: E731
            q, k, v = ([w(f"{n}.weight") @ ht for ht in h] for n in "qkv")
            new = []
            for t in range(arch.seq_len):
                parts = []
                for g in range(arch.n_heads):
                    sl = slice(g * arch.head_dim, (g + 1) * arch.head_dim)
                    logits = torch.stack([q[t][sl] @ k[s][sl] / math.sqrt(arch.head_dim) for s in range(t + 1)])
                    a = torch.exp(logits - logits.max())
                    a = a / a.sum()
                    parts.append(sum(a[s] * v[s][sl] for s in range(t + 1)))
                new.append(h[t] + w("o.weight") @ torch.cat(parts))
            h = [ht + w("down.weight") @ torch.relu(w("up.weight") @ ht + w("up.bias")) + w("down.bias") for ht in new]
        out.append(p["readout.weight"] @ h[-1] + p["readout.bias"])
    return torch.stack(out)


@pytest.mark.parametrize("arch", ARCHS)
def test_forward_equals_a_loop_reference_and_stacked_equals_single(arch):
    params = arch.init(gen(0))
    x = one_hot(arch, 5, 1)
    mask = {n: torch.rand(s, generator=gen(2)) < 0.6 for n, s in arch.prunable_shapes().items()}
    kept = {n: p * mask[n] if n in mask else p for n, p in params.items()}
    want = reference(arch, kept, x)
    torch.testing.assert_close(arch.forward(params, x, mask), want, rtol=1e-12, atol=1e-12)
    stacked = {n: torch.stack([p, 2 * p]) for n, p in params.items()}
    both = {n: torch.stack([m.double(), torch.ones_like(m.double())]) for n, m in mask.items()}
    out = arch.forward_stacked(stacked, torch.stack([x, x.flip(1)]), both)
    torch.testing.assert_close(out[0], want, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out[1], reference(arch, {n: 2 * p for n, p in params.items()}, x.flip(1)),
                               rtol=1e-12, atol=1e-12)
    model = arch.build(params, torch.float64)
    assert isinstance(arch, Network) and list(network_parameters(model)) == list(arch.parameter_shapes())
    torch.testing.assert_close(model(x, mask), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("arch", ARCHS)
def test_flops_match_torchs_counter(arch):
    params = arch.init(gen(0))
    with FlopCounterMode(display=False) as counter:
        arch.forward(params, one_hot(arch, 1, 0))
    assert counter.get_total_flops() == arch.forward_flops()


def test_shapes_counts_and_init_by_hand():
    arch = ARCHS[0]  # d 8, 2 heads of 4, MLP 6, 2 blocks, 3 outputs
    assert arch.n_heads == 2 and arch.n_prunable == 2 * (4 * 64 + 2 * 48) + 24
    assert list(arch.prunable_shapes())[:6] == [f"blocks.0.{p}.weight" for p in ("q", "k", "v", "o", "up", "down")]
    assert arch.fan_in("blocks.1.down.weight") == 6 and arch.fan_in("blocks.0.o.weight") == 8
    big = TransformerArchitecture(vocab=50, seq_len=8, d_model=128, head_dim=16, mlp_width=256, n_blocks=2,
                                  out_features=10)
    p = big.init(gen(0))
    assert float(p["blocks.0.q.weight"].std()) == pytest.approx(math.sqrt(2 / 128), rel=0.05)
    assert float(p["blocks.1.down.weight"].std()) == pytest.approx(math.sqrt(2 / 256), rel=0.05)
    spread = math.sqrt(2 / 128)
    assert float(p["blocks.0.up.bias"].pow(2).mean().sqrt()) == pytest.approx(spread, rel=0.3)
    spread *= math.sqrt(2 / 256)
    assert float(p["blocks.0.down.bias"].pow(2).mean().sqrt()) == pytest.approx(spread, rel=0.3)
    assert torch.equal(big.init(gen(0))["embed.token"], p["embed.token"])


def test_bad_sizes_are_one_line_errors():
    with pytest.raises(ConfigError, match="head width 3 does not divide the model width 8"):
        TransformerArchitecture(5, 4, 8, 3, 6, 1, 2)
    with pytest.raises(ConfigError, match="n_blocks"):
        TransformerArchitecture(5, 4, 8, 4, 6, 0, 2)


def test_path_metrics_follow_residual_and_heads():
    arch = ARCHS[1]  # one block, one head of width 6
    st = arch.structure()
    empty = {n: torch.zeros(s, dtype=torch.bool) for n, s in arch.prunable_shapes().items()}
    path = {n: m.clone() for n, m in empty.items()}
    path["readout.weight"][1, 2] = True  # the embedding's dim 2 read out through the residual stream alone
    assert not layer_collapse(path, st) and effective_density(path, st) == pytest.approx(1 / arch.n_prunable)
    path["blocks.0.v.weight"][3, 0] = True  # dim 0 -> value 3 -> (head mixing) -> dim 5 -> read out
    path["blocks.0.o.weight"][5, 3] = True
    path["readout.weight"][0, 5] = True
    path["blocks.0.q.weight"][1, 4] = True  # a query unit of the head also feeds its outputs
    path["blocks.0.up.weight"][0, 1] = True  # hidden unit 0 never reaches an output: not effective
    assert effective_density(path, st) == pytest.approx(5 / arch.n_prunable)
    cut = {n: m.clone() for n, m in empty.items()}
    cut["blocks.0.v.weight"][3, 0] = True
    assert layer_collapse(cut, st) and collapsed_layers(cut, st) != []



@pytest.fixture(scope="module")
def small_host():
    arch = ARCHS[0]
    x = one_hot(arch, 64, 5)
    y = torch.randint(0, 3, (64,), generator=gen(6))
    return arch, arch.init(gen(4)), PrunerData(x.float(), y, F.cross_entropy, "classification")


SLOW = ("multishot", "synflow-100")  # the multi-round pruners (~3 s each here): behind the slow marker


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n.endswith(SLOW) else n
                                  for n in PRUNERS.names()])
def test_every_registered_pruner_gives_valid_masks_on_a_transformer_host(name, small_host, one_torch_thread):
    arch, params, data = small_host
    check_masks_of(name, arch, params, data, [0.05, 0.3])
