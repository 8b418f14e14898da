"""``python -m plantseek keygen``: write a random leaderboard key (for hidden instances) to a file, mode 0600."""

from __future__ import annotations

HELP = "write a random leaderboard key for hidden instances (default ~/.config/plantseek/leaderboard.key)"


def add_arguments(p) -> None:
    from .arguments import path

    p.add_argument("--out", default=None, metavar="PATH", type=path,
                   help="key file to write (default: $PLANTSEEK_KEY_FILE, else ~/.config/plantseek/leaderboard.key)")
    p.add_argument("--force", action="store_true", help="replace an existing key file (its hidden instances are lost)")


def key_path(args):
    """Where the key goes: ``--out``, else ``$PLANTSEEK_KEY_FILE``, else the default key file."""
    import os

    from plantseek.planted.secrets import KEY_FILE_ENV, default_key_path

    return args.out or os.environ.get(KEY_FILE_ENV) or default_key_path()


def check(args) -> None:
    """The key file can be written, and an existing one is replaced only with ``--force``."""
    from pathlib import Path

    from plantseek.core.errors import ConfigError

    from .arguments import output_file

    path = output_file("--out", Path(key_path(args)).expanduser())
    if path.exists() and not args.force:
        raise ConfigError(f"{path} exists; not replacing a leaderboard key (pass --force to replace it)")


def run(args) -> int:
    import os
    import sys

    from plantseek.planted.secrets import KEY_FILE_ENV, key_fingerprint, write_key

    path = key_path(args)
    key = write_key(path, overwrite=args.force)
    print(f"leaderboard key written to {path} (mode 0600), fingerprint {key_fingerprint(key)}")
    if args.out and not os.environ.get(KEY_FILE_ENV):
        print(f"use it with: export {KEY_FILE_ENV}={os.path.abspath(os.path.expanduser(str(path)))}", file=sys.stderr)
    return 0
