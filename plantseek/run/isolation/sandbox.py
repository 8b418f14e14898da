"""The restrictions a prune worker puts on itself before it loads a pruner (Linux; through ``ctypes``).

* :func:`die_with_parent`: ``PR_SET_PDEATHSIG`` = SIGKILL, then a check that the parent is still the one that
  started it (the signal fires when the parent *thread* ends; a parent gone before the call is caught by the check);
* :func:`limit_resources`: ``RLIMIT_AS`` (the memory limit), ``RLIMIT_FSIZE`` (largest file written, so a pruner
  printing without end cannot fill the disk), ``RLIMIT_CORE`` = 0 (no core dumps);
* :func:`restrict_files`: Landlock (Linux >= 5.13): read and execute beneath the given folders only, read and
  write beneath the worker's temporary folder only; from ABI 4 no TCP bind/connect, from ABI 6 no signal to a
  process outside the sandbox (the harness) and no abstract unix socket outside it. Landlock also forbids
  ptrace of (and so reading ``/proc/<pid>/mem``, ``environ`` or ``fd/`` of) any process outside the sandbox;
* :func:`forbid_new_processes`: a seccomp filter refusing ``fork``, ``vfork`` and ``clone`` without
  ``CLONE_THREAD`` (threads stay allowed; ``clone3`` answers ENOSYS, so that glibc falls back to ``clone``):
  a pruner cannot start processes (no fork bomb, no escape from the process group). ``RLIMIT_NPROC`` would not
  do: it does not apply to root.

Each returns a short description of what it applied (for the cell's provenance), or says it was unavailable.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import signal
import struct
from pathlib import Path
from typing import Iterable

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_TRUNCATE, FS_IOCTL_DEV = 1 << 14, 1 << 15
FS_ALL_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1, 5: (1 << 16) - 1}
FILE_ONLY_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
READ_ONLY = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
NET_BIND_TCP, NET_CONNECT_TCP = 1, 2
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1, 2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def die_with_parent(expected_parent: int) -> None:
    """Be killed (SIGKILL) when the parent ends; exit at once if it already has."""
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != expected_parent:
        os._exit(0)


def limit_resources(memory_bytes: int | None, file_bytes: int) -> str:
    """Cap the address space (``memory_bytes``; None: no cap), the size of a written file and core dumps."""
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    memory = f"{memory_bytes / 2**30:.1f} GB" if memory_bytes else "unlimited"
    return f"address space {memory}, files {file_bytes / 2**30:.1f} GB"


def landlock_abi() -> int:
    """The kernel's Landlock ABI version (0: none)."""
    if platform.system() != "Linux":
        return 0
    version = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0),
                            ctypes.c_uint32(LANDLOCK_CREATE_RULESET_VERSION))
    return max(0, int(version))


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _add_path(ruleset: int, path: Path, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a folder that does not exist needs no rule
    try:
        if not path.is_dir():
            access &= FILE_ONLY_RIGHTS
        rule = _PathBeneath(access, fd)
        _check(_libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(rule), 0),
               f"landlock_add_rule({path})")
    finally:
        os.close(fd)


def restrict_files(read_only: Iterable[Path], read_write: Iterable[Path]) -> str:
    """Landlock: nothing but reading/executing beneath ``read_only`` and full access beneath ``read_write``."""
    abi = landlock_abi()
    if abi < 1:
        return "no file-system restriction (Landlock unavailable on this kernel)"
    fs_all = FS_ALL_BY_ABI.get(abi, FS_ALL_BY_ABI[5])
    fields = [fs_all]
    if abi >= 4:
        fields.append(NET_BIND_TCP | NET_CONNECT_TCP)
    if abi >= 6:
        fields.append(SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL)
    attr = ctypes.create_string_buffer(struct.pack(f"{len(fields)}Q", *fields))
    ruleset = _check(_libc.syscall(SYS_LANDLOCK_CREATE_RULESET, attr, ctypes.c_size_t(8 * len(fields)),
                                   ctypes.c_uint32(0)), "landlock_create_ruleset")
    try:
        for path in read_only:
            _add_path(ruleset, Path(path), READ_ONLY & fs_all)
        for path in read_write:
            _add_path(ruleset, Path(path), fs_all)
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
        _check(_libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    extra = (", no TCP" if abi >= 4 else "") + (", no signals out" if abi >= 6 else "")
    return f"Landlock ABI {abi} (files{extra})"


# --- seccomp: no new processes ------------------------------------------------------------------------------

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
SYS_CLONE, SYS_FORK, SYS_VFORK, SYS_CLONE3 = 56, 57, 58, 435
CLONE_THREAD = 0x10000
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
EPERM, ENOSYS = 1, 38
LD_W_ABS, JEQ_K, JGE_K, JSET_K, RET_K = 0x20, 0x15, 0x35, 0x45, 0x06


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


def _no_process_filter() -> list[tuple[int, int, int, int]]:
    """BPF (x86-64): refuse fork, vfork, clone3 (ENOSYS), clone without CLONE_THREAD and the x32 ABI."""
    allow, deny, nosys = 10, 11, 12  # indices of the return instructions
    prog = [
        (LD_W_ABS, 0, 0, 4),  # 0: arch
        (JEQ_K, 0, deny - 2, AUDIT_ARCH_X86_64),  # 1
        (LD_W_ABS, 0, 0, 0),  # 2: syscall number
        (JGE_K, deny - 4, 0, X32_SYSCALL_BIT),  # 3
        (JEQ_K, deny - 5, 0, SYS_FORK),  # 4
        (JEQ_K, deny - 6, 0, SYS_VFORK),  # 5
        (JEQ_K, nosys - 7, 0, SYS_CLONE3),  # 6
        (JEQ_K, 0, allow - 8, SYS_CLONE),  # 7
        (LD_W_ABS, 0, 0, 16),  # 8: clone flags (low 32 bits of the first argument)
        (JSET_K, allow - 10, deny - 10, CLONE_THREAD),  # 9
        (RET_K, 0, 0, RET_ALLOW),  # 10
        (RET_K, 0, 0, RET_ERRNO | EPERM),  # 11
        (RET_K, 0, 0, RET_ERRNO | ENOSYS),  # 12
    ]
    return prog


def forbid_new_processes() -> str:
    """Install the seccomp filter of :func:`_no_process_filter` (x86-64 Linux only)."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return "new processes not prevented (seccomp filter is for x86-64 Linux only)"
    prog = _no_process_filter()
    filters = (_SockFilter * len(prog))(*[_SockFilter(*ins) for ins in prog])
    fprog = _SockFprog(len(prog), ctypes.cast(filters, ctypes.POINTER(_SockFilter)))
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0), "seccomp")
    return "no new processes (seccomp)"
