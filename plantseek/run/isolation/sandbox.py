"""The restrictions a prune worker puts on itself before it loads a pruner (Linux; through ``ctypes``).

* :func:`die_with_parent`: ``PR_SET_PDEATHSIG`` = SIGKILL, then a check that the parent is still the one that
  started it (the signal fires when the parent *thread* ends; a parent gone before the call is caught by the check).
  Not what the run's lifetime rests on (a pruner can clear its own): :mod:`.reaper` and the PID namespace are;
* :func:`limit_resources`: ``RLIMIT_AS`` (the memory limit), ``RLIMIT_FSIZE`` (largest file written, so a pruner
  printing without end cannot fill the disk), ``RLIMIT_CORE`` = 0 (no core dumps);
* :func:`restrict_files`: Landlock (Linux >= 5.13): read and execute beneath the given folders and files only,
  read and write on the given devices only (``/dev/null``, ...: single files), everything but creating device
  nodes beneath the worker's temporary folder only; from ABI 4 no TCP bind/connect, from ABI 6 no signal to a
  process outside the sandbox (the harness, the reaper) and no abstract unix socket outside it. Landlock also
  forbids ptrace of (and so reading ``/proc/<pid>/mem``, ``environ`` or ``fd/`` of) any process outside the
  sandbox, and any mount. It restricts the calling *thread* (and the threads and processes it starts later), so
  it is applied while the worker has one thread (:func:`single_threaded`);
* :func:`drop_capabilities`: a worker of a harness run as root gives up every capability (bounding, effective,
  permitted, inheritable, ambient; ``SECBIT_NOROOT``), so that it cannot raise its limits back
  (``CAP_SYS_RESOURCE``), load a kernel module, make device nodes, open raw sockets, reboot, ...;
* :func:`forbid_new_processes`: a seccomp filter refusing ``fork``, ``vfork`` and ``clone`` without
  ``CLONE_THREAD`` (threads stay allowed; ``clone3`` answers ENOSYS, so that glibc falls back to ``clone``), and
  ``memfd_create``, ``unshare``, ``setns``: a pruner cannot start processes (no fork bomb, no escape from the
  process group), nor hold memory in anonymous files the address-space limit does not count. ``RLIMIT_NPROC``
  would not do: it does not apply to root;
* :func:`enter_pid_namespace`: ``unshare(CLONE_NEWPID)`` for the template process (root only), whose workers then
  live in a PID namespace that dies with its first process (:mod:`.reaper`).

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
PR_SET_SECCOMP = 22
PR_CAPBSET_DROP = 24
PR_SET_SECUREBITS = 28
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
SECCOMP_MODE_FILTER = 2
CAP_SETPCAP = 8
SECURE_BITS = 0xFF  # NOROOT, NO_SETUID_FIXUP, KEEP_CAPS, NO_CAP_AMBIENT_RAISE: set and locked (KEEP_CAPS off)
KEEP_CAPS = 1 << 4
CLONE_NEWPID = 0x20000000
SYS_LANDLOCK_CREATE_RULESET, SYS_LANDLOCK_ADD_RULE, SYS_LANDLOCK_RESTRICT_SELF = 444, 445, 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_MAKE_CHAR, FS_MAKE_BLOCK = 1 << 6, 1 << 11
FS_TRUNCATE, FS_IOCTL_DEV = 1 << 14, 1 << 15
FS_ALL_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1, 5: (1 << 16) - 1}
FILE_ONLY_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
READ_ONLY = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
DEVICE = FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE  # no ioctl
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
    """Be killed (SIGKILL) when the parent ends; exit at once if it already has (``expected_parent``: the parent's
    pid as this process sees it; 0 for a parent outside this process's PID namespace)."""
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != expected_parent:
        os._exit(0)


def single_threaded() -> bool:
    """Whether this process has one thread (Landlock and seccomp restrict the calling thread and its descendants)."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def limit_resources(memory_bytes: int | None, file_bytes: int) -> str:
    """Cap the address space (``memory_bytes``; None: no cap), the size of a written file and core dumps."""
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    memory = f"{memory_bytes / 2**30:.1f} GB" if memory_bytes else "unlimited"
    return f"address space {memory}, files {file_bytes / 2**30:.1f} GB"


# --- capabilities -------------------------------------------------------------------------------------------


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def capability_sets() -> dict[str, int]:
    """This process's capability sets (``CapInh``, ``CapPrm``, ``CapEff``, ``CapBnd``, ``CapAmb``) as numbers."""
    sets = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Cap"):
                name, _, value = line.partition(":")
                sets[name] = int(value, 16)
    return sets


def drop_capabilities() -> str:
    """Give up every capability, for good (a no-op for a process that holds none)."""
    if platform.system() != "Linux":
        return "capabilities kept (not Linux)"
    sets = capability_sets()
    if not any(sets.get(k) for k in ("CapInh", "CapPrm", "CapEff", "CapAmb")):
        return "no capabilities"
    if sets.get("CapEff", 0) >> CAP_SETPCAP & 1:
        _check(_libc.prctl(PR_SET_SECUREBITS, SECURE_BITS & ~KEEP_CAPS, 0, 0, 0), "prctl(PR_SET_SECUREBITS)")
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
        for cap in range(last + 1):
            _check(_libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"prctl(PR_CAPBSET_DROP, {cap})")
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)  # EINVAL before Linux 4.3: nothing to clear
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set
    _check(_libc.capset(ctypes.byref(header), ctypes.byref((_CapData * 2)())), "capset")
    left = capability_sets()
    if any(left.get(k) for k in ("CapInh", "CapPrm", "CapEff", "CapAmb")):
        raise OSError(f"capabilities left after dropping them: {left}")
    return "capabilities dropped"


# --- Landlock ------------------------------------------------------------------------------------------------


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
        return  # a path that does not exist needs no rule
    try:
        if not path.is_dir():
            access &= FILE_ONLY_RIGHTS
        rule = _PathBeneath(access, fd)
        _check(_libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH, ctypes.byref(rule), 0),
               f"landlock_add_rule({path})")
    finally:
        os.close(fd)


def restrict_files(read_only: Iterable[Path | str], read_write: Iterable[Path | str],
                   devices: Iterable[Path | str] = ()) -> str:
    """Landlock: nothing but reading/executing beneath ``read_only`` (folders or single files), reading and writing
    ``devices`` (single files), and everything but making device nodes beneath ``read_write``."""
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
        for path in devices:
            _add_path(ruleset, Path(path), DEVICE & fs_all)
        for path in read_write:
            _add_path(ruleset, Path(path), fs_all & ~(FS_MAKE_CHAR | FS_MAKE_BLOCK))
        _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
        _check(_libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    extra = (", no TCP" if abi >= 4 else "") + (", no signals out" if abi >= 6 else "")
    return f"Landlock ABI {abi} (files, devices{extra})"


# --- seccomp: no new processes ------------------------------------------------------------------------------

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
SYS_CLONE, SYS_FORK, SYS_VFORK, SYS_CLONE3 = 56, 57, 58, 435
SYS_UNSHARE, SYS_SETNS, SYS_MEMFD_CREATE = 272, 308, 319
REFUSED = (SYS_FORK, SYS_VFORK, SYS_UNSHARE, SYS_SETNS, SYS_MEMFD_CREATE)
CLONE_THREAD = 0x10000
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
EPERM, ENOSYS = 1, 38
LD_W_ABS, JEQ_K, JGE_K, JSET_K, RET_K = 0x20, 0x15, 0x35, 0x45, 0x06


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


def _no_process_filter() -> list[tuple[int, int, int, int]]:
    """BPF (x86-64): refuse the :data:`REFUSED` calls (EPERM), clone3 (ENOSYS), clone without CLONE_THREAD and the
    x32 ABI. Jump offsets count from the next instruction."""
    n = len(REFUSED)
    allow, deny, nosys = 8 + n, 9 + n, 10 + n  # indices of the return instructions
    prog = [(LD_W_ABS, 0, 0, 4),  # 0: arch
            (JEQ_K, 0, deny - 2, AUDIT_ARCH_X86_64),  # 1
            (LD_W_ABS, 0, 0, 0),  # 2: syscall number
            (JGE_K, deny - 4, 0, X32_SYSCALL_BIT)]  # 3
    prog += [(JEQ_K, deny - (i + 1), 0, nr) for i, nr in enumerate(REFUSED, start=4)]
    prog += [(JEQ_K, nosys - (5 + n), 0, SYS_CLONE3),  # 4 + n
             (JEQ_K, 0, allow - (6 + n), SYS_CLONE),  # 5 + n
             (LD_W_ABS, 0, 0, 16),  # 6 + n: clone flags (low 32 bits of the first argument)
             (JSET_K, allow - (8 + n), deny - (8 + n), CLONE_THREAD),  # 7 + n
             (RET_K, 0, 0, RET_ALLOW),
             (RET_K, 0, 0, RET_ERRNO | EPERM),
             (RET_K, 0, 0, RET_ERRNO | ENOSYS)]
    return prog


def forbid_new_processes() -> str:
    """Install the seccomp filter of :func:`_no_process_filter` (x86-64 Linux only)."""
    if not seccomp_available():
        return "new processes not prevented (seccomp filter is for x86-64 Linux only)"
    prog = _no_process_filter()
    filters = (_SockFilter * len(prog))(*[_SockFilter(*ins) for ins in prog])
    fprog = _SockFprog(len(prog), ctypes.cast(filters, ctypes.POINTER(_SockFilter)))
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0), "seccomp")
    return "no new processes, no memfd (seccomp)"


def seccomp_available() -> bool:
    return platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64")


# --- PID namespace ------------------------------------------------------------------------------------------


def enter_pid_namespace() -> bool:
    """``unshare(CLONE_NEWPID)``: this process's next child is the first process (pid 1) of a new PID namespace and
    its later children live in it; when that first process ends, the kernel kills every process of the namespace.
    False where it is not permitted (it needs ``CAP_SYS_ADMIN``) or not Linux."""
    if platform.system() != "Linux":
        return False
    return _libc.unshare(CLONE_NEWPID) == 0
