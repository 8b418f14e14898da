"""The Dask executor (plantseek.run.executors.dask): one-line errors for bad input; on a 2-worker LocalCluster, a
worker killed mid-run loses no result and duplicates none, its prune template dies with it, and tasks run with one
torch thread; the slow test runs a smoke-sized grid that way and finds exactly the stored cells of a local run."""

import os
import signal
import sys
import time
import uuid
from pathlib import Path

import pytest

from plantseek.cli import main
from plantseek.run.executors import dask as dask_executor
from plantseek.run.executors.dask import DaskExecutor
from plantseek.run.executors import make_executor
from survivors import no_survivors

distributed = pytest.importorskip("distributed")
ROOT = Path(__file__).resolve().parents[2]


def probe(item):
    """A task: start this worker's prune template (as a prune call does), take a moment, say where it ran."""
    import torch

    from plantseek.run.isolation.template_client import template

    tmpl = template(300.0)
    time.sleep(0.5)
    with open(f"/proc/{tmpl.process.pid}/environ", "rb") as f:
        template_environment = f.read().split(b"\0")
    return {"item": item, "pid": os.getpid(), "template": tmpl.process.pid, "threads": torch.get_num_threads(),
            "address": distributed.get_worker().address,
            "trim": os.environ.get("MALLOC_TRIM_THRESHOLD_"),
            "template_trim": [v for v in template_environment if v.startswith(b"MALLOC_TRIM_THRESHOLD_=")]}


def parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else int(fields[1])


def gone(pid: int, within: float = 15.0) -> bool:
    deadline = time.monotonic() + within
    while parent_of(pid) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    return parent_of(pid) is None


def cluster_survivors(marker: str) -> list[str]:
    """Live processes carrying ``marker``, but for this process's multiprocessing resource tracker (it lives as
    long as this process, which started it to start the cluster's worker processes)."""
    left = [open(f"/proc/{pid}/cmdline").read().replace("\0", " ") for pid in no_survivors(marker)]
    return [cmd for cmd in left if "multiprocessing.resource_tracker" not in cmd]


def kill_busy_worker(client, address: str, pid: int) -> None:
    """SIGKILL the worker process ``pid`` (at ``address``), checking that it holds a task at that moment."""
    assert client.processing([address])[address], "the worker to kill should hold a task"
    os.kill(pid, signal.SIGKILL)


def test_a_killed_worker_loses_no_result_and_its_template_dies_with_it(monkeypatch):
    import cloudpickle

    marker = f"PLANTSEEK_DASK_{uuid.uuid4().hex}"
    monkeypatch.setenv(marker, "1")  # inherited by the workers, their templates and prune workers
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    results, killed = [], {}
    # what Dask's nannies give worker processes (the reason for restore_allocator): present, or the check is moot
    import dask

    assert "MALLOC_TRIM_THRESHOLD_" in dask.config.get("distributed.nanny.pre-spawn-environ")
    try:
        for r in DaskExecutor(jobs=2).imap(probe, range(8)):
            results.append(r)
            assert r["threads"] == 1
            assert r["trim"] is None and r["template_trim"] == []  # undone in the worker, not inherited below
            assert parent_of(r["template"]) == r["pid"]  # the worker process started its own template
            if not killed:
                killed = r
                kill_busy_worker(distributed.Client.current(), r["address"], r["pid"])
                assert gone(r["template"]), "the killed worker's prune template outlived it"
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert sorted(r["item"] for r in results) == list(range(8))  # every item once, none twice
    assert any(r["pid"] != killed["pid"] for r in results)
    assert cluster_survivors(marker) == []  # the cluster closed: its workers and their templates are gone


def test_nothing_to_run_starts_no_cluster():
    assert list(DaskExecutor(jobs=2).imap(probe, [])) == []


def test_a_worker_with_more_than_one_thread_is_refused(monkeypatch):
    from types import SimpleNamespace

    from plantseek.core.errors import ConfigError

    worker = SimpleNamespace(address="tcp://10.0.0.7:4000", state=SimpleNamespace(nthreads=4))
    monkeypatch.setattr(distributed, "get_worker", lambda: worker)
    with pytest.raises(ConfigError, match=r"runs 4 threads; .*--nthreads 1"):
        dask_executor.call_in_worker(abs, -3)
    import torch

    threads = torch.get_num_threads()
    worker.state.nthreads = 1
    try:
        assert dask_executor.call_in_worker(lambda _: torch.get_num_threads(), None) == 1
    finally:
        torch.set_num_threads(threads)


PAGE_FAULTS = """
import resource, sys, torch
from plantseek.run.executors.dask import restore_allocator
applied = restore_allocator() if sys.argv[1] == "restore" else None
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
x = torch.ones(64, 1024)  # 256 KiB, over glibc's initial mmap threshold
for _ in range(200):
    x = x * 1.0  # a fresh 256 KiB buffer each time, the previous one freed
print(applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_restore_allocator_stops_the_page_faults_of_dasks_trim_threshold():
    import subprocess

    def faults(mode):
        env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536", "PYTHONPATH": str(ROOT)}
        out = subprocess.run([sys.executable, "-c", PAGE_FAULTS, mode], env=env, capture_output=True, text=True,
                             check=True).stdout.split()
        return out[0], int(out[1])

    (_, with_dask_setting), (applied, restored) = faults("keep"), faults("restore")
    assert applied == "True"
    # 200 buffers of 64 pages each: mmap'd and faulted anew every time with the trim threshold set, reused after
    assert with_dask_setting > 200 * 64 * 0.9
    assert restored < with_dask_setting / 10


def test_restore_allocator_is_a_no_op_without_the_variable(monkeypatch):
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    assert dask_executor.restore_allocator() is False


def cli_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()  # a status line may come first (the grid's size)
    assert err and err[-1].startswith("plantseek: error: ") and "Traceback" not in "\n".join(err), err
    return err[-1]


SMALL = ["evaluate", "--suite", "smoke", "--tasks", "circle", "--pruners", "random", "--densities", "0.1",
         "--no-store", "--no-progress"]


def test_scheduler_without_the_dask_executor_is_a_one_line_error(capsys):
    assert "only --executor dask" in cli_error(capsys, SMALL + ["--scheduler", "tcp://127.0.0.1:1"])
    assert "only --executor dask" in cli_error(capsys, SMALL + ["--executor", "processes",
                                                                "--scheduler", "tcp://127.0.0.1:1"])
    assert "not a scheduler address" in cli_error(capsys, SMALL + ["--executor", "dask", "--scheduler", "tcp://a b"])


def test_an_unreachable_scheduler_is_a_one_line_error(capsys, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(dask_executor, "CONNECT_SECONDS", 1.0)
    line = cli_error(capsys, SMALL + ["--executor", "dask", "--scheduler", f"tcp://127.0.0.1:{port}"])
    assert f"--scheduler tcp://127.0.0.1:{port}: cannot reach a Dask scheduler" in line


def test_dask_not_installed_is_a_one_line_error(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    assert "pip install 'plantseek[cluster]'" in cli_error(capsys, SMALL + ["--executor", "dask"])
    with pytest.raises(Exception, match="needs the 'distributed' package"):
        make_executor(2, "dask")


# --- the acceptance test: a grid, a worker killed mid-run, exactly the cells of a local run -----------

TIMING = ("prune_seconds", "train_seconds", "prune_parent_seconds", "created_at")


def stored(path):
    from plantseek.store.results import load_results

    df = load_results(path, include_masks=True)
    return df.drop(columns=list(TIMING)).sort_values("cell_id").reset_index(drop=True)


def kill_a_busy_worker(killed: list) -> None:
    """At the first result: SIGKILL the process of a worker that holds a task (it runs, or is about to run, a cell
    group); note the tasks it held."""
    if killed:
        return
    client = distributed.Client.current()
    address, held = next((a, tasks) for a, tasks in client.processing().items() if tasks)
    pid = client.run(os.getpid, workers=[address])[address]
    os.kill(pid, signal.SIGKILL)
    killed.append((pid, held))


@pytest.mark.slow
def test_a_grid_with_a_killed_worker_stores_exactly_the_cells_of_a_local_run(tmp_path):
    import torch

    from plantseek.run.grid import expand, run_cells
    from plantseek.run.suites import SUITES
    from plantseek.store.results import ResultStore

    cells = expand(SUITES.get("smoke").with_overrides(seeds=[0, 1, 2]))  # 6 groups of 4 cells
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the Dask workers
    try:
        with ResultStore(tmp_path / "local.db") as local:
            run_cells(cells, store=local, jobs=1, executor="local")
    finally:
        torch.set_num_threads(threads)
    killed: list = []
    with ResultStore(tmp_path / "dask.db") as store:
        results = run_cells(cells, store=store, jobs=2, executor="dask",
                            on_result=lambda c, r: kill_a_busy_worker(killed))
        assert killed and killed[0][1]  # a worker holding a cell group was killed: its groups ran elsewhere
        assert len(results) == len(cells)
        assert run_cells(cells, store=store, jobs=2, executor="dask") == []  # resumed: nothing left to run
    theirs, ours = stored(tmp_path / "local.db"), stored(tmp_path / "dask.db")
    assert len(ours) == len(cells) and set(ours.cell_id) == {c.cell_id for c in cells}
    assert (ours.attempts == 1).all()  # each cell stored once
    assert (ours.status == "ok").all()
    assert ours.equals(theirs), ours.compare(theirs)


@pytest.mark.slow
def test_kill_9_of_evaluate_on_a_local_cluster_leaves_no_process_and_loses_no_cell(tmp_path):
    """The client killed: its LocalCluster's workers (they watch their parent), their prune templates and prune
    workers (PR_SET_PDEATHSIG) all end; the resumed run stores every cell exactly once."""
    import subprocess

    from plantseek.run.grid import expand
    from plantseek.run.suites import SUITES
    from plantseek.store.results import ResultStore

    marker = f"PLANTSEEK_KILL_{uuid.uuid4().hex}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), marker: "1"}
    command = [sys.executable, "-m", "plantseek", "evaluate", "--suite", "smoke", "--seeds", "0-3", "--executor",
               "dask", "--jobs", "2", "--no-progress", "--store", str(tmp_path / "killed.db")]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(25.0)  # the workers, their templates and prune workers have started (on a loaded 2-core machine)
    proc.kill()
    proc.wait()
    assert no_survivors(marker) == []
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert no_survivors(marker) == []
    expected = {c.cell_id for c in expand(SUITES.get("smoke").with_overrides(seeds=[0, 1, 2, 3]))}
    with ResultStore(tmp_path / "killed.db") as s:
        assert s.finished_ids() == expected and len(s) == len(expected)
