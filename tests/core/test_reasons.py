"""sanitise_reason: one printable line of limited length, no escape sequence, no control character."""

import re

from plantseek.core.reasons import MAX_REASON, sanitise_reason


def test_escape_sequences_go_and_the_text_stays():
    assert sanitise_reason("\x1b[2J\x1b[Hred\x1b[31m text\x1b[0m") == "red text"
    assert sanitise_reason("a\x1b]0;window title\x07b") == "ab"
    assert sanitise_reason("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b") == "alinkb"
    assert sanitise_reason("\x9b31mq\x1bc") == "q"


def test_control_and_format_characters_become_one_space_and_lines_one_line():
    assert sanitise_reason("one\ntwo\r\nthree\tfour\x00five\x08six\x7f") == "one two three four five six"
    assert sanitise_reason("bidi\u202eevil\u200b") == "bidi evil"
    assert sanitise_reason("  padded  ") == "padded"


def test_printable_text_is_unchanged():
    text = "pruner 'x' crashed: ValueError: bad density 0.5 (é, ü, →) at x.py:3"
    assert sanitise_reason(text) == text


def test_length_is_capped():
    assert len(sanitise_reason("x" * 10_000)) == MAX_REASON
    assert len(sanitise_reason("x" * 300, 200)) == 200 and sanitise_reason("x" * 300, 200).endswith("…")


def test_anything_goes_in_one_safe_line_comes_out():
    nasty = "".join(chr(i) for i in range(0, 0x300)) * 3 + "\udcff"
    out = sanitise_reason(nasty)
    assert "\n" not in out and len(out) <= MAX_REASON
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", out)
    assert sanitise_reason(ValueError("v\x1b[1m")) == "v"
