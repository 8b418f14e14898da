"""Progress bars on stderr for the long commands (``evaluate``, ``reproduce``, ``submit``, ``verify``,
``leaderboard``): tqdm, redrawn at most every half second on a terminal and written as a plain line every
:data:`LOG_INTERVAL` seconds when stderr is not one (a log shows it too), except the leaderboard's, a short command
whose stderr carries its refusals, drawn on a terminal only (``disable=None``); ``--no-progress`` draws nothing.

A grid's bar (:class:`GridBar`) counts the work units reported from inside the cell groups
(:mod:`plantseek.run.work`: instances planted, prune calls, network-epochs trained), not finished cells, so that it
moves from the first planted instance on; its ETA is computed from those units and shown only once enough of the
work is done (:meth:`plantseek.run.work.WorkDone.eta_seconds`)."""

from __future__ import annotations

import sys
from typing import Any

LOG_INTERVAL = 10.0


def stderr_bar(total: int | None, unit: str, desc: str, **kwargs: Any):
    """A tqdm bar on stderr following the conventions above."""
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc=desc, file=sys.stderr, dynamic_ncols=True,
                mininterval=0.5 if sys.stderr.isatty() else LOG_INTERVAL, **kwargs)


class GridBar:
    """The bar of a grid run: ``on_work`` (for :func:`plantseek.run.grid.run_cells`) moves it, ``on_cell`` counts
    the cells stored."""

    FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} work units [{elapsed}{postfix}]"

    def __init__(self, desc: str, cells: int) -> None:
        self.cells, self.stored = cells, 0
        self.bar = stderr_bar(None, "unit", desc, bar_format=self.FORMAT)
        self.bar.set_postfix_str("starting the workers", refresh=True)
        self.work = None

    def on_work(self, work) -> None:
        from plantseek.run.work import duration_text

        self.work = work
        if self.bar.total != work.total:
            self.bar.total = work.total
        self.bar.set_postfix_str(f"instances planted {work.planted}/{work.groups}, cells {self.stored}/{self.cells}, "
                                 f"ETA {duration_text(work.eta_seconds())}", refresh=False)
        self.bar.update(work.done - self.bar.n)

    def on_cell(self) -> None:
        self.stored += 1
        if self.work is not None:
            self.on_work(self.work)

    def close(self) -> None:
        self.bar.close()

    def __enter__(self) -> "GridBar":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
