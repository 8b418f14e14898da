"""Transfer of stored masks between the ``transfer`` task's heads (``python -m plantseek.perf.transfer --store PATH``):
every stored ``transfer`` cell's mask (found on its own head's data) is scored on the other head's instance of the same
seed, depth, width and options (:mod:`plantseek.score.transfer`), and weakly trained there with the cell's own training
configuration, training protocol and data-order stream (``seed, "train"``). Everything comes from the store the
harness wrote (the packed masks it recorded) and from re-planting: no file a pruner could shape is read.

Prints one markdown row per (pruner, density): the mask's own metrics on its head (from the store) and, on the other
head, the shared-trunk recall, the other head's recall, the strong and the weak metric (means ± standard deviations
over seeds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from typing import Any

import torch

from plantseek.core import seeding
from plantseek.core.errors import PlantseekError
from plantseek.nets.masks import prunable_parameter_shapes, unpack_mask
from plantseek.planted.instance import plant
from plantseek.planted.task import DataConfig
from plantseek.score.evaluation import model_metric
from plantseek.score.transfer import transfer_scores
from plantseek.store.results import load_results
from plantseek.train.config import TrainConfig
from plantseek.train.loop import train_masks
from plantseek.train.training_protocols import TRAINING_PROTOCOLS

OTHER = {"a": "b", "b": "a"}


def transfer_row(row: Any) -> dict[str, Any]:
    """The transfer scores of one stored cell (a row of ``load_results(include_masks=True)``)."""
    config = json.loads(row["config_json"])
    options = dict(config["task_options"])
    options["head"] = OTHER[options.get("head", "a")]
    b = plant("transfer", depth=config["depth"], width=config["width"], seed=config["seed"],
              data=DataConfig(n_samples=config["n_samples"]), **options)
    train = TrainConfig(**config["train"])
    mask = unpack_mask(bytes(row["mask"]), prunable_parameter_shapes(b.arch, train.prunable_biases))
    scores = transfer_scores(mask, b, b.task.shared_layers(config["depth"]))
    tr = b.data.train
    start = TRAINING_PROTOCOLS.get(config["training_protocol"])(b.initial_state, mask, tr.x, tr.y, b.task.kind, b.arch)
    model = train_masks(b.arch, start, [mask], tr.x, tr.y, b.task.loss, train,
                        [seeding.generator(config["seed"], "train")])[0]
    return {**scores, "weak_b": model_metric(b, model, mask)}


def _stat(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.4g}"
    return f"{statistics.fmean(values):.4g} ± {statistics.stdev(values):.2g}"


def summary(rows: list[tuple[Any, dict[str, Any]]]) -> str:
    """One markdown row per (pruner, density spec), in store order."""
    groups: dict[tuple[str, str], list[tuple[Any, dict[str, Any]]]] = {}
    for row, scores in rows:
        groups.setdefault((row["pruner"], row["density_spec"]), []).append((row, scores))
    lines = ["| pruner | density | seeds | own recall | own weak | shared recall on B | head recall on B | "
             "strong on B | weak on B |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for (pruner, density), members in groups.items():
        col = lambda key: _stat([s[key] for _, s in members])  # noqa: E731
        own = lambda key: _stat([float(r[key]) for r, _ in members])  # noqa: E731
        lines.append(f"| {pruner} | {density} | {len(members)} | {own('recall')} | {own('weak_metric')} | "
                     f"{col('shared_recall')} | {col('head_recall')} | {col('strong_b')} | {col('weak_b')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plantseek.perf.transfer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True, help="the results store holding transfer cells")
    args = parser.parse_args(argv)
    try:
        df = load_results(args.store, include_masks=True)
    except (PlantseekError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    df = df[(df["task"] == "transfer") & (df["status"] == "ok") & df["mask"].notna()]
    if df.empty:
        print(f"error: the store {args.store} holds no finished transfer cell", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    rows = [(row, transfer_row(row)) for _, row in df.iterrows()]
    print(summary(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
