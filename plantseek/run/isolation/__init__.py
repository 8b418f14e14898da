"""Prune-worker isolation: every prune call runs in a fresh, restricted process that receives only the pruner
contract's arguments, and what comes back is validated exactly in the parent.

Parent side: :mod:`.pruning` (the prune step: one job per (pruner, density), calling pruners safely, masks
decoded and validated), :mod:`.workers` (start a worker, talk to it under a time limit, kill it),
:mod:`.template_client` (this process's template process, which forks the workers). Worker side:
:mod:`.prune_template` (the template process), :mod:`.prune_worker` (the worker's request loop), :mod:`.sandbox`
(rlimits, capabilities, Landlock, seccomp, PID namespace), :mod:`.metering` (what a prune call spends). Both:
:mod:`.reaper` (kills the workers when their starter ends), :mod:`.mechanisms` (what this machine offers: the
provenance text and the one warning where something is missing). Nothing here imports the conductor
(:mod:`plantseek.run`'s grid, group, bundle) or the executors."""
