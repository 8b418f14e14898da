"""The SLURM executor (plantseek.run.executors.slurm) through submitit, tested with submitit's ``local`` cluster (each
array task a real subprocess of this machine) and its ``debug`` cluster (in this process): no SLURM cluster is
reachable here. One-line errors for bad input; a failing array task loses only its own items; a smoke grid run as
an array, one of its tasks killed, stores after a re-run exactly the cells of a local run, bit for bit, once each."""

import os
import sys
import time
from pathlib import Path

import pytest

from plantseek.cli import main
from plantseek.core.errors import ConfigError, PlantseekError
from plantseek.run.executors import make_executor
from plantseek.run.executors import slurm as slurm_executor
from plantseek.run.executors.slurm import SlurmExecutor, SlurmOptions, chunks

submitit = pytest.importorskip("submitit")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def job_environment(monkeypatch):
    """Array tasks of the local cluster import this checkout's plantseek and can unpickle this module's functions."""
    import cloudpickle

    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(":"))
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def square_or_die(x: int) -> tuple[int, int]:
    """A task's item: its square and the process that computed it; item 3 ends its process at once (a lost task)."""
    if x == 3:
        os._exit(9)
    return x * x, os.getpid()


def test_chunks_keep_every_item_once_in_order():
    items = list(range(11))
    for size in (1, 3, 11, 50):
        parts = chunks(items, size)
        assert [x for part in parts for x in part] == items
        assert all(len(p) == size for p in parts[:-1]) and 1 <= len(parts[-1]) <= size
    assert chunks([], 4) == []


def test_options_become_submitit_parameters():
    on_slurm = SlurmOptions(partition="gpu", time_min=30, cpus_per_task=4, mem_gb=8.0, parallelism=10)
    assert on_slurm.parameters() == {"name": "plantseek", "timeout_min": 30, "cpus_per_task": 4, "nodes": 1,
                                     "tasks_per_node": 1, "mem_gb": 8.0, "slurm_partition": "gpu",
                                     "slurm_array_parallelism": 10}
    local = SlurmOptions(cluster="local", partition="gpu", time_min=5)
    assert local.parameters() == {"name": "plantseek", "timeout_min": 5, "cpus_per_task": 1, "nodes": 1,
                                  "tasks_per_node": 1}  # the partition, memory and parallelism are SLURM's alone
    executor = submitit.AutoExecutor(folder="unused", cluster="debug")  # submitit takes them (no NameError)
    executor.update_parameters(**on_slurm.parameters())
    with pytest.raises(ConfigError, match="--slurm-cluster 'pbs'"):
        SlurmOptions(cluster="pbs")
    with pytest.raises(ConfigError, match="--slurm-chunk 0: must be at least 1"):
        SlurmOptions(chunk=0)


def test_the_debug_cluster_runs_every_item_once_in_chunks(tmp_path):
    options = SlurmOptions(cluster="debug", chunk=3, log_folder=str(tmp_path / "logs"))
    executor = make_executor(1, "slurm", None, options)
    assert isinstance(executor, SlurmExecutor)
    jobs = executor.submit(abs, [-1, -2, -3, -4, -5, -6, -7])
    assert len(jobs) == 3  # 7 items in chunks of 3
    assert sorted(executor.imap(abs, [-1, -2, -3, -4, -5, -6, -7])) == [1, 2, 3, 4, 5, 6, 7]
    assert list(executor.imap(abs, [])) == []


def quick_or_slow(x: int) -> int:
    """Item 0 at once; any other after a minute (a task still running when the parent stops)."""
    if x:
        time.sleep(60)
    return x


def test_stopping_the_parent_cancels_the_tasks_still_running(tmp_path, monkeypatch, job_environment):
    submitted = []
    submit = SlurmExecutor.submit
    monkeypatch.setattr(SlurmExecutor, "submit", lambda self, fn, items: submitted.extend(submit(self, fn, items))
                        or submitted)
    options = SlurmOptions(cluster="local", log_folder=str(tmp_path / "logs"), time_min=5)
    results = SlurmExecutor(slurm=options).imap(quick_or_slow, [0, 1])
    started = time.monotonic()
    assert next(results) == 0
    results.close()  # as a Ctrl-C or an error in the parent ends the loop that reads the results
    for job in submitted[1:]:  # the slow task was killed, not left to run its minute
        job._process.wait(timeout=30)
        assert not job.paths.result_pickle.exists()
    assert time.monotonic() - started < 45


def test_a_lost_array_task_loses_only_its_items(tmp_path, job_environment):
    executor = SlurmExecutor(slurm=SlurmOptions(cluster="local", chunk=2, log_folder=str(tmp_path / "logs"),
                                                time_min=2))
    got = []
    with pytest.raises(PlantseekError, match=r"^1 of 2 SLURM array tasks ended without results \(.*run the same "
                                              r"command again"):
        for value in executor.imap(square_or_die, [0, 1, 2, 3]):
            got.append(value)
    # tasks [0, 1] and [2, 3]: the second died with item 3, and took item 2 with it; the first ran apart
    assert sorted(v for v, _ in got) == [0, 1]
    assert os.getpid() not in {pid for _, pid in got}
    assert len({pid for _, pid in got}) == 1
    left = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert not [n for n in left if n.endswith("_result.pkl")]  # read results are not kept twice; logs are
    assert any(n.endswith("_log.err") for n in left)


def cli_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("plantseek: error: ") and "Traceback" not in "\n".join(err), err
    return err[-1]


SMALL = ["evaluate", "--suite", "smoke", "--tasks", "circle", "--pruners", "random", "--densities", "0.1",
         "--no-store", "--no-progress"]


def test_one_line_errors(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch
    line = cli_error(capsys, SMALL + ["--executor", "slurm"])
    assert "--executor slurm: no 'sbatch' on PATH" in line and "--slurm-cluster local or debug" in line
    assert "need --executor slurm" in cli_error(capsys, SMALL + ["--slurm-chunk", "2"])
    assert "need --executor slurm" in cli_error(capsys, SMALL + ["--executor", "dask", "--slurm-time", "5"])
    assert "need --executor slurm" in cli_error(capsys, SMALL + ["--jobs", "2", "--slurm-cluster", "local"])
    assert "only --executor dask" in cli_error(capsys, SMALL + ["--executor", "slurm", "--slurm-cluster", "debug",
                                                                "--scheduler", "tcp://127.0.0.1:1"])
    board = ["--executor", "slurm", "--slurm-cluster", "debug", "--slurm-log-folder", "leaderboard/logs"]
    monkeypatch.chdir(tmp_path)
    assert "inside the committed leaderboard/" in cli_error(capsys, SMALL + board)
    (tmp_path / "afile").write_text("x")
    assert "exists and is not a folder" in cli_error(capsys, SMALL + board[:-1] + ["afile"])
    with pytest.raises(SystemExit) as parsed:  # a value argparse rejects
        main(SMALL + ["--slurm-partition", "a b"])
    assert parsed.value.code == 2 and "not a partition name: 'a b'" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "submitit", None)  # import submitit -> ImportError
    assert "pip install 'plantseek[cluster]'" in cli_error(capsys, SMALL + ["--executor", "slurm"])


# --- the acceptance test: a grid as an array, a task killed, a re-run: exactly the cells of a local run ---

TIMING = ("prune_seconds", "train_seconds", "prune_parent_seconds", "created_at", "prune_cpu_seconds",
          "worker_prune_seconds")


def stored(path):
    from plantseek.store.results import load_results

    df = load_results(path, include_masks=True)
    return df.drop(columns=list(TIMING)).sort_values("cell_id").reset_index(drop=True)


def test_a_grid_as_an_array_with_a_killed_task_stores_exactly_the_cells_of_a_local_run(tmp_path, monkeypatch,
                                                                                       capsys, job_environment):
    import torch

    from plantseek.store.results import ResultStore

    grid = ["evaluate", "--suite", "smoke", "--no-progress"]  # 8 cells: 2 instances, one bundle each
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in the array tasks
    try:
        assert main(grid + ["--jobs", "1", "--store", str(tmp_path / "local.db")]) == 0
    finally:
        torch.set_num_threads(threads)

    killed = []
    submit = SlurmExecutor.submit

    def submit_and_kill_one(self, fn, items):
        jobs = submit(self, fn, items)
        if not killed:
            jobs[1].cancel()  # SIGINT to its controller, which kills the task: it is still importing torch
            killed.append(jobs[1].job_id)
        return jobs

    monkeypatch.setattr(SlurmExecutor, "submit", submit_and_kill_one)
    array = grid + ["--executor", "slurm", "--slurm-cluster", "local", "--slurm-chunk", "1", "--slurm-time", "3",
                    "--slurm-log-folder", str(tmp_path / "logs"), "--store", str(tmp_path / "slurm.db")]
    line = cli_error(capsys, array)  # 2 array tasks of one bundle each; the second killed
    assert line.startswith("plantseek: error: 1 of 2 SLURM array tasks ended without results")
    with ResultStore(tmp_path / "slurm.db") as store:
        assert len(store) == 4  # the first task's bundle
    assert main(array) == 0  # the re-run runs the killed task's cells only
    assert "8 cells (4 already in the store), 4 to run" in capsys.readouterr().err
    assert main(array) == 0
    assert "8 cells (8 already in the store), 0 to run" in capsys.readouterr().err
    theirs, ours = stored(tmp_path / "local.db"), stored(tmp_path / "slurm.db")
    assert len(ours) == 8 and (ours.attempts == 1).all() and (ours.status == "ok").all()  # each cell stored once
    assert ours.equals(theirs), ours.compare(theirs)


def test_slurm_executor_is_listed(monkeypatch):
    from plantseek.run.executors import EXECUTORS, check_executor

    assert "slurm" in EXECUTORS.names()
    monkeypatch.setattr(slurm_executor.shutil, "which", lambda name: "/usr/bin/" + name)  # a login node
    check_executor(1, "slurm", None, SlurmOptions())
