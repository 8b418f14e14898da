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
    names = [setting_name(c) for c in config.settings()]
    run = Run(2, outcome.widths, outcome.best_mask, names.index(outcome.best_setting),
              network_nnz(parse_key(outcome.best_mask)))
    [(row, state)] = train_bundle(config, [run], keep_states=True)
    mask = parse_key(outcome.best_mask)
    arrays: dict[str, Any] = {"n_layers": np.array(len(mask))}
    d = (2, *outcome.widths, 1)
    for l, layer in enumerate(mask):
        keep = np.array([[(code >> j) & 1 for j in range(d[l])] for code in layer], dtype=np.float64)
        arrays[f"w{l}"] = state[f"layers.{l}.weight"].double().numpy() * keep
        arrays[f"b{l}"] = state[f"layers.{l}.bias"].double().numpy()
    arrays["description"] = np.array(f"cubist-spiral ticket: widths {'-'.join(map(str, outcome.widths))}, "
                                     f"{run.nnz} weights, train accuracy {row[5]:.4f}, test {row[6]:.4f}, "
                                     f"{outcome.best_setting}, seed {config.seed}")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
