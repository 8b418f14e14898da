"""Stage 5, store: the SQLite results store and load_results()."""
