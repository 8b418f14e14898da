"""Reproducing the paper: its stated findings as data, the grids they need, one decision rule, the report.

``python -m plantseek reproduce`` (``plantseek/cli/reproduce.py``) runs the grids of a :mod:`scale
<plantseek.repro.scales>` through the ordinary grid runner into an ordinary results store, then renders
``leaderboard/REPRODUCTION.md`` from the stored cells alone (:mod:`plantseek.repro.report`)."""
