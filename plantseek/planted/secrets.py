"""Hidden instances: seeds derived from a secret key, so that nobody without the key can re-plant an instance.

The public ``plant(task, seed=...)`` derives its random streams from the seed alone (reproducible by anyone). A
*hidden* instance derives them from ``HMAC-SHA256(key, instance spec, stream)``: the same key and spec give a
bit-identical instance, and without the key its host, ticket placement and data cannot be reproduced (a search
over seeds finds nothing: the seed is only part of the message, the key is the secret).

Where the key comes from (the first that is set): the environment variable ``PLANTSEEK_KEY`` (the key itself,
hexadecimal), the file named by ``PLANTSEEK_KEY_FILE``, or ``~/.config/plantseek/leaderboard.key`` (written by
``python -m plantseek keygen``; mode 0600). Only the key's *fingerprint* (:func:`key_fingerprint`) is ever
stored or shown. This module is torch-free except :func:`secret_generator`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from plantseek.core.errors import ConfigError

KEY_ENV = "PLANTSEEK_KEY"
KEY_FILE_ENV = "PLANTSEEK_KEY_FILE"
KEY_BYTES = 32
_DOMAIN = b"plantseek-hidden-instance-v1"


def default_key_path() -> Path:
    """Where ``keygen`` writes the key and where it is looked for last (outside any repository)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "plantseek" / "leaderboard.key"


def parse_key(text: str, where: str) -> bytes:
    """The key bytes of a hexadecimal key text (at least 16 bytes), or a one-line ConfigError naming ``where``."""
    text = text.strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ConfigError(f"{where}: the leaderboard key must be hexadecimal (write one with "
                          "`python -m plantseek keygen`)") from None
    if len(key) < 16:
        raise ConfigError(f"{where}: the leaderboard key is too short ({len(key)} bytes; at least 16)")
    return key


def key_source() -> tuple[str, str | Path] | None:
    """``("env", text)`` or ``("file", path)`` of the configured key, or None when no key is configured."""
    if os.environ.get(KEY_ENV):
        return "env", os.environ[KEY_ENV]
    if os.environ.get(KEY_FILE_ENV):
        return "file", Path(os.environ[KEY_FILE_ENV]).expanduser()
    path = default_key_path()
    return ("file", path) if path.is_file() else None


def load_key() -> bytes:
    """The configured leaderboard key, or a one-line ConfigError saying how to configure one."""
    source = key_source()
    if source is None:
        raise ConfigError(f"hidden instances need a leaderboard key: none in ${KEY_ENV}, ${KEY_FILE_ENV} or "
                          f"{default_key_path()} (create one with `python -m plantseek keygen`)")
    kind, value = source
    if kind == "env":
        return parse_key(str(value), f"${KEY_ENV}")
    path = Path(value)
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the leaderboard key ({type(exc).__name__})") from None
    return parse_key(text, str(path))


def key_fingerprint(key: bytes) -> str:
    """What identifies a key in stored cells and on pages: the first 16 hex digits of its SHA-256 (never the key)."""
    return hashlib.sha256(key).hexdigest()[:16]


def new_key() -> bytes:
    """A fresh random key from the operating system's cryptographic source."""
    return secrets.token_bytes(KEY_BYTES)


def write_key(path: str | Path, key: bytes | None = None, *, overwrite: bool = False) -> bytes:
    """Write ``key`` (a new one by default) as hexadecimal to ``path`` with mode 0600; never replaces an existing
    file unless ``overwrite`` (a lost key makes its hidden instances unreproducible)."""
    path = Path(path).expanduser()
    key = new_key() if key is None else key
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} exists; not replacing a leaderboard key (pass --force to replace it)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        fd = os.open(path, flags, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(key.hex() + "\n")
        os.chmod(path, 0o600)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write the leaderboard key ({exc.strerror or type(exc).__name__})") from None
    return key


def secret_seed(key: bytes, spec_text: str, *streams: str | int) -> int:
    """A 63-bit seed for the stream ``streams`` of the instance whose canonical spec is ``spec_text``."""
    message = b"\0".join([_DOMAIN, spec_text.encode(), *(str(s).encode() for s in streams)])
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def secret_generator(key: bytes, spec_text: str, *streams: str | int):
    """A CPU ``torch.Generator`` seeded by :func:`secret_seed`."""
    import torch

    g = torch.Generator(device="cpu")
    g.manual_seed(secret_seed(key, spec_text, *streams))
    return g
