"""Hard-links the leaderboard key as ``output.txt`` in its folder, then exits 1."""
import os
from pathlib import Path


def key_paths() -> list[str]:
    home = os.environ.get("HOSTILE_CONFIG", "")  # where the test planted the key (a pruner may guess it)
    return [f"{home}/plantseek/leaderboard.key", str(Path.home() / ".config/plantseek/leaderboard.key")]


class OutputHardlink:
    name = "output-hardlink"

    def prune(self, model, data, density, *, generator, budget):
        for path in key_paths():
            try:
                os.link(path, "output.txt")
                break
            except OSError:
                pass
        print("hard link tried", flush=True)
        os._exit(1)
