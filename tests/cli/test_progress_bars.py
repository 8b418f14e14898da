"""The grid's progress bar on stderr (plantseek.cli.progress): it counts work units, shows the cells stored and
the instances planted, and shows no ETA before enough work is done."""

import re
import time

from plantseek.cli.progress import GridBar
from plantseek.run.work import WorkDone


def test_the_bar_moves_with_the_units_and_hides_an_early_eta(capsys):
    bar = GridBar("evaluate", cells=10)
    work = WorkDone(total=200, groups=2, prune_units=20, started=time.monotonic())
    work.tick("plant", 1)
    bar.on_work(work)
    assert bar.bar.n == 1 and bar.bar.total == 200
    assert "instances planted 1/2, cells 0/10, ETA ?" in bar.bar.postfix
    work.tick("prune", 2)  # two prune calls of 20 units each
    bar.on_work(work)
    bar.on_cell()
    assert bar.bar.n == 41 and "cells 1/10" in bar.bar.postfix
    work.started -= 60  # 41 of 200 units in a minute: 159 more take ~3m53s at that rate
    bar.on_work(work)
    assert re.search(r"ETA 3m5[3-6]s", bar.bar.postfix)  # 60 s x 159 / 41 = 233 s (and a few ms of this test)
    bar.close()
    err = capsys.readouterr().err
    assert "evaluate:" in err and "work units" in err and "starting the workers" in err
