"""Reading a store's rows for a report: each row checked (:mod:`plantseek.store.integrity`) before it is shown.

A row that is malformed or whose digest does not match is *refused*: left out of the frame, and listed with one
line naming the cell. The frame's ``verified`` column says which of the shown rows carry a matching digest (the
others were written before digests existed: *unverified*). Given the store's ledger (:mod:`plantseek.store.ledger`),
rows it does not vouch for are refused too, and what is wrong with the store as a whole (a deleted cell, a broken
seal) is listed in ``problems``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plantseek.core.errors import StoreError
from plantseek.store.frame import SOURCE_COLUMNS, build_frame
from plantseek.store.integrity import Refusal, digest_problem, row_problem
from plantseek.store.ledger import Ledger, copies, row_reason, store_problems
from plantseek.store.rows import holds_hidden_mask


@dataclass
class Checked:
    """The accepted cells as a DataFrame (:func:`plantseek.store.results.load_results`), and the refused ones."""

    frame: Any  # pandas.DataFrame
    refused: list[Refusal] = field(default_factory=list)
    path: Path | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)  # the accepted rows as stored (every column)
    problems: list[str] = field(default_factory=list)  # the store as a whole: deleted cells, a broken seal
    unchained: int = 0  # shown cells of a store without a ledger (written before it existed)

    @property
    def unverified(self) -> int:
        """How many shown cells carry no digest."""
        return int((~self.frame["verified"].astype(bool)).sum()) if len(self.frame) else 0

    @property
    def hidden_masks(self) -> int:
        """How many shown cells on hidden instances carry their mask (see :func:`holds_hidden_mask`)."""
        return sum(1 for r in self.rows if holds_hidden_mask(r))

    def raise_if_refused(self, path: Path | None = None) -> None:
        lines = [r.line() for r in self.refused] + self.problems
        if lines:
            more = f" (and {len(lines) - 1} more refused cell(s) or problem(s))" if len(lines) > 1 else ""
            raise StoreError(f"{path or self.path}: {lines[0]}{more}")


def check_rows(rows: list[dict[str, Any]], key: str | None, include_masks: bool, path: Path,
               ledger: Ledger | None = None) -> Checked:
    """Split ``rows`` (dicts of every current column, masks included) into accepted and refused; build the frame.
    With the store's ``ledger``, its entries and seal are checked too."""
    accepted, refused, kept = [], [], []
    n = copies(rows) if ledger is not None else {}
    for row in rows:
        problem = row_problem(row) or (digest_problem(key, row) if ledger is None
                                       else row_reason(key, ledger, row, n[str(row.get("cell_id"))]))
        if problem:
            refused.append(Refusal.of(row, problem))
            continue
        record = {c: row[c] for c in SOURCE_COLUMNS if c != "verified"}
        record["verified"] = row.get("digest") is not None
        if include_masks:
            record["mask"] = row["mask"]
        accepted.append(record)
        kept.append(row)
    frame = build_frame(accepted, include_masks, path)
    frame.attrs["refused"] = len(refused)
    problems = [] if ledger is None else store_problems(key, ledger, rows)
    unchained = len(kept) if ledger is not None and ledger.entries is None else 0
    return Checked(frame=frame, refused=refused, path=path, rows=kept, problems=problems, unchained=unchained)
