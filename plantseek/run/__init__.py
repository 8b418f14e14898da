"""Running grids (the harness): cell records, suites, grid expansion and execution (grid), one instance's cells
as named steps (group: plant, prune, ablate, train, score, record), calling pruners safely (pruning), sanity
ablations, executors, time limits, submissions."""
