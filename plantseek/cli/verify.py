"""``python -m plantseek verify``: check a results store's rows against their digests and recompute every ok cell's
recovery metrics from its stored mask and re-planted instance (:mod:`plantseek.run.recheck`)."""

from __future__ import annotations

import sys
from pathlib import Path

from plantseek.core import paths

HELP = "check a results store: row digests, and every ok cell's recovery metrics recomputed from its mask"


def add_arguments(p) -> None:
    from .arguments import path

    p.add_argument("--store", default=None, type=path,
                   help=f"results store to check (default: {paths.default_store_path()})")


def check(args) -> None:
    from .leaderboard import check_store

    check_store(args.store)


def run(args) -> int:
    from plantseek.core.errors import StoreError
    from plantseek.run.recheck import verify_store

    path = Path(args.store or paths.default_store_path())
    if not path.exists():
        raise StoreError(f"no results store at {path} (pass --store PATH)")
    result = verify_store(path)
    for refusal in result.refused:
        print(refusal.line())
    unverified = f", {result.unverified} without a digest (unverified)" if result.unverified else ""
    print(f"verify: {result.checked} ok cell(s) recomputed, {len(result.refused)} refused{unverified}: {path}",
          file=sys.stderr)
    return 1 if result.refused else 0
