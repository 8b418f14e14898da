"""Raises an exception whose message is full of terminal escape codes and control characters, over lines."""


class EscapeCodes:
    name = "escape-codes"

    def prune(self, model, data, density, *, generator, budget):
        raise RuntimeError("\x1b[2J\x1b[H\x1b]0;owned\x07red\x1b[31m\nsecond\rline\x00\x08\x7f\u202eend")
