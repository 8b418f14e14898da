"""Where a command may write its output: the checks of ``--out`` beyond "can be written"
(:func:`plantseek.core.files.output_folder_refusal`: never ``/``, a system folder or the home folder itself, never a
non-empty folder that plantseek did not write), and the folder claimed (marked) before anything is written."""

from __future__ import annotations

from pathlib import Path

from plantseek.core.errors import ConfigError
from plantseek.core.files import claim_output_folder, file_folder_problem, output_folder_problem

from .arguments import output_file, output_folder


def checked_output_folder(option: str, target: str | Path, default: bool = False) -> Path:
    """``target`` may receive output files (``default``: it is the command's default folder, which may already hold
    files of an earlier plantseek); ConfigError naming ``option`` otherwise."""
    problem = output_folder_problem(target, default=default)
    if problem:
        raise ConfigError(f"{option} {target}: {problem}")
    return output_folder(option, target)


def checked_output_file(option: str, target: str | Path) -> Path:
    """``target`` may be written as one output file: not ``/``, not in a system folder, and writable."""
    problem = file_folder_problem(target)
    if problem:
        raise ConfigError(f"{option} {target}: {problem}")
    return output_file(option, target)


def claim(folder: str | Path) -> Path:
    """Create and mark the output folder (just before writing into it)."""
    return claim_output_folder(folder)
