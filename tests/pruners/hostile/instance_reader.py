"""Reads an instance file saved with `plant --out`, and the harness's environment through /proc (its parent's pid
as /proc names it: from /proc/self/stat, which holds it even where the parent lies outside the worker's PID
namespace and ``getppid()`` is 0)."""
import os


class InstanceReader:
    name = "instance-reader"

    def prune(self, model, data, density, *, generator, budget):
        with open("/proc/self/stat") as f:
            parent = int(f.read().rsplit(")", 1)[1].split()[1])
        found = []
        for path in (os.environ["HOSTILE_INSTANCE"], f"/proc/{parent}/environ"):
            try:
                with open(path, "rb") as f:
                    found.append(len(f.read()))
            except OSError as exc:
                found.append(type(exc).__name__)
        raise RuntimeError(f"read: {found}")
