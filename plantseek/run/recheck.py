"""Recomputing what a store claims: the recovery metrics of every ok cell from its stored mask and its re-planted
instance (``plantseek verify``, ``leaderboard --verify``).

The row digest (:mod:`plantseek.store.integrity`) catches edits by tools that do not know the store's key; this
catches the rest: a mask swapped between cells, metrics rewritten with the digest recomputed, a row written by
anything but the scorer. For every ok cell: its configuration must hash to its cell id, its mask must unpack to
the instance's layer shapes, and ``recovery_metrics(mask, instance.ticket, instance.arch.structure())`` and the
achieved density must equal the stored ones exactly; the strong metrics (through the mask's fitted readout, and
with the planted scales) must equal the stored ones to a relative ``STRONG_RTOL`` (float64 products of one mask
and of a batch of masks may differ in the last digit). Each instance is planted once for all its cells.

A cell on a hidden instance has no stored mask (:func:`plantseek.store.rows.stored_mask`): it is not refused but
counted as *withheld* (its digest, ledger entry and cell id are still checked; its metrics are not recomputed, with
or without the key: whoever holds the key checks it by re-running the cell). A public cell without a mask is
refused. A hidden cell that does carry a mask (written before masks were withheld) is recomputed as before, which
needs the key.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from plantseek.core.errors import PlantseekError
from plantseek.planted.instance import PlantedInstance
from plantseek.nets.masks import Mask, unpack_mask
from plantseek.run.ablations import has_strong_metric
from plantseek.run.group import achieved_densities, instance_for
from plantseek.records.cells import CellConfig
from plantseek.score.evaluation import strong_scores_batched
from plantseek.families.registry import family_hook
from plantseek.score.known_optimum import optimum_metrics
from plantseek.score.metrics import recovery_metrics
from plantseek.score.routes import host_routes, route_recalls
from plantseek.run.generalise import GENERALISATION_KEYS
from plantseek.score.multi_ticket import instance_ticket_metrics
from plantseek.score.patterns import PATTERN_KEYS, pattern_metrics
from plantseek.store.integrity import Refusal
from plantseek.store.results import Checked, load_checked
from plantseek.store.rows import json_default, withholds_mask
from plantseek.train.config import biases_prunable
from plantseek.train.engine import FIRST_ENGINE


#: Relative tolerance of the recomputed strong metrics.
STRONG_RTOL = 1e-9
#: Stored metrics that are strong metrics (checked with STRONG_RTOL, not as recovery metrics).
STRONG_KEYS = ("strong_metric_planted_scales", "strong_metric_paper_readout")
#: The recovery metrics named first when several differ.
_HEADLINE = ["recall", "precision", "f1", "jaccard", "effective_density", "contains_ticket"]


@dataclass
class Verification:
    """What :func:`verify_store` found: the refused cells (digest, format or recomputation), and counts."""

    checked: int = 0  # ok cells whose metrics were recomputed
    unverified: int = 0  # shown cells without a digest (written before schema version 3)
    refused: list[Refusal] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the store as a whole (plantseek.store.ledger)
    unchained: int = 0  # cells of a store without a ledger (written before it existed)
    withheld: int = 0  # ok cells on hidden instances without a stored mask: not recomputed, not refused
    hidden_masks: int = 0  # cells on hidden instances that do carry a mask (a store that must not be published)

    @property
    def recomputed(self) -> int:
        return self.checked - self.withheld


def verify_store(path: str | Path, progress: Callable[[int], None] | None = None,
                 on_total: Callable[[int], None] | None = None) -> Verification:
    """Check every row of the store at ``path`` (read-only): digests, ledger and format, then the recomputation.
    ``on_total(n)`` is told how many ok cells will be recomputed, ``progress(k)`` after every ``k`` more."""
    checked = load_checked(path, include_masks=True)
    out = Verification(unverified=checked.unverified, refused=list(checked.refused), problems=list(checked.problems),
                       unchained=checked.unchained)
    ok_rows = [r for r in checked.rows if r["status"] == "ok"]
    out.checked = len(ok_rows)
    if on_total is not None:
        on_total(len(ok_rows))
    refused, out.withheld = recheck_rows(ok_rows, progress)
    out.refused += refused
    out.hidden_masks = checked.hidden_masks
    return out


def stored_engine(row: dict[str, Any]) -> int:
    """The engine a stored row was trained by (its ``engine`` column; NULL, before the column existed: the first)."""
    value = row.get("engine")
    return FIRST_ENGINE if value is None else int(value)


def refused_by_recomputation(checked: Checked, progress: Callable[[int], None] | None = None) -> list[Refusal]:
    """The ok rows of an already checked store whose recomputation does not match (withheld masks are not);
    ``progress(k)`` as in :func:`recheck_rows`."""
    return recheck_rows([r for r in checked.rows if r["status"] == "ok"], progress)[0]


def recheck_rows(rows: list[dict[str, Any]], progress: Callable[[int], None] | None = None
                 ) -> tuple[list[Refusal], int]:
    """Refusals for the ok ``rows`` (stored values, every column) that do not match their recomputation, and how
    many are hidden cells whose mask is withheld (not recomputed); ``progress(k)`` is called as every ``k`` more
    rows are done."""
    done = progress or (lambda k: None)
    refused: list[Refusal] = []
    withheld = 0
    groups: "OrderedDict[tuple, list[tuple[dict, CellConfig]]]" = OrderedDict()
    for row in rows:
        try:
            config = CellConfig.from_dict(json.loads(row["config_json"]))
        except ValueError as exc:
            refused.append(Refusal.of(row, f"configuration: {exc}"))
            done(1)
            continue
        expected = config.cell_id_at(stored_engine(row))  # the id under the engine that trained it
        if row.get("engine") is None and row["cell_id"] == config.cell_id:
            expected = config.cell_id  # a row stored without an engine column but under this engine's ids
        if expected != row["cell_id"]:
            refused.append(Refusal.of(row, f"its configuration hashes to cell id {expected}, not its own"))
            done(1)
            continue
        if row["mask"] is None and withholds_mask(config):
            withheld += 1  # a hidden instance's mask is never stored: nothing to recompute from, nothing wrong
            done(1)
            continue
        groups.setdefault(config.instance_key, []).append((row, config))
    for members in groups.values():
        try:
            instance = instance_for(members[0][1])
        except PlantseekError as exc:
            refused += [Refusal.of(row, f"the instance cannot be re-planted ({exc})") for row, _ in members]
            done(len(members))
            continue
        for row, config in members:
            problem = mismatch(row, instance, config)
            if problem:
                refused.append(Refusal.of(row, problem))
            done(1)
    return refused, withheld


def _unpacked(blob: bytes, instance: PlantedInstance):
    """The stored mask with the instance's weight shapes (and bias shapes, if the blob holds them), or None."""
    weights, biases = instance.arch.weight_shapes(), instance.arch.bias_shapes()
    for shapes in (weights, {**weights, **biases}):
        if len(blob) == (sum(math.prod(s) for s in shapes.values()) + 7) // 8:
            return unpack_mask(blob, shapes)
    return None


def mismatch(row: dict[str, Any], instance: PlantedInstance, config: CellConfig | None = None) -> str:
    """``""`` when the row's stored mask reproduces its stored recovery metrics, density and (given the cell's
    configuration) strong metrics, else what differs."""
    if row["mask"] is None:
        return "no stored mask to recompute the recovery metrics from"
    mask = _unpacked(bytes(row["mask"]), instance)
    if mask is None:
        return f"corrupt mask ({len(row['mask'])} bytes do not fit the instance's layer shapes)"
    stored = json.loads(row["metrics_json"])
    # the pruning scope: biases prunable (density counts them; metrics add the weight density)
    prunable = biases_prunable(config.budget) if config is not None else "weight_density" in stored
    density, weight_density = achieved_densities(mask, instance, prunable)
    problems = []
    if row["achieved_density"] != density:
        problems.append(f"achieved_density (stored {row['achieved_density']!r}, recomputed {density!r})")
    family_recovery = family_hook(instance.task.family, "recovery")
    recovery = {**recovery_metrics(mask, instance.ticket, instance.arch.structure()),
                **instance_ticket_metrics(mask, instance.tickets, instance.arch.structure()),
                **(family_recovery(mask, instance.ticket, instance.arch) if family_recovery else {}),
                **_route_recalls(mask, instance),
                **(pattern_metrics(mask, instance.ticket, config.density) if config is not None
                   else {k: v for k, v in stored.items() if k in PATTERN_KEYS}),
                **optimum_metrics(instance.spec.key(), mask)}
    fresh = json.loads(json.dumps({**recovery, "weight_density": weight_density} if prunable else recovery,
                                  default=json_default))
    strong_stored = {k: stored.pop(k) for k in STRONG_KEYS if k in stored}
    for key in GENERALISATION_KEYS:  # training results, like the weak metric: not recomputed from the mask
        stored.pop(key, None)
    for key in sorted(set(fresh) | set(stored), key=lambda k: (_HEADLINE.index(k) if k in _HEADLINE else 99, k)):
        a, b = stored.get(key, "<missing>"), fresh.get(key, "<missing>")
        if json.dumps(a, sort_keys=True) != json.dumps(b, sort_keys=True):
            problems.append(f"{key} (stored {_brief(a)}, recomputed {_brief(b)})")
    if config is not None and has_strong_metric(config):  # after the recovery metrics: they are named first
        problems += _strong_mismatches(row, strong_stored, strong_scores_batched(instance, [mask])[0])
    if not problems:
        return ""
    more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
    return "recomputed values differ: " + "; ".join(problems[:3]) + more


def _route_recalls(mask: Mask, instance: PlantedInstance) -> dict[str, Any]:
    """Recall per planted route, for an instance whose task plants routes (plantseek.score.routes), else nothing."""
    owners = instance.task.weight_routes(instance.spec.depth)
    if owners is None:
        return {}
    return route_recalls(mask, host_routes(owners, instance.placement, instance.arch.weight_shapes()))


def _strong_mismatches(row: dict[str, Any], stored: dict[str, Any], score) -> list[str]:
    out = []
    checks = [("strong_metric", row["strong_metric"], score.metric),
              ("strong_metric_planted_scales", stored.get("strong_metric_planted_scales"), score.planted_scales)]
    if "strong_metric_paper_readout" in stored:  # cells stored before the paper-readout metric existed lack it
        checks.append(("strong_metric_paper_readout", stored["strong_metric_paper_readout"], score.paper_readout))
    for name, want, got in checks:
        if want is None or not math.isclose(float(want), got, rel_tol=STRONG_RTOL, abs_tol=1e-300):
            out.append(f"{name} (stored {_brief(want)}, recomputed {_brief(got)})")
    return out


def _brief(v: Any) -> str:
    text = json.dumps(v)
    return text if len(text) <= 30 else text[:27] + "..."
