"""Full against incremental leaderboard regeneration on a real store (docs/leaderboard.md, "The index and the setting
pages"): a full run into an empty folder without one setting's last seed, then with it (only that setting is new),
then once more (nothing new). ``write_leaderboard`` alone is timed (loading the store is not).

    PLANTSEEK_PLUGINS=builtin python benchmarks/leaderboard_incremental.py leaderboard/plantseek.db /tmp/board-incr
"""

from __future__ import annotations

import shutil
import sys
import time

import plantseek
from plantseek.frame.prepared import prepare
from plantseek.report.leaderboard import write_leaderboard


def main(store: str, out: str, slug: str = "circle-d5-w100", seed: int = 9) -> None:
    shutil.rmtree(out, ignore_errors=True)
    df = plantseek.load_results(store)
    d = prepare(df)
    new = (d["_slug"].eq(slug) & d["seed"].eq(seed)).to_numpy()
    print(f"new cells: {int(new.sum())} ({slug}, seed {seed})")
    for label, frame in (("full (empty folder)", df[~new]), ("after new cells in one setting", df),
                         ("nothing new", df)):
        wall, cpu = time.time(), time.process_time()
        files = write_leaderboard(frame, out)
        print(f"{label}: {time.time() - wall:.1f} s wall, {time.process_time() - cpu:.1f} s CPU, "
              f"{len(files)} files written", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
