"""What a submission is ranked among: its own store's cells and, on public instances, the committed leaderboard's
public cells, restricted to one suite version."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from plantseek.frame.leak import instance_columns
from plantseek.run.suite_version import in_suite
from plantseek.run.suites import Suite
from plantseek.store.results import load_results


def submission_frame(own: pd.DataFrame, committed: Path, hidden: bool,
                     suite: Suite | None = None) -> tuple[pd.DataFrame, int]:
    """The submission's store's cells and, for a public run, the public cells of the committed leaderboard store
    ``committed`` (read only; a cell in both counts once, the submitter's copy). With ``suite``, only the cells of
    that suite's current version (:func:`plantseek.run.suite_version.in_suite`): cells of another definition of the
    suite, or of another suite, are never ranked with the submission. Returns the frame and how many cells were
    left out for their suite."""
    if hidden or not committed.exists():
        frame = own
    else:
        theirs = load_results(committed)
        theirs = theirs[~theirs["cell_id"].isin(set(own["cell_id"]))]
        kinds, _ = instance_columns(theirs)
        public = [k == "public" for k in kinds]
        frame = pd.concat([own, theirs[public]], ignore_index=True)
    if suite is None:
        return frame, 0
    keep = in_suite(frame, suite)
    return frame[keep].reset_index(drop=True), int((~keep).sum())
