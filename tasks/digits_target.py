"""The digits target: a small CNN trained on scikit-learn's 8 x 8 digits, pruned to density 0.01, trained as a ticket.

The CPU-sized analogue of the paper's fourth experiment (a 1 %-density SynFlow VGG16 CIFAR-10 ticket planted back
into VGG16). Everything runs through plantseek's own code path, in float32 on the CPU with one thread:

* **data**: ``sklearn.datasets.load_digits`` (1,797 grey 8 x 8 images that ship inside scikit-learn; no download),
  pixels divided by 16 (so in [0, 1]); a fixed split: a permutation drawn from ``SPLIT_SEED`` puts ``N_TEST`` (360,
  20 %) images in the test split and the other 1,437 in the training split;
* **network**: :class:`plantseek.families.conv.network.ConvArchitecture`
  with three 3 x 3 convolutions (zero padding 1) of
  ``TARGET_CHANNELS`` = 32, 64, 128 channels, 2 x 2 max pooling after the first two (8 -> 4 -> 2), a linear head
  on the 128 x 2 x 2 map; depth 5 (input, three conv layers, output), 97,568 prunable weights; He initialisation
  from ``TARGET_SEED``;
* **pruning**: the registered pruner ``PRUNER`` (``synflow-multishot``, the paper's choice for its VGG ticket: ten
  rounds of {train 5 epochs; SynFlow scores of the trained network; prune to ``0.01**(r/10)``; rewind}) to
  ``DENSITY`` = 0.01 of the prunable weights (976 weights; biases are not pruned);
* **weak ticket**: the masked network trained from its initial weights for ``TRAIN.epochs`` epochs (Adam, lr 1e-3,
  batch 32; :func:`plantseek.train.loop.train_model`); its nonzero weights are the ticket.

The dense network trained the same way gives the dense reference accuracy. The result is stored sparsely (flat
indices and float32 values of the kept weights, dense float32 biases) in an uncompressed ``.npz`` written with
fixed zip timestamps, so that the same inputs give the same bytes, and beside it a JSON of its provenance (pruner,
densities, seeds, accuracies, sha256 of the ``.npz``). ``python -m plantseek.tasks.digits_target --out PATH``
regenerates both (``PATH`` and ``PATH`` with suffix ``.json``); the shipped pair is ``tasks/data/digits_target.*``.
Bit-identical regeneration holds on one platform (same torch build and CPU kind): the sha256 tells.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import json
import math
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch

from plantseek.core import seeding
from plantseek.core.files import atomic_write_bytes, atomic_write_text
from plantseek.families.conv.network import ConvArchitecture, ConvLayer
from plantseek.families.mlp.network import bias_name, weight_name
from plantseek.families.conv.planting import ConvTarget
from plantseek.train.config import TrainConfig

TARGET_CHANNELS = (32, 64, 128)
TARGET_POOLS = (2, 2, 1)
IMAGE_SIZE, N_CLASSES, N_TEST = 8, 10, 360
SPLIT_SEED, TARGET_SEED = 0, 0
PRUNER, DENSITY = "synflow-multishot", 0.01
TRAIN = TrainConfig(epochs=30)  # weak training of the ticket (and of the dense reference)
BUDGET = TrainConfig()  # the pruner's budget (synflow-multishot trains 5 epochs per round with its optimiser)
TARGET_FILE = Path(__file__).resolve().parent / "data" / "digits_target.npz"
COMMAND = "python -m plantseek.tasks.digits_target --out PATH"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def geometry(channels: tuple[int, ...]) -> ConvArchitecture:
    """The digits CNN with ``channels`` per conv layer (the target's: ``TARGET_CHANNELS``)."""
    convs = tuple(ConvLayer(c, 3, 1, 1, p) for c, p in zip(channels, TARGET_POOLS, strict=True))
    return ConvArchitecture(1, IMAGE_SIZE, convs, N_CLASSES, "max")


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits  # imported on use: scikit-learn takes a second to import

    d = load_digits()
    x = torch.from_numpy(np.asarray(d.images, dtype=np.float64) / 16.0).unsqueeze(1)
    return x, torch.from_numpy(np.asarray(d.target, dtype=np.int64))


def digits_split() -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """``(train, test)``, each ``(x, y)``: float64 images ``(n, 1, 8, 8)`` in [0, 1] and int64 labels; the fixed
    split of the module docstring (copies: callers may modify them)."""
    x, y = _digits()
    perm = torch.randperm(x.shape[0], generator=seeding.generator(SPLIT_SEED, "digits", "split"))
    test, train = perm[:N_TEST], perm[N_TEST:]
    return (x[train].clone(), y[train].clone()), (x[test].clone(), y[test].clone())


def accuracy(arch: ConvArchitecture, params: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> float:
    """Test accuracy of ``params`` evaluated in float64."""
    with torch.no_grad():
        out = arch.forward({n: p.double() for n, p in params.items()}, x.double())
    return float((out.argmax(dim=-1) == y).double().mean())


def train_target() -> tuple[dict[str, torch.Tensor], dict]:
    """Train, prune and re-train the target (see the module docstring): its float32 parameters (pruned weights
    exactly zero) and its provenance."""
    from plantseek.planted.instance import PrunerData
    from plantseek.prune.contract import get_pruner
    from plantseek.nets.masks import validate_pruned_mask
    from plantseek.train.loop import train_model

    (x, y), (x_test, y_test) = digits_split()
    x = x.float()
    arch = geometry(TARGET_CHANNELS)
    init = arch.init(seeding.generator(TARGET_SEED, "digits-target", "init"))
    loss = torch.nn.functional.cross_entropy
    stream = lambda name: seeding.generator(TARGET_SEED, "digits-target", name)  # noqa: E731
    dense = train_model(arch.build(init), None, x, y, loss, TRAIN, stream("dense"))
    data = PrunerData(x.clone(), y.clone(), loss, "classification")
    mask = get_pruner(PRUNER).prune(arch.build(init), data, DENSITY, generator=stream("prune"), budget=BUDGET)
    mask = validate_pruned_mask(mask, arch, DENSITY)
    ticket = train_model(arch.build(init), mask, x, y, loss, TRAIN, stream("train"))
    params = {n: p.detach().clone() for n, p in ticket.named_parameters()}
    params = {n: params[n] for n in arch.parameter_shapes()}
    dense_params = {n: p.detach() for n, p in dense.named_parameters()}
    facts = {
        "test_accuracy": accuracy(arch, params, x_test, y_test),
        "dense_test_accuracy": accuracy(arch, dense_params, x_test, y_test),
        "kept_weights_per_layer": [int((params[n] != 0).sum()) for n in arch.weight_names()],
    }
    return params, facts


def encode(params: dict[str, torch.Tensor]) -> bytes:
    """The sparse ``.npz`` bytes of float32 ``params`` (module docstring): deterministic for equal inputs."""
    arrays: dict[str, np.ndarray] = {}
    for name, p in params.items():
        a = p.detach().to(torch.float32).numpy()
        if name.endswith(".weight"):
            flat = a.reshape(-1)
            index = np.flatnonzero(flat).astype(np.int64)
            arrays[f"{name}.shape"] = np.asarray(a.shape, dtype=np.int64)
            arrays[f"{name}.index"], arrays[f"{name}.value"] = index, flat[index]
        else:
            arrays[name] = a
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for key, a in arrays.items():
            entry = io.BytesIO()
            np.lib.format.write_array(entry, np.ascontiguousarray(a), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_TIME), entry.getvalue())
    return buffer.getvalue()


def decode(path: str | Path) -> dict[str, torch.Tensor]:
    """The float64 parameters stored by :func:`encode` in ``path``."""
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    params = {}
    for l in range(len(TARGET_CHANNELS) + 1):
        w = weight_name(l)
        dense = np.zeros(math.prod(arrays[f"{w}.shape"]), dtype=np.float64)
        dense[arrays[f"{w}.index"]] = arrays[f"{w}.value"].astype(np.float64)
        params[w] = torch.from_numpy(dense.reshape(tuple(arrays[f"{w}.shape"])))
        params[bias_name(l)] = torch.from_numpy(arrays[bias_name(l)].astype(np.float64))
    return params


def load_target(path: str | Path = TARGET_FILE) -> ConvTarget:
    """The stored target as a :class:`ConvTarget` (float64)."""
    return ConvTarget(geometry(TARGET_CHANNELS), decode(path),
                      f"digits target: {PRUNER} to density {DENSITY}, weak ticket of {TRAIN.epochs} epochs")


def provenance(facts: dict, blob: bytes) -> dict:
    """The JSON record of a regenerated target."""
    import sklearn

    arch = geometry(TARGET_CHANNELS)
    return {
        "file_sha256": hashlib.sha256(blob).hexdigest(),
        "command": COMMAND,
        "data": {"source": "sklearn.datasets.load_digits", "pixels": "value / 16", "split_seed": SPLIT_SEED,
                 "n_train": 1797 - N_TEST, "n_test": N_TEST},
        "architecture": {"channels": list(TARGET_CHANNELS), "kernel": 3, "padding": 1, "pools": list(TARGET_POOLS),
                         "pooling": "max", "image_size": IMAGE_SIZE, "classes": N_CLASSES},
        "init_seed": TARGET_SEED,
        "pruner": PRUNER, "pruner_budget": {"optimizer": BUDGET.optimizer, "lr": BUDGET.lr,
                                             "batch_size": BUDGET.batch_size, "epochs_per_round": 5, "rounds": 10},
        "density": DENSITY, "prunable_weights": arch.n_prunable, "kept_weights": sum(facts["kept_weights_per_layer"]),
        "weak_training": {"epochs": TRAIN.epochs, "optimizer": TRAIN.optimizer, "lr": TRAIN.lr,
                          "batch_size": TRAIN.batch_size},
        **facts,
        "versions": {"torch": torch.__version__, "numpy": np.__version__, "scikit-learn": sklearn.__version__},
    }


def regenerate(out: str | Path) -> dict:
    """Train the target and write ``out`` (the ``.npz``) and its provenance ``out.with_suffix('.json')``."""
    torch.set_num_threads(1)  # one thread: the same reduction order on every machine of one platform
    params, facts = train_target()
    blob = encode(params)
    record = provenance(facts, blob)
    out = Path(out)
    atomic_write_bytes(out, blob)
    atomic_write_text(out.with_suffix(".json"), json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plantseek.tasks.digits_target",
                                     description="Regenerate the digits task's trained sparse target.")
    parser.add_argument("--out", required=True, help="path of the .npz to write (its provenance: same name, .json)")
    record = regenerate(parser.parse_args(argv).out)
    print(f"test accuracy {record['test_accuracy']:.4f} (dense {record['dense_test_accuracy']:.4f}), "
          f"{record['kept_weights']} of {record['prunable_weights']} weights, sha256 {record['file_sha256']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
