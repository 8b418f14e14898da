"""What one cell of a grid is (its configuration) and what running it produced (its result).

The harness makes these, the results store persists them, the leaderboard and plots read them back as a
DataFrame (``plantseek.store.results.load_results``) with one row per cell and the columns listed in ``COLUMNS``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plantseek.core.errors import ConfigError
from plantseek.core.reasons import sanitise_reason
from plantseek.train.config import DEFAULT_TRAINING_PROTOCOL, TrainConfig
from plantseek.train.engine import FIRST_ENGINE, active_engine, cell_engine

# Bump when a code change alters the results of an unchanged configuration, so that results stored before it
# get new cell ids (and are recomputed) instead of being taken for current ones.
# 2: weak training and pruners' training use torch's fused Adam kernel by default (was: single-tensor Adam).
# 3: strong metrics through a readout fitted per mask on the training split (was: the planted output scales,
#    now kept as metrics["strong_metric_planted_scales"]).
# 4: hosts keep the paper's bias initialisation in every layer (no zeroed biases; tickets shift or prune biases).
# 5: under the calibrated protocol a collapsed network (constant output) starts weak training as the constant
#    predictor (output weights 0, output bias = the targets' mean) instead of through a factor mean / constant that
#    reached 3.5e16 for a rounding-residue output (weak MSE 1.8e16 on the smoke grid).
NUMERICS = 5
# Per task, bumped when a change alters the results of that task's cells only (its instances): part of the identity
# of those cells alone, so that other tasks' cell ids stay as they are.
# bars 2: the bars ticket's planting factors are drawn from the host layer's |w| (was: least squares per channel).
# bars 3, circle 2, relu 2, helix 2, digits 2: host-matched planting factors (plantseek.planted.factors: every planted
#   weight and bias matches a draw of its host layer's own magnitudes; was: least squares per host neuron, bars: one
#   drawn magnitude per channel); bars' line detectors weigh 0.6 .. 1.4 along the bar (was: all 1); Circle's logits
#   all lose sqrt(200) R, which keeps the class and mixes the readout's signs (was: every readout weight positive).
TASK_NUMERICS = {"bars": 3, "circle": 2, "relu": 2, "helix": 2, "digits": 2}
# The training engine's version (plantseek.train.engine): part of every cell's identity (left out of the hash for
# the first engine, whose cells were stored before the version existed), stored per cell (``engine`` column).

INSTANCE_KINDS = ("public", "hidden")
#: A cell's status: ``ok``; ``failed`` (no metrics: the pruner or the instance failed); ``diverged`` (scored, but a
#: metric is non-finite or far beyond the constant predictor's, plantseek.score.divergence: kept out of means).
#: A re-run skips ``ok`` and ``diverged`` cells (both are deterministic results) and retries ``failed`` ones.
STATUSES = ("ok", "failed", "diverged")
DONE_STATUSES = ("ok", "diverged")


@dataclass(frozen=True)
class CellConfig:
    """Everything that determines a cell's result. ``cell_id`` hashes all of it (fields at their defaults
    are left out of the hash, also inside the training configurations, so adding a field with a default never
    orphans stored results), together with ``NUMERICS``."""

    task: str
    depth: int
    width: int
    seed: int  # instance seed; the pruner's and trainer's generators derive from it
    pruner: str  # registered name, or "path/to/file.py:Class"
    density: str  # "ticket" or a canonical decimal such as "0.01"
    task_options: tuple[tuple[str, Any], ...] = ()  # sorted (name, value) pairs, e.g. (("noise", 0.01),)
    train: TrainConfig = TrainConfig()  # weak training after pruning
    budget: TrainConfig = TrainConfig()  # the pruner's training allowance
    pruner_code: str = ""  # sha256 of a pruner file (file refs only), so an edited file is re-run
    n_samples: int = 10_000
    ablation: str = ""  # "" or a sanity ablation of the pruner's mask: "shuffled" or "reinit" (plantseek.run.ablations)
    training_protocol: str = DEFAULT_TRAINING_PROTOCOL  # where weak training starts: "calibrated" or "paper"
    instances: str = field(default="public", metadata={  # hidden: planted from a secret key, see below
        "help": "public (planted from the seed) or hidden (from the leaderboard key; see keygen)",
        "choices": INSTANCE_KINDS})
    key_fingerprint: str = ""  # a hidden instance's key fingerprint (plantseek.planted.secrets), never the key
    #: The name a submitted pruner declares (its ``name`` attribute), shown and stored instead of its file reference
    #: ``pruner``. Not part of ``cell_id``: the name comes from the file, whose code ``pruner_code`` already hashes.
    pruner_name: str = ""
    #: Post-training cells (``> 0``; plantseek.prune.posttraining): the dense host is trained first (the cell's
    #: weak training), the pruner gets the trained network and ``calibration_size`` training samples drawn with
    #: ``calibration_seed``, and the masked network is scored without retraining. 0: every other protocol.
    calibration_size: int = 0
    calibration_seed: int = 0  # which calibration draw (post-training cells only)

    @property
    def post_training(self) -> bool:
        """Whether this is a post-training cell (``calibration_size > 0``)."""
        return self.calibration_size > 0

    def __post_init__(self) -> None:
        for name in ("calibration_size", "calibration_seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be an integer >= 0, got {value!r}")
        if self.calibration_seed and not self.calibration_size:
            raise ConfigError("calibration_seed needs a post-training cell (calibration_size > 0)")
        if self.calibration_size and self.ablation:
            raise ConfigError("a post-training cell (calibration_size > 0) takes no sanity ablation")
        if self.instances not in INSTANCE_KINDS:
            raise ConfigError(f"instances must be one of {', '.join(INSTANCE_KINDS)}, got {self.instances!r}")
        if (self.instances == "hidden") != bool(self.key_fingerprint):
            raise ConfigError("a hidden cell needs its key's fingerprint, and only a hidden cell has one")

    @property
    def display_pruner(self) -> str:
        """The pruner as the leaderboard names it: its declared name, else the registered name (or file ref)."""
        return self.pruner_name or self.pruner

    @property
    def label(self) -> str:
        """How the cell's method is shown: the pruner, with its ablation in brackets."""
        return f"{self.display_pruner} [{self.ablation}]" if self.ablation else self.display_pruner

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "CellConfig":
        """The configuration :meth:`as_dict` (``config_json`` of the store) describes; ValueError if it cannot."""
        if not isinstance(d, dict):
            raise ValueError(f"a configuration must be a JSON object, got {type(d).__name__}")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - fields)
        if unknown:
            raise ValueError(f"unknown configuration field(s) {', '.join(unknown)}")
        try:
            kw = dict(d)
            kw["task_options"] = tuple(sorted(dict(kw.get("task_options") or {}).items()))
            for name in ("train", "budget"):
                if name in kw:
                    kw[name] = TrainConfig(**kw[name])
            return cls(**kw)
        except (TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"malformed configuration ({exc})") from None

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["task_options"] = dict(self.task_options)
        return d

    def published(self) -> "CellConfig":
        """The configuration as stored and hashed: a submitted file's reference reduced to its file name and class
        (:func:`published_pruner_ref`), so that no local folder (a user name, a home folder) is ever stored,
        hashed or published; the file's code hash ``pruner_code`` identifies it."""
        ref = published_pruner_ref(self.pruner)
        return self if ref == self.pruner else dataclasses.replace(self, pruner=ref)

    def identity(self, engine: int | None = None) -> dict[str, Any]:
        """The fields that differ from their defaults (always task, depth, width, seed, pruner, density; for
        the training configurations, only their own non-default fields), ``numerics`` and, for a task listed in
        ``TASK_NUMERICS``, ``task_numerics``, and the training engine's version ``engine`` (the cell's engine under
        ``engine``, default the active one, :func:`plantseek.train.engine.cell_engine`; left out for the first engine,
        whose cells were stored before the version existed).

        Hashing only these (as OpenLTH does) means a new field with a default leaves old cell ids unchanged.
        """
        if self.published() is not self:
            return self.published().identity(engine)
        defaults = CellConfig(self.task, self.depth, self.width, self.seed, self.pruner, self.density).as_dict()
        mine = self.as_dict()
        keep = {"task", "depth", "width", "seed", "pruner", "density"}
        out: dict[str, Any] = {}
        for k, v in mine.items():
            if k == "pruner_name":
                continue  # shown, not identifying (see the field)
            if isinstance(v, dict) and isinstance(defaults[k], dict) and k not in ("task_options",):
                v = {f: x for f, x in v.items() if x != defaults[k].get(f)}
                if v:
                    out[k] = v
            elif k in keep or v != defaults[k]:
                out[k] = v
        out["numerics"] = NUMERICS
        if self.task in TASK_NUMERICS:
            out["task_numerics"] = TASK_NUMERICS[self.task]
        version = cell_engine(active_engine() if engine is None else engine, registered_family(self.task))
        if version != FIRST_ENGINE:
            out["engine"] = version
        return out

    @property
    def cell_id(self) -> str:
        """The id of this cell trained by the active engine."""
        return self.cell_id_at(None)

    def cell_id_at(self, engine: int | None) -> str:
        """The id of this cell trained by ``engine`` (None: the active one): what a stored row of that engine has."""
        text = json.dumps(self.identity(engine), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    @property
    def group_key(self) -> tuple[Any, ...]:
        """Cells with equal keys run as one group: one instance, one weak-training configuration and protocol, one
        pruning budget (its scope: whether biases are prunable)."""
        return (*self.instance_key, self.train, self.training_protocol, self.budget, self.post_training)

    @property
    def instance_key(self) -> tuple[Any, ...]:
        return (self.task, self.depth, self.width, self.seed, self.task_options, self.n_samples, self.instances,
                self.key_fingerprint)


def published_pruner_ref(ref: str) -> str:
    """``path/to/file.py:Class`` -> ``file.py:Class`` (a registered name unchanged): the part of a submitted pruner's
    reference that says which file without saying where it lay on the machine that ran it."""
    if ".py" not in ref and "/" not in ref and "\\" not in ref:  # plantseek.prune.contract.is_file_ref, or Windows
        return ref
    path, colon, cls = ref.rpartition(":") if ref.rpartition(":")[2].isidentifier() else (ref, "", "")
    return Path(path.replace("\\", "/")).name + colon + cls


def as_hidden(cells: list[CellConfig], fingerprint: str) -> list[CellConfig]:
    """The same cells on hidden instances planted from the key whose fingerprint is ``fingerprint``."""
    return [dataclasses.replace(c, instances="hidden", key_fingerprint=fingerprint) for c in cells]


@dataclass
class CellResult:
    status: str  # one of STATUSES: "ok", "failed" (error: why) or "diverged" (error: which metric, how far)
    error: str = ""  # one line when failed
    metric_name: str = ""  # "accuracy" or "mse"
    higher_is_better: bool | None = None  # the task metric's direction (task.higher_is_better); None: unknown
    density: float = float("nan")  # requested density as a number (ticket density resolved)
    achieved_density: float = float("nan")
    strong_metric: float = float("nan")  # scale-correct, host's initial weights, test split
    weak_metric: float = float("nan")  # after training with the mask fixed, test split
    ticket_metric: float = float("nan")  # the planted ticket's strong metric (reference)
    dense_metric: float = float("nan")  # the dense host's strong metric (reference)
    dense_weak_metric: float = float("nan")  # the dense host after the same training (reference)
    prune_seconds: float = float("nan")  # the prune request's wall-clock, measured by the parent (share when batched)
    train_seconds: float = float("nan")  # weak training wall-clock (this cell's share when batched)
    protocol: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)  # recovery metrics (plantseek.score.metrics)
    compute: dict[str, Any] = field(default_factory=dict)  # what the pruner spent (plantseek.records.compute)
    mask: bytes | None = None  # plantseek.nets.masks.pack_mask
    provenance: dict[str, Any] = field(default_factory=dict)
    family: str = ""  # the task's host family (plantseek.families; Task.family); "": the store asks the task registry

    def __post_init__(self) -> None:
        self.error = sanitise_reason(self.error) if self.error else ""  # may carry a pruner's text



@functools.lru_cache(maxsize=None)
def registered_family(task: str) -> str:
    """The host family of the registered task ``task`` (``''`` for an unknown one): what sets a cell's engine version.
    Imported when first needed (the task registry imports torch)."""
    from plantseek.planted.task import task_family

    return task_family(str(task))

# Columns of load_results(): config columns, result columns, then flattened scalar recovery metrics
# ("recall", "precision", "f1", "jaccard", "effective_density", "contains_ticket", "layer_collapse", ...).
CONFIG_COLUMNS = ["cell_id", "task", "family", "depth", "width", "seed", "pruner", "density_spec", "noise"]
RESULT_COLUMNS = [
    "status", "error", "protocol", "metric_name", "density", "achieved_density", "strong_metric", "weak_metric",
    "ticket_metric", "dense_metric", "dense_weak_metric", "prune_seconds", "train_seconds",
    "plantseek_version", "git_commit", "torch_version", "platform", "created_at",
]
COLUMNS = CONFIG_COLUMNS + RESULT_COLUMNS


def provenance() -> dict[str, Any]:
    import torch

    from plantseek import __version__

    return {
        "plantseek_version": __version__,
        "numerics": NUMERICS,
        "engine": active_engine(),
        "git_commit": git_commit(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


def git_commit() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""
