"""Prune workers forked from the template process: the worker is the template's child and the template ours; the
worker takes our current environment and folder, never the leaderboard key's variables; a dead template is
replaced; the exec start (PLANTSEEK_PRUNE_START=exec) gives the same answers."""

import os
import signal
import time

import pytest

from plantseek.planted.instance import plant
from plantseek.planted.task import DataConfig
from plantseek.run.isolation import template_client
from plantseek.run.isolation.pruning import PruneContext

PRUNER = '''
import os


class Environ:
    def __init__(self):
        key = "key" if {"PLANTSEEK_KEY", "PLANTSEEK_KEY_FILE"} & set(os.environ) else "nokey"
        self.name = f"{os.environ.get('TEMPLATE_TEST_VALUE', 'unset')}-{key}-{os.path.basename(os.getcwd())}"

    def prune(self, model, data, density, *, generator, budget):
        raise RuntimeError("not called")
'''


@pytest.fixture
def ctx():
    return PruneContext(plant("circle", depth=4, width=20, seed=0, data=DataConfig(n_samples=400)), 60.0)


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def declared(ctx, ref):
    """The worker's parent and the name the pruner declared there."""
    worker, [description] = ctx.worker([ref])
    with worker:
        return parent_of(worker.process.pid), description["name"]


def test_worker_is_the_templates_child_with_our_environment_but_no_key(ctx, tmp_path, monkeypatch):
    (tmp_path / "environ.py").write_text(PRUNER)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TEMPLATE_TEST_VALUE", "seen")
    monkeypatch.setenv("PLANTSEEK_KEY", "00" * 32)
    worker, [description] = ctx.worker(["environ.py:Environ"])
    with worker:
        template = template_client.template(60.0)
        assert parent_of(worker.process.pid) == template.process.pid
        assert parent_of(template.process.pid) == os.getpid()
        assert description["name"] == f"seen-nokey-{tmp_path.name}"
        with open(f"/proc/{template.process.pid}/environ", "rb") as f:
            assert b"PLANTSEEK_KEY" not in f.read()


def test_a_dead_template_is_replaced(ctx, tmp_path, monkeypatch):
    (tmp_path / "environ.py").write_text(PRUNER)
    monkeypatch.chdir(tmp_path)
    parent, name = declared(ctx, "environ.py:Environ")
    old = template_client.template(60.0)
    assert parent == old.process.pid
    os.kill(old.process.pid, signal.SIGKILL)
    old.process.wait()
    parent, again = declared(ctx, "environ.py:Environ")
    new = template_client.template(60.0)
    assert again == name and new is not old and parent == new.process.pid


def test_exec_start_gives_the_same_answers(ctx, tmp_path, monkeypatch):
    (tmp_path / "environ.py").write_text(PRUNER)
    monkeypatch.chdir(tmp_path)
    forked = declared(ctx, "environ.py:Environ")[1]
    monkeypatch.setenv("PLANTSEEK_PRUNE_START", "exec")
    parent, name = declared(ctx, "environ.py:Environ")
    assert name == forked and parent == os.getpid()


def test_the_template_preloads_what_training_workers_would_import_after_the_fork():
    """A fresh interpreter that runs the template's preload has torch's lazily imported optimiser stack loaded (so a
    forked worker does not pay it) and draws nothing from torch's global generator."""
    import subprocess
    import sys

    code = ("import sys, torch; s = torch.get_rng_state().clone(); "
            "from plantseek.run.isolation.prune_template import preload; preload(); "
            "print('torch._dynamo' in sys.modules, torch.equal(s, torch.get_rng_state()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["True", "True"], out.stderr[-2000:]


def state_of(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if parent_of(int(entry)) == pid:
                    found.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return found


def test_a_template_whose_reaper_is_gone_starts_no_worker_and_is_replaced(ctx):
    """The reaper is the template's child (and, as root, pid 1 of the workers' PID namespace); a template that lost
    it forks no unguarded worker: it exits, the start fails with one line, and the next start gets a new
    template."""
    from plantseek.run.isolation.workers import WorkerFailure

    worker, _ = ctx.worker(["magnitude"])
    old = template_client.template(60.0)
    with worker:
        assert parent_of(worker.process.pid) == old.process.pid
    reapers = [p for p in children_of(old.process.pid) if b"reaper" in open(f"/proc/{p}/cmdline", "rb").read()]
    assert len(reapers) == 1
    os.kill(reapers[0], signal.SIGKILL)
    while os.path.exists(f"/proc/{reapers[0]}") and state_of(reapers[0]) != "Z":
        time.sleep(0.01)  # ended (a zombie until the template reaps it)
    with pytest.raises(WorkerFailure, match="template process failed"):
        ctx.worker(["magnitude"])
    worker, [description] = ctx.worker(["magnitude"])
    with worker:
        assert description["name"] == "magnitude" and template_client.template(60.0) is not old
