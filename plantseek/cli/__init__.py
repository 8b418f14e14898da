"""Command-line interface: ``python -m plantseek COMMAND``. One module per command, registered in COMMANDS.

A command module defines ``HELP`` (one line), ``add_arguments(parser)``, ``check(args)`` and ``run(args) -> int``.
:func:`validate` parses and checks the arguments (every option, before any work: ``plantseek.cli.arguments``);
only then does ``run`` start. Options that override a configuration (``evaluate --epochs``, ...) are generated
from its dataclass's fields (``plantseek.cli.overrides``). Every :class:`plantseek.core.errors.PlantseekError`
becomes one line ``plantseek: error: ...`` and exit code 2, and so does a failed read or write (``OSError``: path
and reason).
"""

from __future__ import annotations

import argparse
import importlib
import sqlite3
import sys

from plantseek.core.errors import PlantseekError

from .config_file import CONFIGURABLE, add_config_option, with_config

COMMANDS = ["plant", "evaluate", "list", "leaderboard", "plot", "submit", "compare", "bench", "keygen", "verify",
            "reproduce", "optimum", "certify"]


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
        if name in CONFIGURABLE:
            add_config_option(p)
        p.set_defaults(_run=mod.run, _check=mod.check)
    return parser


def validate(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse and check ``argv`` without doing any work: the arguments, or ``SystemExit(2)`` (a malformed option,
    one line on stderr) or a :class:`PlantseekError` (a value the command cannot run with)."""
    parser = build_parser()
    argv = [*(sys.argv[1:] if argv is None else argv)]  # (not list(): the list command module shadows it here)
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help(sys.stderr)
        raise SystemExit(2)
    args = with_config(parser, argv, args)  # --config FILE.toml: its options first, the command line's win
    args._check(args)
    return args


def main(argv: list[str] | None = None) -> int:
    from plantseek.cli.arguments import os_error_line

    try:
        args = validate(argv)
        return int(args._run(args) or 0)
    except PlantseekError as exc:
        print(f"plantseek: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"plantseek: error: {os_error_line(exc)}", file=sys.stderr)
        return 2
    except sqlite3.Error as exc:
        print(f"plantseek: error: results store: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)  # one line, however often Ctrl-C is pressed while we exit
        print("plantseek: interrupted", file=sys.stderr)
        return 130
