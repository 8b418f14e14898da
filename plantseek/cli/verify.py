"""``python -m plantseek verify``: check a results store's rows against their digests and recompute every ok cell's
recovery metrics from its stored mask and re-planted instance (:mod:`plantseek.run.recheck`). Cells on hidden
instances have no stored mask: they are counted as withheld (checked by digest, ledger and cell id only), not
refused."""

from __future__ import annotations

import sys
from pathlib import Path

from plantseek.core import paths

HELP = "check a results store: row digests, and every ok cell's recovery metrics recomputed from its mask"


def add_arguments(p) -> None:
    from .arguments import path

    p.add_argument("--store", default=None, type=path,
                   help=f"results store to check (default: {paths.default_store_path()})")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def check(args) -> None:
    from .leaderboard import check_store

    check_store(args.store)


def run(args) -> int:
    from plantseek.core.errors import StoreError
    from plantseek.run.recheck import verify_store

    path = Path(args.store or paths.default_store_path())
    if not path.exists():
        raise StoreError(f"no results store at {path} (pass --store PATH)")
    print(f"verify: checking digests and ledger of {path}", file=sys.stderr)
    with _Progress(enabled=not args.no_progress) as bar:
        result = verify_store(path, progress=bar.update, on_total=bar.start)
    for refusal in result.refused:
        print(refusal.line())
    for problem in result.problems:
        print(f"refused store {path}: {problem}")
    unverified = f", {result.unverified} without a digest (unverified)" if result.unverified else ""
    unchained = (f", {result.unchained} written before the store had a ledger (checked by their digests alone)"
                 if result.unchained else "")
    problems = f", {len(result.problems)} problem(s) with the store as a whole" if result.problems else ""
    withheld = (f", {result.withheld} on hidden instances not recomputed (mask withheld (hidden instance): re-run "
                "with the key to check)" if result.withheld else "")
    print(f"verify: {result.recomputed} ok cell(s) recomputed, {len(result.refused)} refused{problems}{withheld}"
          f"{unverified}{unchained}: {path}", file=sys.stderr)
    if result.hidden_masks:
        print(f"verify: warning: {result.hidden_masks} cell(s) on hidden instances carry their mask (written before "
              "plantseek withheld them); do not publish this store: the masks give the hidden tickets away",
              file=sys.stderr)
    return 1 if result.refused or result.problems else 0


class _Progress:
    """A progress bar on stderr over the recomputed cells (:func:`plantseek.cli.progress.stderr_bar`), shown from the
    start: while the digests are read its total is unknown."""

    def __init__(self, enabled: bool = True) -> None:
        from .progress import stderr_bar

        self._bar = stderr_bar(None, "cell", "verify: reading the store", disable=not enabled)

    def start(self, total: int) -> None:
        self._bar.total = total
        self._bar.set_description_str("verify: recomputing", refresh=False)
        self._bar.refresh()

    def update(self, k: int) -> None:
        self._bar.update(k)

    def __enter__(self) -> "_Progress":
        return self

    def __exit__(self, *exc) -> None:
        self._bar.close()
