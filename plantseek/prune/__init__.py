"""Stage 2, prune: masks and densities, the pruner contract and registry, shared scores and schedules."""
