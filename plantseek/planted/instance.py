"""A planted instance: host network, hidden ticket, per-output scales, data splits and metadata.

What a pruner may see is produced by :meth:`PlantedInstance.host` (a fresh copy of the host at its initial
weights) and :meth:`PlantedInstance.pruner_data` (the training split and the loss). The ticket, the scales,
the target and the test split stay inside the instance.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from plantseek.core import seeding
from plantseek.core.errors import ConfigError, InstanceFileError
from plantseek.core.files import atomic_write
from plantseek.families.mlp.network import Mask
from plantseek.nets.interface import Network
from plantseek.planted.matching import PlantedHost
from plantseek.planted.secrets import key_fingerprint, secret_generator
from plantseek.planted.targets import TargetNetwork
from plantseek.planted.task import DataConfig, DataSplits, Split, Task, get_task

FORMAT = "plantseek-instance"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class InstanceSpec:
    """Everything that determines an instance. Same spec -> bit-identical instance."""

    task: str
    depth: int
    width: int
    seed: int
    options: dict[str, Any] = field(default_factory=dict)  # task options (noise, knots, ...)
    data: DataConfig = DataConfig()
    key_fingerprint: str = ""  # a hidden instance's key fingerprint (plantseek.planted.secrets); "" = public

    @property
    def hidden(self) -> bool:
        return bool(self.key_fingerprint)

    def as_dict(self) -> dict[str, Any]:
        d = {
            "task": self.task,
            "depth": self.depth,
            "width": self.width,
            "seed": self.seed,
            "options": dict(sorted(self.options.items())),
            "data": dataclasses.asdict(self.data),
        }
        if self.key_fingerprint:  # public specs keep their text (and their saved files) unchanged
            d["key_fingerprint"] = self.key_fingerprint
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "InstanceSpec":
        return cls(d["task"], int(d["depth"]), int(d["width"]), int(d["seed"]), dict(d.get("options", {})),
                   DataConfig(**d.get("data", {})), str(d.get("key_fingerprint", "")))

    def key(self) -> str:
        return json.dumps(self.as_dict(), sort_keys=True)


@dataclass(frozen=True)
class PrunerData:
    """What a pruner gets besides the model: the training split and the task's loss. Never the test split."""

    x: torch.Tensor
    y: torch.Tensor
    loss: Any  # callable (output, y) -> scalar tensor
    kind: str  # "regression" or "classification"

    def __len__(self) -> int:
        return self.x.shape[0]


@dataclass
class PlantedInstance:
    spec: InstanceSpec
    task: Task
    arch: Network  # an MLP Architecture or another architecture of the network protocol
    initial_state: dict[str, torch.Tensor]  # float64 host parameters (with the ticket planted)
    ticket: Mask
    scales: torch.Tensor  # float64 per output
    data: DataSplits
    target: TargetNetwork  # or the task's own target type (a conv task: ConvTarget)
    placement: list[torch.Tensor]
    neuron_scales: list[torch.Tensor]
    #: the other planted tickets of a multiple-ticket instance (each a valid ticket on its own); empty: one ticket
    other_tickets: list[Mask] = field(default_factory=list)

    @property
    def tickets(self) -> list[Mask]:
        """Every planted ticket, ``ticket`` first."""
        return [self.ticket, *self.other_tickets]

    # --- what pruners see ---------------------------------------------------------------------------------
    def host(self, dtype: torch.dtype = torch.float32) -> torch.nn.Module:
        """A fresh host network at its initial weights."""
        return self.arch.build(self.initial_state, dtype)

    def pruner_data(self, dtype: torch.dtype = torch.float32) -> PrunerData:
        """Copies of the training split (a pruner may modify them without affecting anything else)."""
        tr = self.data.train
        y = tr.y.clone() if self.task.kind == "classification" else tr.y.to(dtype, copy=True)
        return PrunerData(tr.x.to(dtype, copy=True), y, self.task.loss, self.task.kind)

    # --- metadata -----------------------------------------------------------------------------------------
    @property
    def ticket_weights_per_layer(self) -> list[int]:
        return [int(self.ticket[n].sum()) for n in self.arch.weight_names()]

    @property
    def ticket_weights(self) -> int:
        return sum(self.ticket_weights_per_layer)

    @property
    def ticket_density(self) -> float:
        return self.ticket_weights / self.arch.n_prunable

    def metadata(self) -> dict[str, Any]:
        return {
            **self.spec.as_dict(),
            "options": dataclasses.asdict(self.task.options),
            "widths": list(self.arch.widths),
            "ticket_widths": self.target.widths,
            "ticket_weights": self.ticket_weights,
            "ticket_weights_per_layer": self.ticket_weights_per_layer,
            # counting the numerically-zero weights (|w| < 1e-12) a reference implementation would keep
            "ticket_weights_reference": self.ticket_weights + self.task.target(self.spec.depth).n_dropped_weights,
            "ticket_pruned_biases_per_layer": [int((~self.ticket[n][p]).sum())
                                               for n, p in zip(self.arch.bias_shapes(), self.placement)],
            "ticket_density": self.ticket_density,
            "metric_name": self.task.metric_name,
            "output_scales": self.scales.tolist(),
        }

    # --- persistence --------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        split = lambda s: {"x": s.x, "y": s.y}  # noqa: E731
        blob = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "spec": json.dumps(self.spec.as_dict()),
            "state": self.initial_state,
            "ticket": self.ticket,
            "scales": self.scales,
            "placement": self.placement,
            "neuron_scales": self.neuron_scales,
            "data": {"train": split(self.data.train), "val": split(self.data.val), "test": split(self.data.test)},
            **({"other_tickets": self.other_tickets} if self.other_tickets else {}),
            "target": {"weights": [torch.from_numpy(w) for w in self.target.weights],
                       "biases": [torch.from_numpy(b) for b in self.target.biases],
                       "description": self.target.description},
        }
        atomic_write(path, lambda tmp: _save(blob, tmp))

    @classmethod
    def load(cls, path: str | Path) -> "PlantedInstance":
        path = Path(path)
        check_instance_file(path)
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many kinds for corrupt files
            raise InstanceFileError(f"{path}: not a readable plantseek instance file ({type(exc).__name__})") from None
        if not isinstance(blob, dict) or blob.get("format") != FORMAT:
            raise InstanceFileError(f"{path}: not a plantseek instance file (no '{FORMAT}' header)")
        if blob.get("version") != FORMAT_VERSION:
            raise InstanceFileError(f"{path}: instance format version {blob.get('version')!r} is not supported")
        try:
            spec = InstanceSpec.from_dict(json.loads(blob["spec"]))
            task = get_task(spec.task, **spec.options)
            arch = task.host_architecture(spec.depth, spec.width)
            sp = lambda d: Split(d["x"], d["y"])  # noqa: E731
            data = DataSplits(sp(blob["data"]["train"]), sp(blob["data"]["val"]), sp(blob["data"]["test"]))
            tg = blob["target"]
            target = task.saved_target(tg, spec.depth)
            inst = cls(spec, task, arch, blob["state"], blob["ticket"], blob["scales"], data, target,
                       list(blob["placement"]), list(blob["neuron_scales"]), list(blob.get("other_tickets", [])))
            for name, shape in {**arch.weight_shapes(), **arch.bias_shapes()}.items():
                if tuple(inst.initial_state[name].shape) != shape or any(tuple(t[name].shape) != shape
                                                                         for t in inst.tickets):
                    raise ValueError(f"{name} has the wrong shape")
        except InstanceFileError:
            raise
        except Exception as exc:
            raise InstanceFileError(f"{path}: corrupt plantseek instance file ({type(exc).__name__}: {exc})") from None
        return inst


def plant(task: str, *, depth: int, width: int, seed: int, data: DataConfig | None = None,
          key: bytes | None = None, **task_options: Any) -> PlantedInstance:
    """Build the seeded planted instance of ``task`` in a host of ``depth`` layers (input and output counted)
    and hidden ``width``. Task options (``noise``, ``knots``, ...) are passed as keywords.

    With ``key`` (bytes, see :mod:`plantseek.planted.secrets`) the instance is *hidden*: its host, planting and
    data streams derive from HMAC(key, spec) instead of the seed, so only a holder of the key can re-plant it."""
    t = get_task(task, **task_options)
    t.check_depth(depth)
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ConfigError(f"width must be a positive integer, got {width!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    data_config = data or DataConfig()
    spec = InstanceSpec(task, depth, width, seed, dict(task_options), data_config)
    arch = t.host_architecture(depth, width)
    streams = _public_streams(spec)
    if key is not None:
        if not isinstance(key, bytes) or len(key) < 16:
            raise ConfigError("a hidden instance's key must be at least 16 bytes")
        streams = _secret_streams(spec, key)
        spec = dataclasses.replace(spec, key_fingerprint=key_fingerprint(key))
    target = t.target(depth)
    host = arch.init(streams("host", *arch.widths))
    planted: PlantedHost = t.plant_into(target, arch, host, streams("plant", task, depth, width))
    splits = t.make_data(data_config, streams("data", task))
    return PlantedInstance(spec, t, arch, planted.state, planted.ticket, planted.scales, splits, planted.target,
                           planted.placement, planted.neuron_scales, planted.tickets[1:])


def _public_streams(spec: InstanceSpec):
    """The public random streams: named streams of the seed alone (anyone can re-plant)."""
    return lambda *names: seeding.generator(spec.seed, *names)


def _secret_streams(spec: InstanceSpec, key: bytes):
    """The hidden random streams: HMAC(key, public spec, stream name) (only the key's holder can re-plant)."""
    text = spec.key()
    return lambda *names: secret_generator(key, text, *names)


def load_instance(path: str | Path) -> PlantedInstance:
    """A planted instance saved with :meth:`PlantedInstance.save` (bit-identical round trip)."""
    return PlantedInstance.load(path)


def check_instance_file(path: str | Path) -> None:
    """Without loading it: ``path`` is a file in the archive format ``torch.save`` writes (a zip), or
    InstanceFileError says what it is not (``plant --load`` checks this before any work)."""
    path = Path(path)
    if not path.is_file():
        raise InstanceFileError(f"{path}: no such instance file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as exc:
        raise InstanceFileError(f"{path}: cannot read the instance file ({exc.strerror or exc})") from None
    if head != b"PK\x03\x04":
        raise InstanceFileError(f"{path}: not a readable plantseek instance file (not a torch archive)")


def _save(blob: dict, path: Path) -> None:
    """``torch.save`` through a Python file, so that a failed write (a full disk) is the OSError it is, not the
    RuntimeError torch raises when it writes a path itself."""
    with open(path, "wb") as fh:
        torch.save(blob, fh)
