"""Stage 6, report: leaderboard tables and pages, plots; reads stored results only."""
