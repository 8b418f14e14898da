"""``python -m plantseek keygen``: write a random leaderboard key (for hidden instances) to a file, mode 0600."""

from __future__ import annotations

HELP = "write a random leaderboard key for hidden instances (default ~/.config/plantseek/leaderboard.key)"


def add_arguments(p) -> None:
    p.add_argument("--out", default=None, metavar="PATH",
                   help="key file to write (default: $PLANTSEEK_KEY_FILE, else ~/.config/plantseek/leaderboard.key)")
    p.add_argument("--force", action="store_true", help="replace an existing key file (its hidden instances are lost)")


def run(args) -> int:
    import os
    import sys

    from plantseek.planted.secrets import KEY_FILE_ENV, default_key_path, key_fingerprint, write_key

    path = args.out or os.environ.get(KEY_FILE_ENV) or default_key_path()
    key = write_key(path, overwrite=args.force)
    print(f"leaderboard key written to {path} (mode 0600), fingerprint {key_fingerprint(key)}")
    if args.out and not os.environ.get(KEY_FILE_ENV):
        print(f"use it with: export {KEY_FILE_ENV}={os.path.abspath(os.path.expanduser(str(path)))}", file=sys.stderr)
    return 0
