"""Failure reasons as text that is safe to store and show: :func:`sanitise_reason`.

A failed cell's reason may carry text a pruner chose (an exception message, the last line its worker printed).
It is sanitised where a cell result is made (:class:`plantseek.records.cells.CellResult`) and again wherever it is
rendered (the command line, Markdown and HTML pages): one printable line of limited length, with no terminal
escape sequence and no control character.
"""

from __future__ import annotations

import re
import unicodedata

MAX_REASON = 500
#: ANSI/VT escape sequences: CSI (``ESC [ ... final``), OSC (``ESC ] ... BEL|ESC \``), other ``ESC x``, and the
#: 8-bit CSI/OSC introducers.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
                      r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC
                      r"|\x1b[ -/]*[0-~]?"  # other escapes (nF, Fp, Fe, Fs), a lone ESC
                      r"|[\x9b\x9d][0-?]*[ -/]*[@-~]?")  # 8-bit CSI and OSC


def sanitise_reason(text: object, limit: int = MAX_REASON) -> str:
    """``text`` as one printable line of at most ``limit`` characters: escape sequences removed, every other
    control, format, separator or unassigned character made a space, runs of white space made one."""
    s = _ESCAPES.sub("", str(text))
    s = "".join(c if c.isprintable() and unicodedata.category(c) not in ("Cf", "Co", "Cn") else " " for c in s)
    s = " ".join(s.split())
    return s if len(s) <= limit else s[:limit - 1] + "…"
