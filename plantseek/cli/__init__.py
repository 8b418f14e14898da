"""Command-line interface: ``python -m plantseek COMMAND``. One module per command, registered in COMMANDS.

A command module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
Every :class:`plantseek.core.errors.PlantseekError` becomes one line ``plantseek: error: ...`` and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from plantseek.core.errors import PlantseekError

COMMANDS = ["plant", "evaluate", "list", "leaderboard", "plot", "submit", "bench", "keygen", "verify"]


def _module(name: str):
    return importlib.import_module(f"plantseek.cli.{name}")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        self.exit(2, f"plantseek: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m plantseek", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        try:
            mod = _module(name)
        except ModuleNotFoundError as exc:
            if exc.name == f"plantseek.cli.{name}":
                continue
            raise
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except PlantseekError as exc:
        print(f"plantseek: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("plantseek: interrupted", file=sys.stderr)
        return 130
