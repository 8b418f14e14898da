"""Reads an instance file saved with `plant --out`, and the harness's environment through /proc."""
import os


class InstanceReader:
    name = "instance-reader"

    def prune(self, model, data, density, *, generator, budget):
        found = []
        for path in (os.environ["HOSTILE_INSTANCE"], f"/proc/{os.getppid()}/environ"):
            try:
                with open(path, "rb") as f:
                    found.append(len(f.read()))
            except OSError as exc:
                found.append(type(exc).__name__)
        raise RuntimeError(f"read: {found}")
