"""The results frame normalised for the report: validated, typed, with helper columns for settings and methods.

Words: a *setting* is one (task, depth, width, noise); a *method* is one (pruner, sanity ablation, protocol),
shown as ``"P"``, ``"P [shuffled]"`` or ``"P (protocol)"`` when a pruner ran under several protocols. The
ablation and the metric's direction are read from their own columns (``ablation``, ``higher_is_better`` of
:func:`plantseek.store.results.load_results`); no label is ever parsed.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd

from plantseek.core.errors import StoreError
from plantseek.frame.labels import method_label, slugify
from plantseek.frame.leak import instance_columns, instances_label, is_leak_detector
from plantseek.records.compute import COMPUTE_KEYS
from plantseek.train.config import DEFAULT_TRAINING_PROTOCOL, TrainConfig
from plantseek.train.engine import FIRST_ENGINE

REQUIRED_COLUMNS = ["task", "depth", "width", "seed", "pruner", "ablation", "density_spec", "status", "protocol",
                    "metric_name", "higher_is_better", "density", "strong_metric", "weak_metric", "ticket_metric"]
# numeric columns that may be absent from older or foreign frames; they are then treated as all-NaN
_NUMERIC = ["depth", "width", "seed", "noise", "density", "achieved_density", "strong_metric", "weak_metric",
            "ticket_metric", "dense_metric", "dense_weak_metric", "prune_seconds", "train_seconds", "recall",
            "precision", "f1", "jaccard", "effective_density", "nominal_density", *COMPUTE_KEYS]
_TEXT = ["task", "family", "pruner", "ablation", "density_spec", "status", "protocol", "metric_name", "error"]
_SEP = " · "


def str_col(s: pd.Series) -> pd.Series:
    """A column as text, missing values as ``""``."""
    return s.where(s.notna(), "").astype(str)


def prepare(df: pd.DataFrame) -> pd.DataFrame:
    """A normalised copy of a results frame with helper columns (the input is never modified).

    Added: ``_ok`` (status ok), ``_base`` (the pruner) and ``_ablation`` (the ``ablation`` column), ``_label``
    (the pruner's display name, ablation in brackets), ``instances`` ("public" or "hidden", from ``config_json``)
    and ``key_fingerprint`` (of a hidden instance's key), ``_sid`` (setting index, sorted), ``_setting`` (its label),
    ``_slug`` (a file-name safe, unique name), ``_family`` (the task's host family, the stored ``family`` column),
    ``_engine`` (the training engine's version, the stored ``engine`` column; the first engine where a frame has
    none; cells of different engines never share a setting), ``_method`` (display name of (label, protocol)),
    ``_hib`` (metric direction). Failed cells get the protocol of their method (of an ablation: else of its pruner),
    the metric name and direction of their setting when those are unique; a direction still unknown counts as
    higher-better.
    """
    _validate(df)
    d = df.copy().reset_index(drop=True)
    for c in _NUMERIC:
        d[c] = pd.to_numeric(d[c], errors="coerce") if c in d.columns else np.nan
    for c in _TEXT:
        d[c] = str_col(d[c]) if c in d.columns else ""
    d["_ok"] = d["status"].eq("ok")
    d["_base"] = d["pruner"]
    d["_ablation"] = d["ablation"]
    d["_label"] = [method_label(p, a) for p, a in zip(d["pruner"], d["ablation"])]
    d["instances"], d["key_fingerprint"] = instance_columns(d)
    d["_family"] = d["family"]  # the stored host family (plantseek.families)
    d["_engine"] = (pd.to_numeric(d["engine"], errors="coerce").fillna(FIRST_ENGINE).astype("int64")
                    if "engine" in d.columns else FIRST_ENGINE)
    _fill_protocols(d)
    _add_settings(d)
    _fill_metric(d)
    _fill_density(d)
    return d


def _validate(df: pd.DataFrame) -> None:
    if not isinstance(df, pd.DataFrame):
        raise StoreError(f"expected a results DataFrame, got {type(df).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise StoreError(f"results lack column(s) {', '.join(missing)}: not a plantseek results table")
    if len(df) == 0:
        raise StoreError("the results hold no cells: nothing to show (run a grid first)")


def _fill_protocols(d: pd.DataFrame) -> None:
    """Protocol of failed cells: the method's, when it has exactly one (an ablation's: else its pruner's); then
    ``_method``, which names the protocol only for a pruner shown under several."""
    for key in ("_label", "_base"):
        for _, grp in d.groupby(key, sort=False):
            known = sorted(set(grp["protocol"]) - {""})
            if len(known) == 1:
                d.loc[grp.index[grp["protocol"].eq("")], "protocol"] = known[0]
    protocols_of = d.groupby("_label")["protocol"].nunique()
    d["_method"] = [p if protocols_of[p] <= 1 or not proto else f"{p} ({proto})"
                    for p, proto in zip(d["_label"], d["protocol"])]


def training_protocols(d: pd.DataFrame) -> list[str]:
    """Each cell's weak training as shown in its setting: the protocol (``CellConfig.training_protocol``;
    ``calibrated`` where the configuration does not name one, as before the choice existed), then the weak-training
    fields that differ from ``TrainConfig``'s defaults (e.g. ``calibrated, epochs 1``), from its stored
    configuration. Cells trained differently are never averaged or ranked together."""
    if "config_json" not in d.columns:
        return [DEFAULT_TRAINING_PROTOCOL] * len(d)
    defaults = dataclasses.asdict(TrainConfig())
    out = []
    for text in d["config_json"]:
        try:
            config = json.loads(text) if isinstance(text, str) else {}
        except ValueError:
            config = {}
        config = config if isinstance(config, dict) else {}
        train = config.get("train") if isinstance(config.get("train"), dict) else {}
        changed = [f"{k} {v}" for k, v in sorted(train.items()) if k in defaults and v != defaults[k]]
        budget = config.get("budget") if isinstance(config.get("budget"), dict) else {}
        if budget.get("prunable_biases") is True:
            changed.append("biases prunable")
        out.append(", ".join([str(config.get("training_protocol", DEFAULT_TRAINING_PROTOCOL)), *changed]))
    return out


def _add_settings(d: pd.DataFrame) -> None:
    """``_training``, ``_sid``, ``_setting`` and ``_slug`` of every cell; settings sorted by (task, depth, width,
    noise, instances, training protocol), NaN noise first, public instances before hidden ones (a hidden setting's
    label names its key's fingerprint). The training protocol is named in every setting's label; where a setting
    holds cells of several training engines (e.g. a conv grid stored under engine 2 and re-run under engine 3), each
    cell's engine is part of its setting (named in the label), so that cells of different engines are never averaged
    or ranked together; a setting of one engine keeps its label."""
    d["_training"] = training_protocols(d)
    keys = d[["task", "depth", "width", "noise"]].copy()
    keys["noise"] = keys["noise"].fillna(-np.inf)
    keys["_inst"] = [instances_label(k, f) for k, f in zip(d["instances"], d["key_fingerprint"])]
    keys["_training"] = d["_training"]
    engines = keys.assign(_engine=d["_engine"]).groupby(list(keys.columns), sort=False, dropna=False)["_engine"]
    mixed = (engines.transform("nunique") > 1).to_numpy()
    if mixed.any():
        d["_training"] = [f"{t}, engine {e}" if m else t for t, e, m in zip(d["_training"], d["_engine"], mixed)]
        keys["_training"] = d["_training"]
    uniq = keys.drop_duplicates().sort_values(["task", "depth", "width", "noise", "_inst", "_training"],
                                              kind="stable")
    sid_of = {tuple(r): i for i, r in enumerate(uniq.itertuples(index=False, name=None))}
    d["_sid"] = [sid_of[tuple(r)] for r in keys.itertuples(index=False, name=None)]
    labels, slugs, used = {}, {}, set()
    for (task, depth, width, noise, inst, training), i in sid_of.items():
        parts = [task]
        if np.isfinite(depth):
            parts.append(f"depth {int(depth)}")
        if np.isfinite(width):
            parts.append(f"width {int(width)}")
        if np.isfinite(noise):
            parts.append(f"noise {noise:g}")
        short = [p.replace("depth ", "d").replace("width ", "w").replace(" ", "") for p in parts[1:]]
        if inst:
            parts.append(inst)
            short.append("hidden-" + inst.rpartition("key ")[2].rstrip(")")[:8])
        if training != DEFAULT_TRAINING_PROTOCOL:
            short.append(training)
        protocol, _, changed = training.partition(", ")
        labels[i] = _SEP.join(parts + [f"{protocol} training" + (f", {changed}" if changed else "")])
        slug = slugify("-".join([task] + short))
        base, k = slug, 2
        while slug.lower() in used:  # distinct settings whose names sanitise alike
            slug, k = f"{base}-{k}", k + 1
        used.add(slug.lower())
        slugs[i] = slug
    d["_setting"] = d["_sid"].map(labels)
    d["_slug"] = d["_sid"].map(slugs)


def _fill_metric(d: pd.DataFrame) -> None:
    """Metric name and direction of a setting for the cells that lack them (failed cells may); ``_hib``."""
    hib = pd.Series(pd.array(d["higher_is_better"].astype(object).where(d["higher_is_better"].notna(), None),
                             dtype="boolean"), index=d.index)
    for _, grp in d.groupby("_sid"):
        known = sorted(set(grp["metric_name"]) - {""})
        if len(known) == 1:
            d.loc[grp.index, "metric_name"] = known[0]
        directions = set(hib[grp.index].dropna())
        if len(directions) == 1:
            hib[grp.index] = directions.pop()
    d["_hib"] = hib.fillna(True).astype(bool)


def _fill_density(d: pd.DataFrame) -> None:
    """Requested density of failed cells: the spec, or the setting's ticket density."""
    spec_num = pd.to_numeric(d["density_spec"], errors="coerce")
    d["density"] = d["density"].fillna(spec_num)
    tick = d[d["density_spec"].eq("ticket")].groupby("_sid")["density"].mean()
    miss = d["density"].isna() & d["density_spec"].eq("ticket")
    d.loc[miss, "density"] = d.loc[miss, "_sid"].map(tick)


def competitors(d: pd.DataFrame) -> pd.DataFrame:
    """The prepared frame without sanity-ablation cells and without leak detectors: neither is a pruning method
    (they have their own sections, Sanity ablations and Leak ceiling)."""
    return d[d["_ablation"].eq("") & ~is_leak_detector(d["pruner"])]


def prepared(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` itself when it is already prepared, else :func:`prepare` of it."""
    return df if "_sid" in df.columns else prepare(df)
