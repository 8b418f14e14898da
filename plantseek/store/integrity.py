"""Tamper evidence and well-formedness of stored rows: the row digest, and the checks a row must pass to be shown.

**The digest.** Every row written by schema version 3 carries ``digest``: the HMAC-SHA256, keyed by the store's
secret (``meta`` key ``digest_key``, made when the store is created or upgraded), of a canonical serialisation of
the row's stored values (:data:`DIGESTED`: the configuration ``config_json``, the packed ``mask``, ``status``, every
float field, ``metrics_json``, ``compute_json`` and ``engine`` when not NULL, and every other column except
``attempts``, ``created_at``, ``family`` (it follows from ``task``; filled in when an older store is upgraded) and the
digest itself). The scorer's process computes it inside the write transaction, from the values as SQLite stores
them (read back), so that what is hashed is exactly what is later read.

What it protects against: edits of the file by anything that does not know the rule (a ``sqlite3`` session
changing a metric, swapping masks, a tool rewriting rows, a pruner writing its own rows without the key), and
accidental corruption that SQLite itself does not notice. What it does **not** protect against: whoever can
write the file can read the key from ``meta`` and recompute every digest. For that, ``plantseek verify``
recomputes the recovery metrics from the stored masks and re-planted instances (:mod:`plantseek.run.recheck`;
cells on hidden instances have no stored mask, :func:`plantseek.store.rows.stored_mask`).
A row without a digest (written before schema version 3) is *unverified*: shown, counted, never called verified.

**Well-formedness.** A row with text in a numeric column, JSON that is not an object, an unknown status or a mask
that is not bytes is *refused*: :func:`row_problem` names what is wrong in one line.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Mapping

from plantseek.records.cells import STATUSES
from plantseek.store.schema import FLOAT_FIELDS, NAMES

#: The columns a row's digest covers, in order.
DIGESTED = [n for n in NAMES if n not in ("attempts", "created_at", "digest", "family")]
#: Digested columns added after version 3: digested only when not NULL (so version-3 rows keep their digests).
NULLABLE_DIGESTED = ("compute_json", "engine")
_INTEGERS = ("depth", "width", "seed")
_JSON_OBJECTS = ("config_json", "metrics_json", "task_options", "provenance_json")
_TEXT = ("cell_id", "task", "family", "pruner", "ablation", "density_spec", "error", "protocol", "metric_name")


@dataclass(frozen=True)
class Refusal:
    """A stored cell the report does not show, and why (one line)."""

    cell_id: str
    task: str
    pruner: str
    density: str
    seed: Any
    reason: str

    @classmethod
    def of(cls, row: Mapping[str, Any], reason: str) -> "Refusal":
        return cls(cell_id=str(row.get("cell_id")), task=str(row.get("task")), pruner=str(row.get("pruner")),
                   density=str(row.get("density_spec")), seed=row.get("seed"), reason=reason)

    def line(self) -> str:
        return (f"refused cell {self.cell_id} (task {self.task}, pruner {self.pruner}, density {self.density}, "
                f"seed {self.seed}): {self.reason}")


def _canonical(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return ["blob", bytes(value).hex()]
    if isinstance(value, float):
        return ["real", value.hex()]
    if isinstance(value, bool) or not isinstance(value, (int, str)) and value is not None:
        return ["other", repr(value)]
    return value


def row_digest(key: str, row: Mapping[str, Any]) -> str:
    """The HMAC-SHA256 (hex) of the row's :data:`DIGESTED` values under the store's ``key``."""
    payload = json.dumps([[name, _canonical(row.get(name))] for name in DIGESTED
                          if name not in NULLABLE_DIGESTED or row.get(name) is not None], separators=(",", ":"))
    return hmac.new(key.encode(), payload.encode(), hashlib.sha256).hexdigest()


def chained_digest(key: str, row: Mapping[str, Any]) -> str:
    """The digest of a row written into a store with a ledger (:mod:`plantseek.store.ledger`): the HMAC of its
    :func:`row_digest` under a separate label, so that removing the ledger leaves rows that say they had one."""
    return hmac.new(key.encode(), b"ledger\0" + row_digest(key, row).encode(), hashlib.sha256).hexdigest()


def digest_form(key: str, row: Mapping[str, Any]) -> str:
    """``"plain"`` or ``"chained"``: which rule the row's (well-formed) digest matches; ``""`` when neither."""
    stored = str(row.get("digest"))  # digest_form is called on well-formed digests (text) only
    plain = row_digest(key, row)
    if hmac.compare_digest(stored, plain):
        return "plain"
    chained = hmac.new(key.encode(), b"ledger\0" + plain.encode(), hashlib.sha256).hexdigest()
    return "chained" if hmac.compare_digest(stored, chained) else ""


def digest_problem(key: str | None, row: Mapping[str, Any]) -> str:
    """``""`` when the row's digest matches (or it has none: unverified), else why it is refused."""
    stored = row.get("digest")
    if stored is None:
        return ""
    if not key:
        return "the store has no digest key, so its digests cannot be checked"
    if not isinstance(stored, str) or len(stored) != 64 or not all(c in "0123456789abcdef" for c in stored):
        return f"malformed digest ({_short(stored)}; a digest is 64 hexadecimal digits)"
    if not digest_form(key, row):
        return "digest mismatch (the row was changed after the scorer wrote it)"
    return ""


def row_problem(row: Mapping[str, Any]) -> str:
    """``""`` for a well-formed row, else one line saying which value is malformed."""
    if row.get("status") not in STATUSES:
        return f"unknown status {row.get('status')!r}"
    for name in _INTEGERS:
        if name in row and (isinstance(row[name], bool) or not isinstance(row[name], int)):
            return f"{name} is not an integer ({row[name]!r})"
    for name in FLOAT_FIELDS + ("noise",):
        v = row.get(name)
        if name in row and v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            if name != "noise" or not isinstance(v, str):  # noise may be a non-numeric option
                return f"{name} is not a number ({_short(v)})"
    for name in _TEXT:
        if name in row and not isinstance(row[name], str):
            return f"{name} is not text ({_short(row[name])})"
    engine = row.get("engine")
    if engine is not None and (isinstance(engine, bool) or not isinstance(engine, int) or engine < 1):
        return f"engine is not a version number ({_short(engine)})"
    for name in _JSON_OBJECTS + ("compute_json",):
        if name in row and (name != "compute_json" or row[name] is not None):
            problem = _json_object_problem(row[name])
            if problem:
                return f"{name} {problem}"
    mask = row.get("mask")
    if mask is not None and not isinstance(mask, (bytes, bytearray, memoryview)):
        return f"mask is not a blob ({type(mask).__name__})"
    return ""


def _json_object_problem(text: Any) -> str:
    if not isinstance(text, str):
        return f"is not JSON text ({_short(text)})"
    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"is corrupt JSON ({exc})"
    return "" if isinstance(value, dict) else f"is not a JSON object (a {type(value).__name__})"


def _short(v: Any) -> str:
    text = repr(bytes(v) if isinstance(v, memoryview) else v)
    return text if len(text) <= 40 else text[:37] + "..."
