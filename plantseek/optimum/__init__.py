"""Exhaustive search for the sparsest mask of a small MLP (Zhang & Papyan's second kind of ground truth).

:mod:`.enumeration` (pure: eligible masks with permutation symmetry broken), :mod:`.search` (phase 1 over width
triples, phase 2 over masks, trained in bundles by the batched engine, resumable in a sqlite file),
:mod:`.report` (the markdown report and :func:`~plantseek.optimum.report.best_known`). See docs/optimum.md.
"""
