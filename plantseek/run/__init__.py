"""Running grids (the harness), in three parts: the conductor (suites, grid expansion and execution, one cell
group's typed steps in group and their conductor for a bundle of groups in bundle, sanity ablations, recheck,
submissions), prune-worker isolation (:mod:`plantseek.run.isolation`: calling pruners safely in sandboxed
workers) and executors (:mod:`plantseek.run.executors`: where bundles run)."""
