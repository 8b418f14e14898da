"""Statistics of stored results (torch-free): pure functions of :func:`plantseek.store.results.load_results` output.

:mod:`~plantseek.stats.intervals` (mean and bootstrap confidence interval over seeds), :mod:`~plantseek.stats.blocks`
(the paired instances x methods matrix a protocol's methods are compared on), :mod:`~plantseek.stats.paired`
(Wilcoxon signed-rank, Holm correction, rank-biserial effect size), :mod:`~plantseek.stats.ranks` (Friedman test,
Nemenyi critical difference, bootstrap rank stability), :mod:`~plantseek.stats.comparisons` (all of it per protocol).
"""
