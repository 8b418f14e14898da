"""The prune worker process: ``python -m plantseek.run.isolation.prune_worker PARENT_PID REPLY_FD SANDBOX_JSON``, or
forked from the template process (:mod:`plantseek.run.isolation.prune_template`, which then calls :func:`restrict`
and :func:`serve`).

Started fresh by :mod:`plantseek.run.isolation.workers` (never forked from a process that holds an instance). It
restricts itself first, with one thread (:func:`restrict`, :mod:`plantseek.run.isolation.sandbox`: its folder and
limits come with its start), then reads the contract's arguments from its stdin
(:class:`plantseek.run.isolation.WorkerSetup`: the architecture and the host's initial weights, the training split,
the task's loss kind), says ``ready``, then answers requests one at a time:

* ``("load", refs)``: load the pruners; per pruner its protocol and methods, or the loading error;
* ``("one", ref, job)``, ``("batch", ref, jobs)``: prune (one density / all through ``prune_batch``);
* ``("joint", [(ref, jobs), ...])``: the multi-shot schedules of several registered pruners, trained jointly.

A job is (density, generator state, budget), and in a post-training cell its calibration set (x, y), which is then the
call's ``data`` (the setup then holds the trained weights and no training split); such a call may return a
:class:`plantseek.prune.posttraining.PostTrainingResult`, whose updated weights are validated here too and sent as
float64 bits. Every call gets a fresh host and fresh copies of the training data.
Each answer is one JSON object (length-prefixed) on ``REPLY_FD``; masks are validated here (for the message) and
sent as packed bits. The parent trusts nothing of it: it decodes strictly and validates again.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import struct
import sys
import time
from typing import Any

def read_message(stream) -> Any:
    header = stream.read(8)
    if len(header) < 8:
        return None
    (size,) = struct.unpack("<Q", header)
    return pickle.loads(stream.read(size))


def write_reply(fd: int, obj: Any) -> None:
    body = json.dumps(obj).encode()
    data = struct.pack("<Q", len(body)) + body
    while data:
        data = data[os.write(fd, data):]


def one_line(exc: BaseException) -> str:
    from plantseek.run.isolation.pruning import one_line as line

    return line(exc)


def is_out_of_memory(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, MemoryError) or (isinstance(exc, RuntimeError) and (
        "can't allocate memory" in text or "bad_alloc" in text or "not enough memory" in text))


def failure(exc: BaseException) -> dict[str, str]:
    return {"memory" if is_out_of_memory(exc) else "crash": one_line(exc)}


class Worker:
    """The worker's state: the contract's arguments and the loaded pruners."""

    def __init__(self, setup: Any) -> None:
        from plantseek.planted.task import Task

        class KindLoss(Task):  # the stock task loss for the kind, nothing else of a task
            name, in_features, out_features = "loss", 0, 0

        from plantseek.run.isolation.metering import install

        self.setup = setup
        install(type(setup.arch))  # count training and score passes (.metering) before any pruner loads
        self.loss_owner = KindLoss()
        self.loss_owner.kind = setup.kind
        self.pruners: dict[str, Any] = {}

    def host(self):
        import torch

        return self.setup.arch.build(self.setup.initial_state, torch.float32)

    def data(self, job: tuple = ()):
        """Fresh float32 copies of the training split, or of a post-training job's calibration set."""
        import torch

        from plantseek.planted.instance import PrunerData

        s = self.setup
        x, y = job[3] if len(job) > 3 else (s.x, s.y)
        y = y.clone() if s.kind == "classification" else y.to(torch.float32, copy=True)
        return PrunerData(x.to(torch.float32, copy=True), y, self.loss_owner.loss, s.kind)

    def load(self, refs: list[str]) -> dict[str, Any]:
        from plantseek.core.errors import PlantseekError
        from plantseek.prune.contract import get_pruner, protocol_of

        out = []
        for ref in refs:
            try:
                pruner = self.pruners[ref] = get_pruner(ref)
            except PlantseekError as exc:
                out.append({"error": str(exc)})
                continue
            methods = [m for m in ("prune_batch", "run_rounds") if callable(getattr(pruner, m, None))]
            out.append({"protocol": protocol_of(pruner), "methods": methods, "name": str(getattr(pruner, "name", ""))})
        os.chdir(self.setup.workdir)
        return {"pruners": out}

    def mask_entry(self, mask: Any, job: tuple, seconds: float) -> dict[str, Any]:
        """A returned mask checked exactly (the job's density and its budget's pruning scope), as packed bits; or
        why it is invalid. In a post-training job, the mask may come with updated weights (a PostTrainingResult),
        checked too and sent as float64 bits."""
        from plantseek.core.errors import PlantseekError
        from plantseek.nets.masks import pack_mask, validate_pruned_mask
        from plantseek.prune.posttraining import split_result, validate_weights
        from plantseek.train.config import biases_prunable

        density, _, budget = job[:3]
        mask, weights = split_result(mask) if len(job) > 3 else (mask, {})
        try:
            valid = validate_pruned_mask(mask, self.setup.arch, density, biases_prunable(budget))
            updated = validate_weights(weights, self.setup.arch.parameter_shapes())
        except PlantseekError as exc:
            return {"invalid": str(exc), "seconds": seconds}
        shapes = [[name, list(t.shape)] for name, t in valid.items()]
        entry = {"shapes": shapes, "bits": base64.b64encode(pack_mask(valid)).decode(), "seconds": seconds}
        if updated:
            entry["weights"] = [[name, list(t.shape), base64.b64encode(t.contiguous().numpy().tobytes()).decode()]
                                for name, t in updated.items()]
        return entry

    def one(self, ref: str, job: tuple) -> dict[str, Any]:
        from plantseek.run.isolation.metering import Spent, measuring

        density, state, budget = job[:3]
        t0 = time.perf_counter()
        try:
            with measuring(Spent()) as spent:
                mask = self.pruners[ref].prune(self.host(), self.data(job), density, generator=generator(state),
                                               budget=budget)
        except Exception as exc:  # noqa: BLE001 - the pruner's failure, reported
            return failure(exc)
        return {**self.mask_entry(mask, job, time.perf_counter() - t0), "spent": spent.share(1)}

    def batch(self, ref: str, jobs: list[tuple]) -> dict[str, Any]:
        from plantseek.run.isolation.metering import Spent, measuring

        t0 = time.perf_counter()
        try:
            with measuring(Spent()) as spent:
                masks = self.pruners[ref].prune_batch(self.host(), self.data(), [j[0] for j in jobs],
                                                      generators=[generator(j[1]) for j in jobs], budget=jobs[0][2])
            if not isinstance(masks, (list, tuple)) or len(masks) != len(jobs):
                return {"crash": f"pruner {ref!r}: prune_batch returned {type(masks).__name__}, "
                                 "not one mask per density"}
        except Exception as exc:  # noqa: BLE001
            return failure(exc)
        share, cost = (time.perf_counter() - t0) / len(jobs), spent.share(len(jobs))
        return {"results": [{**self.mask_entry(m, j, share), "spent": cost} for m, j in zip(masks, jobs)]}

    def joint(self, groups: list[tuple[str, list[tuple]]]) -> dict[str, Any]:
        from plantseek.prune.schedules import prune_jointly
        from plantseek.run.isolation.metering import Spent, metered_rounds

        n_jobs = sum(len(jobs) for _, jobs in groups)
        spent = [Spent() for _ in groups]  # each schedule's own
        try:
            data = self.data()
            schedules = [metered_rounds(self.pruners[ref].run_rounds(
                self.host(), data, [j[0] for j in jobs], generators=[generator(j[1]) for j in jobs],
                budget=jobs[0][2]), cost) for (ref, jobs), cost in zip(groups, spent)]
            t0 = time.perf_counter()
            outcomes = prune_jointly(schedules)
            share = (time.perf_counter() - t0) / n_jobs
        except Exception as exc:  # noqa: BLE001 - the parent retries pruner by pruner
            return {"joint_failed": one_line(exc)}
        out = []
        for (ref, jobs), outcome, cost in zip(groups, outcomes, spent):
            if isinstance(outcome, BaseException):
                out.append(failure(outcome))
            elif not isinstance(outcome, (list, tuple)) or len(outcome) != len(jobs):
                out.append({"crash": f"pruner {ref!r}: run_rounds returned {type(outcome).__name__}, "
                                     "not one mask per density"})
            else:
                out.append({"results": [{**self.mask_entry(m, j, share), "spent": cost.share(len(jobs))}
                                        for m, j in zip(outcome, jobs)]})
        return {"outcomes": out}


def generator(state):
    import torch

    g = torch.Generator()
    g.set_state(state)
    return g


SYSTEM_FOLDERS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sys/devices/system/cpu")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/localtime", "/proc/cpuinfo", "/proc/meminfo", "/proc/stat",
                "/proc/version", "/proc/filesystems", "/proc/sys/vm/overcommit_memory", "/dev/urandom", "/dev/random")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full")  # read and write
PLUGIN_GROUPS = ("plantseek.pruners", "plantseek.tasks", "plantseek.families")


def package_folders(name: str) -> set[str]:
    """The folders of an importable package or module, found without importing it (its parents are imported)."""
    import importlib.util
    from pathlib import Path

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return set()
    if spec is None:
        return set()
    if spec.submodule_search_locations:
        return set(spec.submodule_search_locations)
    return {str(Path(spec.origin).parent)} if spec.origin and spec.origin != "built-in" else set()


def readable_paths(files: tuple[str, ...]) -> list:
    """What the worker may read and execute: the Python installation and site-packages, the plant-seek packages and
    the installed plug-ins' packages (found without importing them), the referenced pruner files, the system
    libraries and executables, the CPU description in /sys, a few single files (the dynamic linker's cache, the
    local time zone, /proc's CPU and memory figures, the random devices) and its own /proc/<pid>. Nothing else of
    /etc, /dev, /proc, /sys, /tmp or /home."""
    import site
    from importlib.metadata import entry_points
    from pathlib import Path

    import plantseek

    folders = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(), site.getusersitepackages()}
    folders |= set(plantseek.__path__) | package_folders("plantseek.baselines") | package_folders("plantseek.tasks")
    for group in PLUGIN_GROUPS:
        for ep in entry_points(group=group):
            folders |= package_folders(ep.value.partition(":")[0].split(".")[0])
    folders |= {*SYSTEM_FOLDERS, *SYSTEM_FILES, f"/proc/{os.readlink('/proc/self')}"}  # its pid as /proc names it
    folders |= {str(Path(ref.partition(":")[0]).resolve()) for ref in files}
    return sorted(Path(f) for f in folders)


def restrict(spec: dict[str, Any]) -> str:
    """Limits, capabilities dropped, the file-system restriction and no new processes, applied while this process
    has one thread (Landlock and seccomp restrict the calling thread and what it starts later, not threads that
    already run); ``spec``: ``workdir``, ``files``, ``memory_bytes``, ``file_bytes``. A description for the
    provenance."""
    import tempfile

    from plantseek.run.isolation import sandbox

    if not sandbox.single_threaded():
        raise OSError("the prune worker has more than one thread before its restriction")
    workdir = str(spec["workdir"])
    namespaced = os.readlink("/proc/self") != str(os.getpid())  # /proc names it by its pid outside the namespace
    os.environ["TMPDIR"] = tempfile.tempdir = workdir  # temporary files in its own folder, the only one it may write
    parts = [sandbox.limit_resources(spec["memory_bytes"], int(spec["file_bytes"])),
             sandbox.drop_capabilities(),
             sandbox.restrict_files(readable_paths(tuple(spec["files"])), [workdir], DEVICES),
             sandbox.forbid_new_processes()]
    if namespaced:
        parts.append("PID namespace")
    return "; ".join(parts)


def serve(reply_fd: int, restricted: str) -> None:
    """Read the setup from stdin, say ``ready`` (with ``restricted``, what :func:`restrict` applied), answer requests
    until stdin ends."""
    setup = read_message(sys.stdin.buffer)
    if setup is None:
        return
    import torch

    from plantseek.prune.contract import PRUNERS

    PRUNERS.names()  # plug-in discovery (entry points, built-in baselines)
    torch.set_num_threads(setup.threads)
    worker = Worker(setup)
    write_reply(reply_fd, {"ready": restricted})
    while (request := read_message(sys.stdin.buffer)) is not None:
        kind, *args = request
        write_reply(reply_fd, getattr(worker, kind)(*args))


def main() -> None:
    from plantseek.run.isolation import sandbox

    parent, reply_fd, spec = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
    sandbox.die_with_parent(parent)
    serve(reply_fd, restrict(spec))  # restricted before torch (and numpy's BLAS threads) are imported


if __name__ == "__main__":
    main()
