"""A transformer host architecture: token and position embeddings, blocks of multi-head self-attention and a ReLU MLP
on a residual stream, a linear read-out from the last position; no normalisation layers.

A sample is a sequence of ``seq_len`` one-hot tokens ``(b, seq_len, vocab)``. Parameters: ``embed.token``,
``embed.position`` (trained, not prunable), per block ``blocks.{b}.{q,k,v,o}.weight`` (no biases) and the MLP's
``up``/``down`` weights and biases, then ``readout``. Prunable: the projections, both MLP weights and the read-out
weight. Initialisation (float64): He weights, ``N(0, 1)`` embeddings, the MLP host's depth-scaled biases. The path
metrics' structure has residual, q, k, v, head, mid, hidden and out unit groups, with fixed links for the residual
identities and the attention mixing.

:class:`TransformerArchitecture` implements the network protocol (:mod:`plantseek.nets.interface`); its stacked
forward pass runs ``K`` networks with batched ``einsum``/``matmul`` products. The full description (block equations,
why the embeddings are not prunable, the structure's links) is in ``docs/design/families.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from plantseek.core.errors import ConfigError
from plantseek.nets.interface import Edges, HiddenUnits, NetworkModule, Params, Structure, dense_edges

PROJECTIONS = ("q", "k", "v", "o")


def block_name(b: int, part: str) -> str:
    """``blocks.{b}.{part}.weight`` for a projection or MLP weight; ``part`` may end in ``.bias``."""
    return f"blocks.{b}.{part}" if part.endswith(".bias") else f"blocks.{b}.{part}.weight"


@dataclass(frozen=True)
class TransformerArchitecture:
    """Sizes of a transformer host (see the module docstring)."""

    vocab: int
    seq_len: int
    d_model: int
    head_dim: int
    mlp_width: int
    n_blocks: int
    out_features: int

    def __post_init__(self) -> None:
        for name in ("vocab", "seq_len", "d_model", "head_dim", "mlp_width", "n_blocks", "out_features"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"transformer {name} must be an integer >= 1, got {v!r}")
        if self.d_model % self.head_dim:
            raise ConfigError(f"head width {self.head_dim} does not divide the model width {self.d_model}")

    @property
    def n_heads(self) -> int:
        return self.d_model // self.head_dim

    @property
    def widths(self) -> tuple[int, ...]:
        """Sizes that name the host (its random stream, the instance's metadata): input tokens x vocabulary, model
        width, heads, head width, MLP width, blocks, outputs."""
        return (self.seq_len * self.vocab, self.d_model, self.n_heads, self.head_dim, self.mlp_width, self.n_blocks,
                self.out_features)

    @property
    def depth(self) -> int:
        """Blocks + 2 (the embedding and the read-out), the task interface's ``depth``."""
        return self.n_blocks + 2

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        d, hd, f = self.d_model, self.n_heads * self.head_dim, self.mlp_width
        shapes: dict[str, tuple[int, ...]] = {}
        for b in range(self.n_blocks):
            shapes.update({block_name(b, "q"): (hd, d), block_name(b, "k"): (hd, d), block_name(b, "v"): (hd, d),
                           block_name(b, "o"): (d, hd), block_name(b, "up"): (f, d), block_name(b, "down"): (d, f)})
        shapes["readout.weight"] = (self.out_features, d)
        return shapes

    def weight_names(self) -> list[str]:
        return list(self.weight_shapes())

    def embedding_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"embed.token": (self.vocab, self.d_model), "embed.position": (self.seq_len, self.d_model)}

    # --- the network protocol (plantseek.nets.interface) ---------------------------------------------------------
    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.seq_len, self.vocab)

    @property
    def n_prunable(self) -> int:
        return sum(math.prod(s) for s in self.weight_shapes().values())

    def prunable_shapes(self) -> dict[str, tuple[int, ...]]:
        return self.weight_shapes()

    def bias_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {}
        for b in range(self.n_blocks):
            shapes[block_name(b, "up.bias")] = (self.mlp_width,)
            shapes[block_name(b, "down.bias")] = (self.d_model,)
        shapes["readout.bias"] = (self.out_features,)
        return shapes

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        w, bias = self.weight_shapes(), self.bias_shapes()
        shapes = dict(self.embedding_shapes())
        for b in range(self.n_blocks):
            for part in (*PROJECTIONS, "up"):
                shapes[block_name(b, part)] = w[block_name(b, part)]
            shapes[block_name(b, "up.bias")] = bias[block_name(b, "up.bias")]
            shapes[block_name(b, "down")] = w[block_name(b, "down")]
            shapes[block_name(b, "down.bias")] = bias[block_name(b, "down.bias")]
        shapes["readout.weight"], shapes["readout.bias"] = w["readout.weight"], bias["readout.bias"]
        return shapes

    def fan_in(self, name: str) -> int:
        if name.endswith(".o.weight"):
            return self.n_heads * self.head_dim
        if ".down." in name:
            return self.mlp_width
        return self.d_model

    def output_parameters(self) -> list[str]:
        return ["readout.weight", "readout.bias"]

    def hidden_units(self) -> list[HiddenUnits]:
        return [HiddenUnits(((block_name(b, "up"), 0), (block_name(b, "up.bias"), 0)),
                            ((block_name(b, "down"), 1),)) for b in range(self.n_blocks)]

    def forward_flops(self) -> int:
        """FLOPs of one sample's dense forward pass as ``torch.utils.flop_counter`` counts this implementation: the
        one-hot embedding product (``2 T V D``), per block the four projections and both MLP weights at every
        position (``2 T (4 D H d + 2 D F)``) and the two attention products (``2 * 2 T^2 H d``, the causal mask
        does not save any), and the read-out at the last position (``2 out D``)."""
        t, d, hd, f = self.seq_len, self.d_model, self.n_heads * self.head_dim, self.mlp_width
        block = 2 * t * (4 * d * hd + 2 * d * f) + 4 * t * t * hd
        return 2 * t * self.vocab * d + self.n_blocks * block + 2 * self.out_features * d

    def structure(self) -> Structure:
        d, hd, f, hw = self.d_model, self.n_heads * self.head_dim, self.mlp_width, self.head_dim
        groups: dict[str, int] = {"resid.0": d}
        edges: dict[str, Edges] = {}
        links: list[Edges] = []
        for b in range(self.n_blocks):
            resid, heads, mid, nxt = f"resid.{b}", f"{b}.heads", f"{b}.mid", f"resid.{b + 1}"
            for part in ("q", "k", "v"):
                groups[f"{b}.{part}"] = hd
                edges[block_name(b, part)] = dense_edges(resid, f"{b}.{part}", hd, d)
            groups.update({heads: hd, mid: d, f"{b}.hidden": f, nxt: d})
            edges[block_name(b, "o")] = dense_edges(heads, mid, d, hd)
            edges[block_name(b, "up")] = dense_edges(mid, f"{b}.hidden", f, d)
            edges[block_name(b, "down")] = dense_edges(f"{b}.hidden", nxt, d, f)
            unit = torch.arange(hd)
            links.append(Edges(f"{b}.v", heads, unit, unit))
            same_head = (unit[:, None] // hw == unit[None, :] // hw).nonzero()  # (source, target) in one head
            links += [Edges(f"{b}.{p}", heads, same_head[:, 0], same_head[:, 1]) for p in ("q", "k")]
            links += [Edges(resid, mid, torch.arange(d), torch.arange(d)), Edges(mid, nxt, torch.arange(d),
                                                                                  torch.arange(d))]
        groups["out"] = self.out_features
        edges["readout.weight"] = dense_edges(f"resid.{self.n_blocks}", "out", self.out_features, d)
        return Structure(groups, ("resid.0",), ("out",), edges, tuple(links))

    def init(self, generator: torch.Generator) -> Params:
        """Float64 parameters: He weights, ``N(0, 1)`` embeddings, depth-scaled biases (see the module docstring)."""
        state: Params = {}
        weights, bias_std = self.weight_shapes(), 1.0
        for name, shape in self.parameter_shapes().items():
            if name.startswith("embed."):
                std = 1.0
            elif name.endswith(".bias"):
                fan = self.fan_in(name.replace(".bias", ".weight"))
                bias_std *= math.sqrt(2.0 / fan)
                std = bias_std
            else:
                std = math.sqrt(2.0 / weights[name][1])
            state[name] = torch.randn(shape, generator=generator, dtype=torch.float64) * std
        return state

    def build(self, params: Params, dtype: torch.dtype = torch.float32) -> nn.Module:
        return NetworkModule(self, params, dtype)

    def forward(self, params: Params, x: torch.Tensor, mask: Params | None = None) -> torch.Tensor:
        """Outputs ``(b, out)`` for one-hot inputs ``(b, seq_len, vocab)``; masked parameters multiplied."""
        one = {n: p.unsqueeze(0) for n, p in params.items()}
        return self.forward_stacked(one, x.unsqueeze(0), None if mask is None else
                                    {n: m.unsqueeze(0) for n, m in mask.items()})[0]

    def forward_stacked(self, params: Params, x: torch.Tensor, mask: Params | None = None) -> torch.Tensor:
        """Outputs ``(K, b, out)`` of K networks (params ``(K, *shape)``, x ``(K, b, seq_len, vocab)``); a mask
        entry ``(K, *shape)`` multiplies its parameter."""
        p = params if mask is None else {n: v * mask[n].to(v.dtype) if n in mask else v for n, v in params.items()}
        k, b, t = x.shape[:3]
        h = torch.matmul(x.reshape(k, b * t, -1), p["embed.token"]).view(k, b, t, -1) + p["embed.position"][:, None]
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1)
        for blk in range(self.n_blocks):
            h = h + self._attention(p, blk, h, causal)
            w = lambda part: p[block_name(blk, part)]  # noqa: E731
            hidden = torch.relu(_linear(h, w("up")) + w("up.bias")[:, None, None])
            h = h + _linear(hidden, w("down")) + w("down.bias")[:, None, None]
        last = h[:, :, -1]  # (K, b, d)
        return torch.baddbmm(p["readout.bias"].unsqueeze(1), last, p["readout.weight"].transpose(1, 2))

    def _attention(self, p: Params, blk: int, h: torch.Tensor, causal: torch.Tensor) -> torch.Tensor:
        k, b, t, _ = h.shape
        heads = lambda part: _linear(h, p[block_name(blk, part)]).view(k, b, t, self.n_heads, self.head_dim)  # noqa
        q, key, v = heads("q"), heads("k"), heads("v")
        logits = torch.einsum("kbthd,kbshd->kbhts", q, key) / math.sqrt(self.head_dim)
        weights = torch.softmax(logits.masked_fill(causal, float("-inf")), dim=-1)
        mixed = torch.einsum("kbhts,kbshd->kbthd", weights, v).reshape(k, b, t, -1)
        return _linear(mixed, p[block_name(blk, "o")])


def _linear(h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``h W^T`` per network: ``h`` ``(K, b, t, in)``, ``w`` ``(K, out, in)`` -> ``(K, b, t, out)``."""
    k, b, t, n = h.shape
    return torch.bmm(h.reshape(k, b * t, n), w.transpose(1, 2)).view(k, b, t, -1)
