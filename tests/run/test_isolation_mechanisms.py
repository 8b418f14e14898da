"""The isolation mechanisms one by one: the seccomp filter's decisions (against a second, independent reading of
the BPF program), the reaper (a registered process dies when the reaper's starter goes; an unregistered one
does not), capabilities dropped in a worker, and the one warning line where a mechanism is missing."""

import dataclasses
import os
import signal
import subprocess
import sys
import time

import pytest

from plantseek.planted.instance import plant
from plantseek.planted.task import DataConfig
from plantseek.run.isolation import mechanisms, reaper, sandbox
from plantseek.run.isolation.pruning import PruneContext

X86_64, I386 = 0xC000003E, 0x40000003
ALLOW, EPERM, ENOSYS = "allow", "EPERM", "ENOSYS"


def run_filter(arch: int, nr: int, arg0: int = 0) -> str:
    """Interpret the BPF program (classic BPF: LD|W|ABS, JMP|JEQ/JGE/JSET|K, RET|K) on a seccomp_data."""
    data = {0: nr, 4: arch, 16: arg0 & 0xFFFFFFFF}
    prog, pc, acc = sandbox._no_process_filter(), 0, 0
    while True:
        code, jt, jf, k = prog[pc]
        if code == 0x20:
            acc, pc = data[k], pc + 1
        elif code in (0x15, 0x35, 0x45):
            taken = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += 1 + (jt if taken else jf)
        elif code == 0x06:
            return {0x7FFF0000: ALLOW, 0x00050001: EPERM, 0x00050026: ENOSYS}[k]
        else:
            raise AssertionError(f"unknown instruction {code:#x}")


@pytest.mark.parametrize("nr, arg0, expected", [
    (0, 0, ALLOW),  # read
    (1, 0, ALLOW),  # write
    (9, 0, ALLOW),  # mmap
    (57, 0, EPERM),  # fork
    (58, 0, EPERM),  # vfork
    (56, 0x3D0F00, ALLOW),  # clone as pthread_create calls it (CLONE_THREAD among the flags)
    (56, 0x01200011, EPERM),  # clone as fork() calls it (SIGCHLD, no CLONE_THREAD)
    (56, 0x20000000, EPERM),  # clone into a new PID namespace
    (435, 0, ENOSYS),  # clone3: glibc falls back to clone
    (319, 0, EPERM),  # memfd_create
    (272, 0, EPERM),  # unshare
    (308, 0, EPERM),  # setns
    (59, 0, ALLOW),  # execve (the process stays one, restricted)
    (0x40000000 + 57, 0, EPERM),  # x32 ABI
])
def test_seccomp_filter_decisions(nr, arg0, expected):
    assert run_filter(X86_64, nr, arg0) == expected


def test_seccomp_filter_refuses_another_architecture():
    assert run_filter(I386, 3) == EPERM  # read on i386: the numbers differ, everything is refused


def sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


@pytest.mark.skipif(not reaper.available(), reason="no pidfds (Linux < 5.3)")
def test_the_reaper_kills_what_was_registered_when_its_starter_goes():
    registered, other = sleeper(), sleeper()
    try:
        r = reaper.start()
        r.register(registered.pid)
        r.close()  # what the kernel does to the socket when the starter ends, however it ends
        assert registered.wait(timeout=10) == -signal.SIGKILL
        time.sleep(0.2)
        assert other.poll() is None  # only the registered process
    finally:
        for p in (registered, other):
            p.kill()
            p.wait()


def test_a_worker_holds_no_capability(tmp_path, monkeypatch):
    (tmp_path / "caps.py").write_text('''
class Caps:
    def __init__(self):
        with open("/proc/self/status") as f:
            caps = dict(line.split(":") for line in f if line.startswith("Cap"))
        self.name = "-".join(caps[k].strip() for k in ("CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd"))

    def prune(self, model, data, density, *, generator, budget):
        raise RuntimeError("not called")
''')
    monkeypatch.chdir(tmp_path)
    ctx = PruneContext(plant("circle", depth=4, width=20, seed=0, data=DataConfig(n_samples=400)), 60.0)
    worker, [description] = ctx.worker(["caps.py:Caps"])
    with worker:
        values = [int(v, 16) for v in description["name"].split("-")]
    assert values[:4] == [0, 0, 0, 0]
    if os.geteuid() == 0:
        assert values[4] == 0 and "capabilities dropped" in worker.sandbox  # not even in the bounding set


@pytest.fixture
def fresh_warning(monkeypatch):
    monkeypatch.setenv(mechanisms.WARNED_ENV, "")  # restored (removed) after the test, whatever warn_once sets
    monkeypatch.delenv(mechanisms.WARNED_ENV)
    return monkeypatch


def test_one_warning_line_names_every_missing_mechanism(fresh_warning, capsys):
    weak = mechanisms.Mechanisms(landlock=0, seccomp=False, pidfd=False, pid_namespace=False, root=True)
    fresh_warning.setattr(mechanisms, "probe", lambda: weak)
    mechanisms.warn_once()
    mechanisms.warn_once()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("plantseek: warning: prune workers are less isolated")
    assert all(word in lines[0] for word in ("no Landlock", "no seccomp", "no pidfds"))
    assert os.environ[mechanisms.WARNED_ENV] == "1"  # the run's child processes inherit it and stay silent


def test_an_old_landlock_warns_only_without_a_pid_namespace(fresh_warning, capsys):
    old = mechanisms.Mechanisms(landlock=3, seccomp=True, pidfd=True, pid_namespace=True, root=True)
    assert old.missing() == []
    fresh_warning.setattr(mechanisms, "probe", lambda: dataclasses.replace(old, pid_namespace=False))
    mechanisms.warn_once()
    assert "Landlock ABI 3 < 6 and no PID namespace" in capsys.readouterr().err


def test_no_warning_where_nothing_is_missing(fresh_warning, capsys):
    full = mechanisms.Mechanisms(landlock=6, seccomp=True, pidfd=True, pid_namespace=False, root=False)
    fresh_warning.setattr(mechanisms, "probe", lambda: full)
    mechanisms.warn_once()
    assert capsys.readouterr().err == ""
