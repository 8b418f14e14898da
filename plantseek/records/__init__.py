"""Cell records: what one cell of a grid is (its configuration) and what running it produced (its result), and a
pruner's compute as a result. Plain data shared by the runner, the store and the report."""
