"""A suite's version: a hash of its definition, so that results of two definitions are never ranked together.

A suite defines *settings*: every cell identity it expands to, with the pruner left out (task, host size, task
options, samples, seeds, densities, training and pruning configuration, protocol, calibration draws). Its
**version** is the first 12 hex digits of the SHA-256 of the sorted, de-duplicated setting keys. Changing any of
them (one more seed, another density, a longer training) gives a new version; registering one more pruner does not
(a benchmark release accepts new methods on the same cells). Public and hidden instances of one definition share
its version (the instances are where the cells are drawn, not what the suite asks).

``evaluate`` and ``submit`` store ``suite`` (``name@version``) in the provenance of every cell they compute, and
``leaderboard --suite NAME`` / ``compare --suite NAME`` keep only the stored cells whose setting key belongs to the
suite's current version (:func:`in_suite`), so a store that still holds cells of an older definition never mixes
them into the ranking. ``list`` prints each suite's version.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, Iterable

import pandas as pd

from plantseek.records.cells import CellConfig
from plantseek.run.grid import expand
from plantseek.run.suite_types import CompositeSuite, Suite

#: Identity fields that say which method ran a cell or where its instance was drawn, not what the suite asks.
NOT_THE_SETTING = ("pruner", "pruner_code", "pruner_name", "ablation", "instances", "key_fingerprint")
VERSION_DIGITS = 12


def setting_key(config: dict[str, Any]) -> str:
    """The canonical text of a cell identity (``CellConfig.published().as_dict()``, or a stored ``config_json``)
    without the fields of :data:`NOT_THE_SETTING`."""
    return json.dumps({k: v for k, v in config.items() if k not in NOT_THE_SETTING}, sort_keys=True, default=str)


def _one_pruner(suite: Suite) -> Suite:
    """The suite with one placeholder pruner: its settings do not depend on which pruners it selects."""
    return dataclasses.replace(suite, pruners=("random",))


def suite_settings(suite: Suite | CompositeSuite) -> frozenset[str]:
    """The setting keys of every cell the suite defines."""
    bare: Suite | CompositeSuite = (suite.narrowed(_one_pruner) if isinstance(suite, CompositeSuite)
                                    else _one_pruner(suite))
    return frozenset(setting_key(_config_dict(c)) for c in expand(bare))


def _config_dict(config: CellConfig) -> dict[str, Any]:
    # through JSON, as the store writes it: a stored config_json and a fresh config give the same key
    return json.loads(json.dumps(config.published().as_dict(), sort_keys=True, default=str))


def version_of(settings: Iterable[str]) -> str:
    """The version of a set of setting keys (order and repeats do not matter)."""
    text = "\n".join(sorted(set(settings)))
    return hashlib.sha256(text.encode()).hexdigest()[:VERSION_DIGITS]


def suite_version(suite: Suite | CompositeSuite) -> str:
    return version_of(suite_settings(suite))


def suite_tag(suite: Suite | CompositeSuite) -> str:
    """``name@version``: what ``evaluate`` stores in a cell's provenance."""
    return f"{suite.name}@{suite_version(suite)}"


def in_suite(frame: pd.DataFrame, suite: Suite | CompositeSuite) -> pd.Series:
    """Which rows of a results frame (with its ``config_json`` column) are cells of the suite's current version."""
    settings = suite_settings(suite)
    keys = frame["config_json"].map(lambda text: setting_key(json.loads(text)))
    return keys.isin(settings)
