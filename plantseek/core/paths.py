"""Every file name of a run, in one place. Paths are relative to ``root`` (default: the working directory).

- ``results/plantseek.db``: the results store (:mod:`plantseek.store.results`; SQLite, with transient ``-wal``/``-shm``
  files beside it while it is open)
- ``results/plots/``: figures made from the store
- ``leaderboard/``: the generated leaderboard (``index.html``) and its own store ``leaderboard/plantseek.db``
  (the canonical results behind the committed leaderboard; ``submit`` adds to it)
"""

from __future__ import annotations

from pathlib import Path


def results_dir(root: str | Path = ".") -> Path:
    return Path(root) / "results"


def default_store_path(root: str | Path = ".") -> Path:
    return results_dir(root) / "plantseek.db"


def plots_dir(root: str | Path = ".") -> Path:
    return results_dir(root) / "plots"


def leaderboard_dir(root: str | Path = ".") -> Path:
    return Path(root) / "leaderboard"


def leaderboard_store(root: str | Path = ".") -> Path:
    return leaderboard_dir(root) / "plantseek.db"
