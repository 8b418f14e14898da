"""The exhaustive search: phase 1 trains width triples, phase 2 trains every eligible mask of the minimal triple.

Every run (a network x a training setting) is one row of a sqlite file (:class:`RunStore`, by default
``<results>/optimum.sqlite``, table ``optimum_runs``), keyed by the search's identity (:meth:`SearchConfig.identity`:
points, split, epochs, batch, optimiser, seed, engine), the phase, the widths, the mask and the setting; a run whose
row exists is never trained again (resume). Runs are trained in bundles by the batched engine
(:func:`plantseek.train.batched.train_masks_batched`: every network of a bundle with the same setting trains as one
stack), bundles in parallel over ``jobs`` processes. Each run's initial weights and data order come from a generator
seeded by (seed, widths, mask, setting) alone, so its numbers do not depend on the bundle, ``jobs`` or resume order.

Phase 1 trains the dense 2 -> d1 -> d2 -> d3 -> 1 network of every width triple asked for; a target's *minimal
triple* is the one with the fewest weights whose best setting reaches the target's accuracy on the training points
(ties: the lexicographically smallest). Phase 2 enumerates the eligible masks of that triple
(:mod:`plantseek.optimum.enumeration`) sparsest first and trains each under every setting; a mask reaches the
target when its best setting does. The search stops after the first total nnz at which some mask reaches the target
(every mask of that nnz is still tried), or after ``max_masks`` masks: the best-known nnz is an upper bound.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import torch

from plantseek.core.errors import ConfigError
from plantseek.families.mlp.network import Architecture, forward_state, he_init
from plantseek.optimum.enumeration import Layer, mask_key, network_masks, network_nnz, to_matrix
from plantseek.train.batched import train_masks_batched
from plantseek.train.config import TrainConfig
from plantseek.train.engine import active_engine

TARGETS = (0.95, 0.995)
Widths = tuple[int, int, int]


@dataclass(frozen=True)
class SearchConfig:
    """What the search trains with. Defaults: the reference's scale except the settings (see docs/optimum.md)."""

    n_points: int = 50_000
    test_fraction: float = 0.1
    epochs: int = 50
    batch_size: int = 128
    lrs: tuple[float, ...] = (0.05, 0.1)
    schedules: tuple[str, ...] = ("constant", "cosine")
    momentum: float = 0.9
    weight_decay: float = 5e-4
    seed: int = 0
    targets: tuple[float, ...] = TARGETS
    width_values: tuple[int, ...] = tuple(range(1, 17))
    max_masks: int | None = None
    bundle: int = 512
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.lrs or not self.schedules:
            raise ConfigError("the search needs at least one learning rate and one schedule")
        if any(not 1 <= w <= 16 for w in self.width_values):
            raise ConfigError(f"widths must lie in 1..16 (the width-16 host), got {list(self.width_values)}")
        if any(not 0 < t <= 1 for t in self.targets):
            raise ConfigError(f"accuracy targets must lie in (0, 1], got {list(self.targets)}")
        for s in self.schedules:
            TrainConfig(schedule=s)

    def settings(self) -> list[TrainConfig]:
        return [TrainConfig(epochs=self.epochs, batch_size=self.batch_size, lr=lr, optimizer="sgd",
                            momentum=self.momentum, weight_decay=self.weight_decay, schedule=s)
                for lr in self.lrs for s in self.schedules]

    def identity(self) -> str:
        """What makes one run's numbers: not the settings list, the widths asked for or the limits (per row)."""
        keys = dict(n_points=self.n_points, test_fraction=self.test_fraction, epochs=self.epochs,
                    batch_size=self.batch_size, momentum=self.momentum, weight_decay=self.weight_decay,
                    seed=self.seed, engine=active_engine())
        return hashlib.sha256(json.dumps(keys, sort_keys=True).encode()).hexdigest()[:16]


def setting_name(c: TrainConfig) -> str:
    return f"lr={c.lr:g},{c.schedule}"


def n_weights(w: Widths) -> int:
    d = (2, *w, 1)
    return sum(a * b for a, b in zip(d[:-1], d[1:]))


@dataclass(frozen=True)
class Run:
    phase: int
    widths: Widths
    mask: str  # mask_key, "" = dense
    setting: int  # index into SearchConfig.settings()
    nnz: int


SCHEMA = """CREATE TABLE IF NOT EXISTS optimum_runs (
    identity TEXT, phase INTEGER, widths TEXT, mask TEXT, setting TEXT, nnz INTEGER,
    train_acc REAL, test_acc REAL, PRIMARY KEY (identity, phase, widths, mask, setting))"""


class RunStore:
    """The search's runs in a sqlite file (its own file, not the results store's schema)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path)
        self.db.execute(SCHEMA)
        self.db.commit()

    def done(self, identity: str) -> dict[tuple, tuple[float, float]]:
        rows = self.db.execute("SELECT phase, widths, mask, setting, train_acc, test_acc FROM optimum_runs "
                               "WHERE identity = ?", (identity,))
        return {(p, w, m, s): (tr, te) for p, w, m, s, tr, te in rows}

    def add(self, identity: str, rows: Iterable[tuple]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO optimum_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                            [(identity, *r) for r in rows])
        self.db.commit()

    def close(self) -> None:
        self.db.close()


def widths_text(w: Widths) -> str:
    return "-".join(map(str, w))


def layer_tensors(mask: tuple[Layer, ...], widths: Widths) -> dict[str, torch.Tensor]:
    d = (2, *widths, 1)
    return {f"layers.{l}.weight": torch.tensor(to_matrix(layer, d[l]), dtype=torch.float32)
            for l, layer in enumerate(mask)}


def run_seed(seed: int, run: Run) -> int:
    text = f"{seed}|{widths_text(run.widths)}|{run.mask}|{run.setting}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:6], "big")


def bce(output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.binary_cross_entropy_with_logits(output, y)


def data(config: SearchConfig):
    from plantseek.tasks.cubist_spiral import cubist_spiral, split

    x, y = cubist_spiral(config.n_points)
    tr, te = split(x, y, config.test_fraction, torch.Generator().manual_seed(config.seed))
    return tr.x.float(), tr.y.float(), te.x.float(), te.y.float()


def train_bundle(config: SearchConfig, runs: list[Run], keep_states: bool = False) -> list[tuple]:
    """Train ``runs`` (grouped by widths and setting, each group one batched call); rows for the store."""
    torch.set_num_threads(1)
    x, y, xt, yt = data(config)
    settings = config.settings()
    groups: dict[tuple, list[Run]] = {}
    for r in runs:
        groups.setdefault((r.widths, r.setting), []).append(r)
    out = []
    for (widths, s), members in groups.items():
        arch = Architecture((2, *widths, 1))
        gens = [torch.Generator().manual_seed(run_seed(config.seed, r)) for r in members]
        states = [he_init(arch, g) for g in gens]
        masks = [None if not r.mask else layer_tensors(_parse(r.mask), widths) for r in members]
        trained = train_masks_batched(arch, states, masks, x, y, bce, settings[s], gens)
        for r, st, m in zip(members, trained, masks):
            with torch.no_grad():
                tr = _accuracy(forward_state(st, x, m), y)
                te = _accuracy(forward_state(st, xt, m), yt)
            row = (r.phase, widths_text(widths), r.mask, setting_name(settings[s]), r.nnz, tr, te)
            out.append((row, st) if keep_states else row)
    return out


def _parse(key: str) -> tuple[Layer, ...]:
    from plantseek.optimum.enumeration import parse_key

    return parse_key(key)


def _accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float(((logits > 0).float() == y).double().mean())


def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i: i + size]


@dataclass
class Outcome:
    """What the search found for one accuracy target."""

    target: float
    widths: Widths | None = None
    widths_acc: tuple[float, float] | None = None  # best setting's (train, test) accuracy of the dense triple
    best_mask: str | None = None
    best_nnz: int | None = None  # weights
    best_acc: tuple[float, float] | None = None
    best_setting: str | None = None
    masks_tried: int = 0
    runs: int = 0
    complete: bool = False  # the enumeration was not cut by max_masks
    reached: tuple[float, float, int] | None = None  # the best (train, test) accuracy any mask tried reached, its nnz


class Search:
    def __init__(self, config: SearchConfig, store: RunStore, jobs: int = 1, say=print) -> None:
        self.config, self.store, self.jobs, self.say = config, store, jobs, say
        self.identity = config.identity()
        self.trained = 0  # runs trained by this process (not read from the store)

    def _train(self, runs: list[Run]) -> dict[tuple, tuple[float, float]]:
        done = self.store.done(self.identity)
        names = [setting_name(c) for c in self.config.settings()]
        todo = [r for r in runs if (r.phase, widths_text(r.widths), r.mask, names[r.setting]) not in done]
        bundles = list(_chunks(todo, self.config.bundle))
        if self.jobs > 1 and len(bundles) > 1:
            with ProcessPoolExecutor(self.jobs) as pool:
                for rows in pool.map(train_bundle, [self.config] * len(bundles), bundles):
                    self.store.add(self.identity, rows)
                    self.trained += len(rows)
        else:
            for b in bundles:
                rows = train_bundle(self.config, b)
                self.store.add(self.identity, rows)
                self.trained += len(rows)
        return self.store.done(self.identity)

    def phase1(self) -> dict[Widths, tuple[float, float, str]]:
        """Best setting's (train acc, test acc, setting) of every width triple."""
        values = self.config.width_values
        triples = [(a, b, c) for a in values for b in values for c in values]
        n_set = len(self.config.settings())
        runs = [Run(1, w, "", s, n_weights(w)) for w in triples for s in range(n_set)]
        self.say(f"phase 1: {len(triples)} width triples x {n_set} settings")
        done = self._train(runs)
        return {w: _best(done, 1, w, "", self.config) for w in triples}

    def minimal_widths(self, phase1: dict, target: float) -> Widths | None:
        ok = [w for w, (tr, _, _) in phase1.items() if tr >= target]
        return min(ok, key=lambda w: (n_weights(w), w)) if ok else None

    def phase2(self, widths: Widths, target: float) -> Outcome:
        out = Outcome(target, widths)
        n_set = len(self.config.settings())
        masks = network_masks((2, *widths, 1))
        found_at: int | None = None
        pending: list[tuple[Layer, ...]] = []
        cap = self.config.max_masks
        exhausted = True
        for mask in masks:
            nnz = network_nnz(mask)
            if found_at is not None and nnz > found_at:
                break
            if cap is not None and out.masks_tried + len(pending) >= cap:
                exhausted = False
                break
            pending.append(mask)
            if len(pending) * n_set >= self.config.bundle * max(1, self.jobs):
                found_at = self._phase2_batch(pending, widths, target, out, found_at)
                pending = []
        else:
            exhausted = True
        if pending:
            found_at = self._phase2_batch(pending, widths, target, out, found_at)
        out.complete = exhausted or found_at is not None
        return out

    def _phase2_batch(self, masks, widths, target, out: Outcome, found_at):
        n_set = len(self.config.settings())
        runs = [Run(2, widths, mask_key(m), s, network_nnz(m)) for m in masks for s in range(n_set)]
        done = self._train(runs)
        out.masks_tried += len(masks)
        out.runs += len(runs)
        for m in masks:
            key, nnz = mask_key(m), network_nnz(m)
            tr, te, s = _best(done, 2, widths, key, self.config)
            if out.reached is None or tr > out.reached[0]:
                out.reached = (tr, te, nnz)
            if tr >= target and (out.best_nnz is None or nnz < out.best_nnz):
                out.best_mask, out.best_nnz, out.best_acc, out.best_setting = key, nnz, (tr, te), s
        self.say(f"phase 2 ({widths_text(widths)}, target {target:g}): {out.masks_tried} masks tried, "
                 f"best-known nnz {out.best_nnz}")
        return out.best_nnz if out.best_nnz is not None else found_at


def _best(done: dict, phase: int, widths: Widths, mask: str, config: SearchConfig) -> tuple[float, float, str]:
    """The best setting of one network: (train acc, test acc, setting name); ties: the first setting."""
    best = (-1.0, -1.0, "")
    for c in config.settings():
        name = setting_name(c)
        tr, te = done[(phase, widths_text(widths), mask, name)]
        if tr > best[0]:
            best = (tr, te, name)
    return best


def search(config: SearchConfig, store: RunStore, jobs: int = 1, phase1_only: bool = False,
           widths: dict[float, Widths] | None = None, say=print) -> tuple[dict, list[Outcome], Search]:
    """Phase 1, then phase 2 for every target (on ``widths[target]`` when given, else phase 1's minimal triple)."""
    s = Search(config, store, jobs, say)
    p1 = s.phase1()
    outcomes = []
    for t in config.targets:
        w = (widths or {}).get(t) or s.minimal_widths(p1, t)
        if w is None or phase1_only:
            o = Outcome(t, w)
        else:
            o = s.phase2(w, t)
        if w is not None and w in p1:
            o.widths_acc = p1[w][:2]
        outcomes.append(o)
    return p1, outcomes, s


def config_dict(config: SearchConfig) -> dict:
    d = asdict(config)
    d.pop("extra")
    return d
