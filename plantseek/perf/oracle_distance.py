"""How far each post-training method's support is from the optimum of its own objective
(``python -m plantseek.perf.oracle_distance --store PATH``): for every stored ok post-training cell on an MLP host
(``calibration_size > 0``), the cell's group is re-planted, its dense host re-trained exactly as the harness trained
it (:func:`plantseek.run.posttraining.train_dense`: the same seeded stream, so the same network the pruner saw), its
calibration set re-drawn (:func:`plantseek.prune.posttraining.calibration_indices`), and every weight layer's
layer-wise reconstruction error compared with the exact per-layer oracle's at the same per-row kept counts
(:func:`plantseek.score.layer_oracle.reconstruction_metrics`, the dense network's activations as each layer's inputs).

The method's support is scored with its best weights (a least-squares fit per row on the kept support, as the oracle
scores its own): the distance measures the *choice of weights to keep*, whatever update the method made (SparseGPT's
updated weights are not stored). Errors are relative to each layer's dense output energy, summed over layers.

The oracle runs under a wall-clock limit per layer, so an uncertified layer's numbers depend on the machine: this is
an analysis of a store, printed and documented with its command, never a cell's stored number. Everything comes from
the store the harness wrote (its packed masks) and from re-planting: no file a pruner could shape is read.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from typing import Any

import numpy as np
import torch

from plantseek.core.errors import PlantseekError
from plantseek.nets.masks import unpack_mask
from plantseek.prune.posttraining import calibration_indices
from plantseek.records.cells import CellConfig
from plantseek.run.group import Planted, instance_for
from plantseek.run.posttraining import train_dense, trained_state
from plantseek.score.layer_oracle import reconstruction_metrics
from plantseek.store.results import load_results


def support_fit(W: np.ndarray, X: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Each row of ``W`` refitted by least squares on its kept support (``M``) to reproduce ``X @ W.T``."""
    out = np.zeros_like(W)
    target = X @ W.T
    for j in range(W.shape[0]):
        cols = np.flatnonzero(M[j])
        if cols.size:
            out[j, cols] = np.linalg.lstsq(X[:, cols], target[:, j], rcond=None)[0]
    return out


def stored_mask(blob: bytes, weights: dict[str, tuple[int, ...]], biases: dict[str, tuple[int, ...]]
                ) -> dict[str, torch.Tensor]:
    """A stored packed mask: weights and biases when the blob holds both (the paper protocol's cells), else weights."""
    with_biases = {**weights, **biases}
    if len(blob) == (sum(int(np.prod(s)) for s in with_biases.values()) + 7) // 8:
        return unpack_mask(blob, with_biases)
    return unpack_mask(blob, weights)


def group_distances(cells: list[tuple[CellConfig, bytes]], time_limit: float) -> list[dict[str, Any]]:
    """The oracle distance of every cell of one post-training group (one instance and one dense training)."""
    first = cells[0][0]
    instance = instance_for(first)
    dense, _ = train_dense(Planted((first,), instance, float("nan"), float("nan"), {}))
    state = {n: v.detach().to(torch.float64).numpy() for n, v in trained_state(dense).items()}
    shapes = instance.arch.weight_shapes()
    names = list(shapes)
    weights = [state[n] for n in names]
    biases = [state[n[: -len(".weight")] + ".bias"] for n in names]
    train_x = instance.data.train.x
    out = []
    for config, blob in cells:
        idx = calibration_indices(config.seed, config.calibration_seed, config.calibration_size, len(train_x))
        x = train_x[idx].to(torch.float64).numpy()
        inputs = [x]
        for l, (w, b) in enumerate(zip(weights[:-1], biases[:-1])):
            inputs.append(np.maximum(inputs[-1] @ w.T + b, 0.0))
        mask = stored_mask(blob, shapes, instance.arch.bias_shapes())
        masks = [mask[n].numpy().astype(bool) for n in names]
        refit = [support_fit(w, xi, m) for w, xi, m in zip(weights, inputs, masks)]
        metrics = reconstruction_metrics(weights, biases, masks, x, refit, time_limit=time_limit)
        layers = len(names)
        certified = sum(metrics[f"oracle_certified_l{l}"] for l in range(layers)) / layers
        out.append({"task": config.task, "density": config.density, "pruner": config.display_pruner,
                    "method_error": metrics["recon_error"], "oracle_error": metrics["oracle_error"],
                    "excess": metrics["recon_excess"], "certified": certified})
    return out


def distances(store: str, time_limit: float, max_width: int) -> list[dict[str, Any]]:
    df = load_results(store, include_masks=True)
    groups: dict[tuple, list[tuple[CellConfig, bytes]]] = {}
    for _, row in df[df["status"].eq("ok")].iterrows():
        config = CellConfig.from_dict(json.loads(row["config_json"]))
        if not config.calibration_size or config.width > max_width or row["mask"] is None:
            continue
        if str(row.get("family", "MLP")).lower() != "mlp":  # the oracle reads MLP layers
            continue
        groups.setdefault((*config.instance_key, config.train, config.training_protocol), []).append(
            (config, row["mask"]))
    return [d for cells in groups.values() for d in group_distances(cells, time_limit)]


def table(rows: list[dict[str, Any]]) -> str:
    """One markdown row per (task, density, pruner): means over cells of the relative errors and the certified share."""
    keyed: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        keyed.setdefault((r["task"], r["density"], r["pruner"]), []).append(r)
    lines = ["| task | density | pruner | cells | method error | oracle error | excess | layers certified |",
             "|---|---|---|---|---|---|---|---|"]
    for (task, density, pruner), rs in sorted(keyed.items()):
        def mean(k: str) -> float:
            return statistics.fmean(r[k] for r in rs)
        lines.append(f"| {task} | {density} | {pruner} | {len(rs)} | {mean('method_error'):.4g} | "
                     f"{mean('oracle_error'):.4g} | {mean('excess'):.4g} | {mean('certified'):.0%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plantseek.perf.oracle_distance", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--store", required=True, help="a results store with post-training cells")
    parser.add_argument("--time-limit", type=float, default=10.0, help="oracle seconds per layer (default 10)")
    parser.add_argument("--max-width", type=int, default=32, help="skip hosts wider than this (default 32)")
    args = parser.parse_args(argv)
    try:
        rows = distances(args.store, args.time_limit, args.max_width)
    except PlantseekError as exc:
        print(f"plantseek.perf.oracle_distance: {exc}", file=sys.stderr)
        return 2
    if not rows:
        print("no ok post-training cells on an MLP host of at most --max-width in this store", file=sys.stderr)
        return 2
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
