"""Running grids: cell records, suites, the harness, executors, time limits, submissions."""
