"""Writing files so that a reader never sees a partial one: write a temporary file beside the target, then
rename it into place (atomic on POSIX file systems)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Callable


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` to fill a temporary file beside ``path``, then rename it to ``path``; creates the
    parent folders. On failure the temporary file is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:  # named after the target, not the temporary file (a full disk, a read-only folder)
        if exc.errno is None:
            raise
        raise OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(path)) from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))


# --- output folders -----------------------------------------------------------------------------------------------
#: Written into every output folder plantseek makes (or first fills): a non-empty folder without it is someone else's.
MARKER = ".plantseek-output"
#: System trees: neither they nor anything inside them is an output folder.
SYSTEM_TREES = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/sbin", "/sys",
                "/usr")
#: System folders that may hold output folders, but are never one themselves.
SYSTEM_FOLDERS = ("/", "/home", "/media", "/mnt", "/opt", "/root", "/run", "/srv", "/tmp", "/var", "/var/tmp")


def output_folder_refusal(resolved: str, *, home: str, exists: bool, empty: bool, marked: bool,
                          default: bool = False) -> str:
    """Why the folder at ``resolved`` (an absolute path, symbolic links resolved) may not receive plantseek's
    output files, or ``""``. Pure: what the file system says is passed in (``exists``, ``empty``: it holds no
    entry, ``marked``: it holds :data:`MARKER`; ``default``: it is the command's own default folder)."""
    path = os.path.normpath(resolved)
    if path in SYSTEM_FOLDERS or path == os.path.normpath(home):
        return f"{path} is {'the home folder' if path != '/' and path == os.path.normpath(home) else 'a system folder'}"
    for tree in SYSTEM_TREES:
        if path == tree or path.startswith(tree + "/"):
            return f"{path} is {'a system folder' if path == tree else 'inside the system folder ' + tree}"
    if exists and not empty and not marked and not default:
        return (f"{path} holds files plantseek did not write (no {MARKER} in it); choose a new or empty folder")
    return ""


def _facts(folder: Path) -> dict[str, Any]:
    resolved = os.path.realpath(folder)
    try:
        names = os.listdir(resolved)
        exists = True
    except FileNotFoundError:
        names, exists = [], False
    except NotADirectoryError:  # a file: the caller's own checks name it
        names, exists = [], False
    return {"resolved": resolved, "exists": exists, "empty": not names, "marked": MARKER in names,
            "home": os.path.expanduser("~")}


def output_folder_problem(folder: str | Path, default: bool = False) -> str:
    """:func:`output_folder_refusal` of ``folder`` as the file system has it now."""
    return output_folder_refusal(default=default, **_facts(Path(folder)))


def file_folder_problem(target: str | Path) -> str:
    """Why a single output file may not be written at ``target``: it is ``/`` or its folder is ``/`` or inside a
    system tree (one file beside others elsewhere is fine)."""
    path = os.path.normpath(os.path.realpath(target))
    folder = os.path.dirname(path)
    if path == "/" or folder == "/":
        return f"{path} is {'a system folder' if path == '/' else 'in the system folder /'}"
    return next((f"{path} is inside the system folder {tree}" for tree in SYSTEM_TREES
                 if folder == tree or folder.startswith(tree + "/")), "")


def claim_output_folder(folder: str | Path) -> Path:
    """Create ``folder`` (and its parents) if missing and write :data:`MARKER` into it, so that later runs may
    write there again; returns it."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    marker = path / MARKER
    if not marker.exists():
        marker.write_text("plantseek writes here (leaderboard, plots, reports); files it wrote may be replaced\n",
                          encoding="utf-8")
    return path
