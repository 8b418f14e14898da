"""``--config run.toml``: a run configuration file for ``evaluate`` and ``submit``.

The file holds the command's own options, named as on the command line without the dashes (``max-batch`` or
``max_batch``)::

    suite = "paper-singleshot"
    tasks = ["circle", "relu"]      # a list is the comma-separated value
    seeds = "0-4"
    epochs = 5
    jobs = 2
    no-progress = true              # a flag: true sets it, false leaves it out

Its options are read as if typed right after the command name, so options given on the command line win. Each
value goes through the same parsing and checks as on the command line (one source of truth: the parser, whose
configuration options are generated from the dataclasses, :mod:`plantseek.cli.overrides`). An unknown option,
a table, or a file that is not TOML is one line naming the file.
"""

from __future__ import annotations

import argparse
import tomllib
from typing import Any

from plantseek.core.errors import ConfigError

CONFIGURABLE = ("evaluate", "submit")
MAX_CONFIG_BYTES = 1 << 20


def add_config_option(p: argparse.ArgumentParser) -> None:
    from .arguments import path

    p.add_argument("--config", type=path, default=None, metavar="FILE.toml",
                   help="read options from a TOML file (option names without dashes); command-line options win")


def _options(sub: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s[2:]: a for a in sub._actions for s in a.option_strings
            if s.startswith("--") and s not in ("--help", "--config")}


def config_tokens(path: str, sub: argparse.ArgumentParser) -> list[str]:
    """The command-line tokens that the options of the TOML file ``path`` stand for."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read it ({exc.strerror or exc})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"--config {path}: larger than {MAX_CONFIG_BYTES} bytes")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"--config {path}: not a valid TOML file ({' '.join(str(exc).split())})") from None
    options = _options(sub)
    tokens: list[str] = []
    for key, value in data.items():
        name = key.replace("_", "-")
        action = options.get(name)
        if action is None:
            known = ", ".join(sorted(options))
            raise ConfigError(f"--config {path}: unknown option {key!r} (known: {known})")
        tokens += _tokens(path, key, f"--{name}", action, value)
    return tokens


def _tokens(path: str, key: str, flag: str, action: argparse.Action, value: Any) -> list[str]:
    if isinstance(action, argparse._StoreTrueAction):
        if not isinstance(value, bool):
            raise ConfigError(f"--config {path}: {key} is a flag: true or false, got {value!r}")
        return [flag] if value else []
    if isinstance(value, bool) or isinstance(value, dict):
        raise ConfigError(f"--config {path}: {key} takes a value, not {type(value).__name__} {value!r}")
    if isinstance(value, list):
        if not value or any(isinstance(v, (list, dict, bool)) for v in value):
            raise ConfigError(f"--config {path}: {key} must be a non-empty list of names or numbers")
        return [flag, ",".join(str(v) for v in value)]
    return [flag, str(value)]


def with_config(parser: argparse.ArgumentParser, argv: list[str], args: argparse.Namespace) -> argparse.Namespace:
    """``args`` again, parsed with the ``--config`` file's options inserted right after the command name."""
    path = getattr(args, "config", None)
    if not path:
        return args
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub = subparsers.choices[args.command]
    at = argv.index(args.command) + 1
    return parser.parse_args([*argv[:at], *config_tokens(path, sub), *argv[at:]])
