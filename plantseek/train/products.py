"""The matrix products of the batched engine: batched, or network by network where the batched kernel would round
differently from the per-network kernel (probed per shape, cached per process)."""

from __future__ import annotations

import torch


def _fwd_bmm(bias: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return torch.baddbmm(bias.unsqueeze(1), h, w.transpose(1, 2))


def _fwd_bmm_t(bias: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    # (W h^T + b)^T: the layout the single-matrix kernel uses for a layer with one output
    return torch.baddbmm(bias.unsqueeze(2), w, h.transpose(1, 2)).transpose(1, 2)


def _fwd_outer(bias: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    # a layer with one input is an outer product plus bias: one multiply-add per entry
    if h.shape[2] != 1:
        return None
    return torch.addcmul(bias.unsqueeze(1), h, w.transpose(1, 2))


def _fwd_loop(bias: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    out = torch.empty(h.shape[0], h.shape[1], w.shape[1], dtype=h.dtype, device=h.device)
    for k in range(h.shape[0]):  # exactly F.linear's addmm, per network
        torch.addmm(bias[k], h[k], w[k].t(), out=out[k])
    return out


def _gw_bmm(g: torch.Tensor, h: torch.Tensor, out: torch.Tensor) -> None:
    torch.bmm(g.transpose(1, 2), h, out=out)


def _gw_bmm_t(g: torch.Tensor, h: torch.Tensor, out: torch.Tensor) -> None:
    out.copy_(torch.bmm(h.transpose(1, 2), g).transpose(1, 2))


def _gw_loop(g: torch.Tensor, h: torch.Tensor, out: torch.Tensor) -> None:
    for k in range(g.shape[0]):  # autograd's weight gradient of F.linear: grad_output^T @ input
        torch.mm(g[k].t(), h[k], out=out[k])


def _gh_bmm(g: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return torch.bmm(g, w)


def _gh_loop(g: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    out = torch.empty(g.shape[0], g.shape[1], w.shape[2], dtype=g.dtype, device=g.device)
    for k in range(g.shape[0]):
        torch.mm(g[k], w[k], out=out[k])
    return out


# per product kind: batched candidates in order of preference, then the per-network loop
PRODUCTS = {
    "fwd": ((_fwd_bmm, _fwd_bmm_t, _fwd_outer), _fwd_loop),
    "gw": ((_gw_bmm, _gw_bmm_t), _gw_loop),
    "gh": ((_gh_bmm,), _gh_loop),
}
_CALIBRATION: dict[tuple, int] = {}


def _run_product(kind: str, fn, h, w, bias, g):
    if kind == "fwd":
        return fn(bias, h, w)
    if kind == "gw":
        out = torch.empty_like(w)
        fn(g, h, out)
        return out
    return fn(g, w)


def product_plan(kind: str, k: int, b: int, n_in: int, n_out: int, dtype: torch.dtype, device: torch.device,
                 exact: bool = True):
    """The function computing one product of a layer (``kind``: "fwd" output, "gw" weight gradient, "gh" input
    gradient) for K networks with batches of ``b``.

    With ``exact``, the first batched candidate that gives bit for bit what the per-network kernel gives on
    random data of these shapes (three probes, cached per process), else the per-network loop. On x86 with MKL
    the plain batched product agrees for ordinary shapes but not for degenerate ones (a layer with one input
    or one output, a batch of one), where the single-matrix kernel takes a gemv or fused multiply-add path.
    Such rounding differences are tiny, but training is chaotic enough to blow them up beyond 1e-5 within a
    run; matching the kernels keeps the batched engine on the per-network trajectory.
    """
    candidates, loop = PRODUCTS[kind]
    if not exact:
        return candidates[0]
    key = (kind, k, b, n_in, n_out, dtype, device.type, torch.get_num_threads())
    if key not in _CALIBRATION:
        gen = torch.Generator().manual_seed(20240611)
        probes = []
        for _ in range(3):
            h, w, bias, g = (torch.randn(*shape, generator=gen, dtype=dtype).to(device)
                             for shape in ((k, b, n_in), (k, n_out, n_in), (k, n_out), (k, b, n_out)))
            probes.append(((h, w, bias, g), _run_product(kind, loop, h, w, bias, g)))
        choice = -1
        for i, fn in enumerate(candidates):
            try:
                if all(torch.equal(_run_product(kind, fn, *args), want) for args, want in probes):
                    choice = i
                    break
            except (TypeError, AttributeError):  # candidate not applicable to these shapes
                continue
        _CALIBRATION[key] = choice
    choice = _CALIBRATION[key]
    return loop if choice < 0 else candidates[choice]
