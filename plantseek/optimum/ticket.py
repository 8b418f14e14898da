"""The planted ticket of the Cubist Spiral task: a search's best mask retrained (same seed and setting, so the
same bytes) and saved with its masked weights as ``tasks/data/cubist_spiral_target.npz``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from plantseek.core.errors import ConfigError
from plantseek.optimum.enumeration import network_nnz, parse_key
from plantseek.optimum.search import Outcome, Run, SearchConfig, setting_name, train_bundle


def write_ticket(path: Path, config: SearchConfig, outcome: Outcome) -> None:
    if outcome.best_mask is None or outcome.widths is None or outcome.best_setting is None:
        raise ConfigError(f"no mask reached {outcome.target:g}: no ticket to write")
    write_run(path, config, 2, outcome.widths, outcome.best_mask, outcome.best_setting)


def write_run(path: Path, config: SearchConfig, phase: int, widths: tuple[int, int, int], key: str,
              setting: str) -> None:
    """Retrain one stored run (phase 1: ``key`` "", the dense triple) and save it as the task's ticket file."""
    names = [setting_name(c) for c in config.settings()]
    d = (2, *widths, 1)
    mask = parse_key(key) if key else tuple(tuple([(1 << d[l]) - 1] * d[l + 1]) for l in range(4))
    run = Run(phase, widths, key, names.index(setting), network_nnz(mask))
    [(row, state)] = train_bundle(config, [run], keep_states=True)
    arrays: dict[str, Any] = {"n_layers": np.array(len(mask))}
    for l, layer in enumerate(mask):
        keep = np.array([[(code >> j) & 1 for j in range(d[l])] for code in layer], dtype=np.float64)
        arrays[f"w{l}"] = state[f"layers.{l}.weight"].double().numpy() * keep
        arrays[f"b{l}"] = state[f"layers.{l}.bias"].double().numpy()
    arrays["description"] = np.array(f"cubist-spiral ticket: widths {'-'.join(map(str, widths))}, "
                                     f"{run.nnz} weights, train accuracy {row[5]:.4f}, test {row[6]:.4f}, "
                                     f"{setting}, phase {phase}, seed {config.seed}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
